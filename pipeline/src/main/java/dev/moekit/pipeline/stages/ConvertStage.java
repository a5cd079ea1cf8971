package dev.moekit.pipeline.stages;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.pipeline.stage.CommitContext;
import dev.moekit.pipeline.stage.Layout;
import dev.moekit.pipeline.stage.Plan;
import dev.moekit.pipeline.stage.PlanInput;
import dev.moekit.pipeline.stage.StageContext;
import dev.moekit.pipeline.stage.StageType;
import dev.moekit.pipeline.stage.TensorUnits;
import dev.moekit.pipeline.stage.UnitContext;
import dev.moekit.pipeline.stage.WorkUnit;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.method.Doc;
import dev.moekit.toolkit.method.Params;
import dev.moekit.toolkit.model.TensorFacts;
import dev.moekit.toolkit.transform.Convert;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Recipe stage {@code convert}: change the floating dtype and/or the shard size (see {@link Convert}). Its work splits
 * into one unit per group of decoder layers plus one for the rest, so batch jobs convert in parallel; the output is
 * assembled in one pass and has the same bytes however many workers ran.
 */
public final class ConvertStage implements StageType<ConvertStage.Parameters> {
    /**
     * @param dtype          target floating dtype: bf16, fp16, fp32, or null to keep
     * @param maxShardBytes  largest output shard in bytes (default 5e9)
     * @param threads        conversion threads per unit (default: available cores)
     * @param layersPerUnit  decoder layers per work unit (default 8)
     */
    public record Parameters(@Doc("target floating dtype: bf16, fp16 or fp32 (default: keep)") String dtype,
                             @Doc("largest output shard in bytes") Long maxShardBytes,
                             @Doc("conversion threads per unit (default: available cores; does not change the output)") Integer threads,
                             @Doc("decoder layers per work unit (batch jobs)") Integer layersPerUnit) {
        public Parameters {
            if (dtype != null) {
                DType.parseUser(dtype);
            }
            maxShardBytes = maxShardBytes == null ? CheckpointWriter.DEFAULT_MAX_SHARD : maxShardBytes;
            layersPerUnit = layersPerUnit == null ? 8 : layersPerUnit;
            if (threads != null && (threads < 1 || threads > 4096)) {
                throw new IllegalArgumentException("threads must be in 1..4096, got " + threads);
            }
            if (maxShardBytes < 1) {
                throw new IllegalArgumentException("max_shard_bytes must be positive, got " + maxShardBytes);
            }
            if (layersPerUnit < 1) {
                throw new IllegalArgumentException("layers_per_unit must be at least 1, got " + layersPerUnit);
            }
        }

        DType target() {
            return dtype == null ? null : DType.parseUser(dtype);
        }
    }

    @Override
    public String name() {
        return "convert";
    }

    @Override
    public String summary() {
        return "change the floating dtype and/or the shard size";
    }

    @Override
    public String reference() {
        return "";
    }

    @Override
    public Class<Parameters> parameters() {
        return Parameters.class;
    }

    @Override
    public Calibration calibration() {
        return Calibration.NONE;
    }

    @Override
    public Parameters bind(JsonNode params) {
        return Params.bind(name(), params, Parameters.class);
    }

    private static Layout output(Parameters p, Layout l) {
        DType dt = p.target();
        if (dt == null) {
            return l;
        }
        List<TensorSpec> ts = l.tensors().stream().map(t -> new TensorSpec(t.name(), target(t.dtype(), dt), t.shape())).toList();
        ObjectNode cfg = l.config().deepCopy();
        Convert.setDtype(cfg, dt);
        return new Layout(cfg, ts, new TensorFacts(l.facts().fused(), l.facts().present(), dt), l.exact());
    }

    private static DType target(DType from, DType wanted) {
        return wanted == null || !from.isFloating() || from == DType.F8_E4M3 || from == DType.F8_E5M2 ? from : wanted;
    }

    @Override
    public Plan plan(Parameters p, PlanInput in, StageContext ctx) {
        Layout out = output(p, in.layout());
        List<WorkUnit> units = TensorUnits.units(TensorUnits.group(out.tensors(), p.layersPerUnit()), 1);
        ObjectNode d = Json.PRETTY.createObjectNode();
        if (p.target() != null) {
            d.put("dtype", p.target().toString());
        }
        return new Plan(name(), out, in.layout().bytes(), false, units, List.of(), d);
    }

    @Override
    public JsonNode execute(Parameters p, Plan plan, WorkUnit unit, UnitContext ctx) {
        List<TensorSpec> mine = TensorUnits.group(plan.output().tensors(), p.layersPerUnit()).get(unit.id());
        int threads = p.threads() == null ? Runtime.getRuntime().availableProcessors() : p.threads();
        try (Checkpoint in = Checkpoint.open(ctx.input()); CheckpointWriter w = TensorUnits.unitWriter(ctx.dir(), mine)) {
            Convert.writeAll(in, w, mine, threads);
            w.commit(null);
        }
        return Json.PRETTY.createObjectNode().put("tensors", mine.size());
    }

    @Override
    public JsonNode commit(Parameters p, Plan plan, Map<String, UnitResult> units, CommitContext ctx) {
        try (Checkpoint in = Checkpoint.open(ctx.input())) {
            TensorUnits.assemble(plan.output().tensors(), units, ctx.output(), in, plan.output().config(),
                    CheckpointWriter.Options.defaults().withMaxShardSize(p.maxShardBytes()));
        }
        long bytes = plan.output().bytes();
        int converted = (int) plan.output().tensors().stream().filter(t -> p.target() != null && t.dtype() == p.target()).count();
        ObjectNode rep = Json.PRETTY.createObjectNode();
        rep.put("tensors", plan.output().tensors().size());
        rep.put("bytes_out", bytes);
        rep.put("summary", String.format(Locale.ROOT, "%d tensors%s, %.1f MB", plan.output().tensors().size(),
                p.target() == null ? "" : " (" + converted + " in " + p.target() + ")", bytes / 1e6));
        return rep;
    }

}
