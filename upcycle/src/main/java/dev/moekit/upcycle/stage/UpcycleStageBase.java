package dev.moekit.upcycle.stage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.pipeline.stage.Layout;
import dev.moekit.pipeline.stage.PlanInput;
import dev.moekit.pipeline.stage.SingleUnitStage;
import dev.moekit.pipeline.stage.StageContext;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.FileTrees;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.TensorFacts;
import dev.moekit.toolkit.model.TensorLayout;
import dev.moekit.upcycle.Assembly;
import dev.moekit.upcycle.Training;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What the upcycling stages share: planning the MoE layout from the dense seed's (every check before any weight is
 * read), assembling it ({@link Assembly}) and, with a token budget, training it ({@link Training}) from the unit's
 * folder into the output.
 */
abstract class UpcycleStageBase<P extends Record> extends SingleUnitStage<P> {
    UpcycleStageBase(String name, String summary, String reference, Class<P> type) {
        super(name, summary, reference, type, Calibration.DEPENDS);
    }

    protected abstract Training training(P p);

    protected abstract Assembly.Spec assembly(P p, Path input, List<Path> extra, StageContext ctx);

    @Override
    public boolean needsCalibration(P p) {
        return training(p).trains();
    }

    static Training trainingOf(long tokens, String train, int batch, int accumulation, Integer window, int windowsPerFile,
                             double lr, int warmup, double weightDecay, double balance, double zLoss, String precision,
                             String stateDir) {
        return new Training(tokens, train, batch, accumulation, window, windowsPerFile, lr, warmup, weightDecay, balance,
                zLoss, precision, stateDir);
    }

    /** The planned MoE of {@code experts} experts from the seed {@code in}, compatible {@code extra} inputs checked. */
    Planned planMoe(PlanInput in, int experts, int topK, Assembly.Layers layers, Training t, StageContext ctx, ObjectNode d,
                    List<String> notes) {
        return planMoe(in, experts, topK, layers, null, t, ctx, d, notes);
    }

    /** As above; with {@code bam}, the moekit_bam layout (attention experts, own modeling code). */
    Planned planMoe(PlanInput in, int experts, int topK, Assembly.Layers layers, Assembly.Bam bam, Training t, StageContext ctx,
                    ObjectNode d, List<String> notes) {
        ModelSpec dense = in.layout().spec();
        Assembly.checkSeed(dense, in.real() ? in.path() : "the previous stage's output");
        if (topK > experts) {
            throw new IllegalArgumentException("top_k " + topK + " exceeds the " + experts + " experts");
        }
        if (in.real()) {
            try (Checkpoint seed = Checkpoint.open(in.path())) {
                for (Path p : in.extra()) {
                    try (Checkpoint o = Checkpoint.open(p)) {
                        Assembly.checkCompatible(seed, o);
                    }
                }
            }
        }
        ObjectNode config = Assembly.config(dense, experts, topK, layers, bam);
        TensorFacts facts = Assembly.facts(dense, layers, bam);
        List<TensorLayout.Planned> tensors = Assembly.tensors(config, facts);
        Layout out = new Layout(config, tensors.stream().map(TensorLayout.Planned::tensor).toList(), facts, true);
        ModelSpec moe = out.spec();
        long[] params = Assembly.parameters(moe);
        d.put("format", moe.family().name());
        d.put("experts", experts);
        d.put("top_k", topK);
        d.put("moe_layers", (int) moe.layerSpecs().stream().filter(l -> l.moe()).count());
        d.put("parameters_total", params[0]);
        d.put("parameters_active", params[1]);
        t.describe(d, ctx);
        List<String> n = new ArrayList<>(notes);
        if (t.trains() && t.stateDir() == null) {
            n.add("no state_dir: an interrupted run starts training again from step 0");
        }
        return new Planned(out, t.trains(), n, d);
    }

    /** Assembles into {@code output}, or into the unit folder and trains from there into {@code output}. */
    JsonNode assembleAndTrain(P p, Path input, List<Path> extra, Path output, StageContext ctx) {
        Assembly.Spec spec = assembly(p, input, extra, ctx);
        Training t = training(p);
        ObjectNode rep = Json.PRETTY.createObjectNode();
        if (!t.trains()) {
            Assembly.write(input, spec, output);
            ctx.info(name() + ": assembled " + spec.experts().size() + " experts, top-" + spec.topK() + " (not trained)");
            return rep.put("trained", false);
        }
        Path assembled = output.resolveSibling("assembled");
        try {
            Assembly.write(input, spec, assembled);
            ctx.info(name() + ": assembled " + spec.experts().size() + " experts, top-" + spec.topK() + "; training");
            rep.put("trained", true);
            rep.set("training", t.run(assembled, output, ctx, List.of(), dev.moekit.eval.runtime.ForwardExtension.NONE));
            return rep;
        } finally {
            try {
                if (Files.exists(assembled)) {
                    FileTrees.delete(assembled);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(assembled + ": cannot remove the untrained assembly", e);
            }
        }
    }
}
