package dev.moekit.quantize;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.linalg.Linalg;
import dev.moekit.toolkit.model.ModelSpec;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One quantization output in progress: the plan is fixed and the writer open; modules are quantized and written in
 * any order ({@link #quantize}), then {@link #finish} quantizes what is left with the method's data-free path (RTN, or
 * GPTQ's fallback), copies every other tensor, writes the configs, and commits. Closing an unfinished session discards
 * the partial output.
 */
public final class QuantSession implements AutoCloseable {
    private final Checkpoint in;
    private final QuantOptions opts;
    private final Linalg linalg;
    private final OutputPlan plan;
    private final Map<LinearModule, QuantScheme> schemes;
    private final CheckpointWriter writer;
    private final Map<LinearModule, QuantReport.ModuleReport> reports = new HashMap<>();
    private final Map<String, float[]> fusedBuffers = new HashMap<>();
    private float[] lastValues; // the dequantized values of the module being written
    private final java.util.function.Predicate<String> mine; // a work unit's tensors (by name), or everything

    private QuantSession(Checkpoint in, Path out, QuantOptions opts, Optional<ExpertUsage> usage, Optional<Sensitivity> sensitivity, Linalg linalg) {
        this(in, opts, usage, sensitivity, linalg, null, tensors -> CheckpointWriter.create(out, tensors, opts.writer(), in.dir()));
    }

    private QuantSession(Checkpoint in, QuantOptions opts, Optional<ExpertUsage> usage, Optional<Sensitivity> sensitivity, Linalg linalg,
                         java.util.function.Predicate<String> mine, java.util.function.Function<List<TensorSpec>, CheckpointWriter> writerFor) {
        this.mine = mine == null ? n -> true : mine;
        this.in = in;
        this.opts = opts;
        this.linalg = linalg;
        ModelSpec spec = ModelSpec.of(in);
        ModuleCatalog catalog = ModuleCatalog.of(in, spec);
        Map<LinearModule, QuantScheme> all = Quantizer.planFor(spec, catalog, opts, usage, sensitivity, m -> Weights.read(in, m));
        opts.method().check(opts.scheme());
        all.values().stream().distinct().forEach(s -> opts.method().check(s));
        this.plan = new OutputPlan(in.dir().toString(), spec, catalog, opts, all);
        this.schemes = new java.util.LinkedHashMap<>(all);
        this.writer = writerFor.apply(plan.tensors(in.names().stream().map(n -> TensorSpec.of(in.info(n))).toList()).stream()
                .filter(t -> this.mine.test(t.name())).toList());
        schemes.keySet().removeIf(m -> !this.mine.test(m.tensor()));
    }

    /**
     * A session for one batch work unit: the plan is the whole checkpoint's, but only the modules and tensors whose
     * names {@code mine} accepts are quantized or copied, into the writer {@code writerFor} makes for their output
     * tensors; {@link #finishUnit} commits it. The stage assembles the units' tensors and writes the configs.
     */
    public static QuantSession openUnit(Checkpoint in, QuantOptions opts, Linalg linalg, java.util.function.Predicate<String> mine,
                                        java.util.function.Function<List<TensorSpec>, CheckpointWriter> writerFor) {
        return new QuantSession(in, opts, Optional.empty(), Optional.empty(), linalg, mine, writerFor);
    }

    /** Plans {@code in}'s quantization and opens the output {@code out}. */
    public static QuantSession open(Checkpoint in, Path out, QuantOptions opts, Optional<ExpertUsage> usage, Linalg linalg) {
        return new QuantSession(in, out, opts, usage, Optional.empty(), linalg);
    }

    /** As {@link #open(Checkpoint, Path, QuantOptions, Optional, Linalg)}, bits planned from a measured sensitivity. */
    public static QuantSession open(Checkpoint in, Path out, QuantOptions opts, Optional<ExpertUsage> usage, Optional<Sensitivity> sensitivity,
                                    Linalg linalg) {
        return new QuantSession(in, out, opts, usage, sensitivity, linalg);
    }

    /** Modules to quantize, in checkpoint order. */
    public List<LinearModule> planned() {
        return List.copyOf(schemes.keySet());
    }

    /** Planned modules of one layer (-1: model level). */
    public List<LinearModule> planned(int layer) {
        return schemes.keySet().stream().filter(m -> m.layer() == layer).toList();
    }

    public QuantScheme scheme(LinearModule m) {
        return schemes.get(m);
    }

    /**
     * Quantizes {@code m} from {@code weight} [rows, cols] with the options' method ({@code hessian}: the calibration
     * Hessian of its input, or null), writes it, and returns the quantized matrix.
     */
    public QuantizedMatrix quantize(LinearModule m, float[] weight, Hessian hessian) {
        QuantScheme s = schemes.get(m);
        if (s == null || reports.containsKey(m)) {
            throw new IllegalArgumentException(m.module() + (s == null ? " is not planned for quantization" : " was already quantized"));
        }
        QuantizedMatrix q = compute(m, weight, s, hessian);
        write(m, q, lastValues);
        lastValues = null;
        return q;
    }

    private QuantizedMatrix compute(LinearModule m, float[] weight, QuantScheme s, Hessian h) {
        long rows = h == null ? 0 : h.rows();
        WeightQuantizer.Result r = opts.method().quantize(new WeightQuantizer.Input(m, weight, s, h, plan.scaleType, linalg));
        QuantizedMatrix q = withPlannedGIdx(r.quantized());
        lastValues = q.dequantize();
        double err = Math.sqrt(BitPlanner.squaredError(weight, lastValues) / Math.max(1e-30, BitPlanner.squaredNorm(weight)));
        long bits = opts.format().storedBits(m, s, q.gIdx() != null, in.info(m.tensor()).dtype());
        reports.put(m, new QuantReport.ModuleReport(m.module(), m.role(), m.layer(), m.expert(), s.bits(), s.groupSize(),
                s.symmetric(), r.method(), r.fallback(), m.params(), rows, err, bits));
        return q;
    }

    private void write(LinearModule m, QuantizedMatrix q, float[] values) {
        if (m.fused()) { // only formats that write fused experts get here: dense values, the whole tensor at once
            float[] all = fusedBuffers.computeIfAbsent(m.tensor(), in::floats); // [E, out, in], unselected slices as stored
            System.arraycopy(values, 0, all, (int) (m.slice() * m.params()), (int) m.params());
            if (plan.byTensor.get(m.tensor()).stream().allMatch(reports::containsKey)) {
                Weights.write(writer, m.tensor(), fusedBuffers.remove(m.tensor()), in.info(m.tensor()).dtype());
            }
        } else {
            opts.format().write(writer, m, q, in.info(m.tensor()).dtype());
        }
    }

    /** A module planned with g_idx that fell back to RTN stores the natural order {@code j / groupSize}. */
    private QuantizedMatrix withPlannedGIdx(QuantizedMatrix q) {
        if (q.gIdx() != null || !plan.gIdxPlanned(q.scheme())) {
            return q;
        }
        int[] natural = new int[q.cols()];
        for (int j = 0; j < natural.length; j++) {
            natural[j] = j / q.scheme().groupSize();
        }
        return new QuantizedMatrix(q.rows(), q.cols(), q.scheme(), q.codes(), q.scales(), q.zeros(), natural);
    }

    /**
     * Quantizes the modules not yet done (from the checkpoint's weights, without calibration), copies all other
     * tensors and files, writes {@code quantization_config} and the format's own files, and commits the output. The
     * report is returned, not written: the pipeline keeps it in the provenance.
     */
    public QuantReport finish() {
        for (LinearModule m : schemes.keySet()) {
            if (!reports.containsKey(m)) {
                quantize(m, Weights.read(in, m), null);
            }
        }
        for (String name : in.names()) {
            if (!plan.byTensor.containsKey(name)) {
                writer.copy(name, in.shard(name), name);
            }
        }
        writer.copyOtherFiles(in);
        ObjectNode config = in.config().deepCopy();
        ObjectNode qc = plan.quantizationConfig();
        if (qc != null) {
            config.set(PackedFormat.CONFIG_KEY, qc);
            opts.format().files(qc).forEach(writer::writeJson);
        }
        List<QuantReport.ModuleReport> ordered = schemes.keySet().stream().map(reports::get).toList();
        long sourceBytes = schemes.keySet().stream().mapToLong(m -> m.params() * in.info(m.tensor()).dtype().size()).sum();
        QuantReport report = QuantReport.of(opts.format().name(), ordered, plan.kept, sourceBytes);
        writer.commit(config);
        return report;
    }

    /**
     * Ends a unit session ({@link #openUnit}): quantizes the unit's modules not yet done without calibration, copies
     * its other tensors, commits its tensors (no config) and returns its modules' reports in checkpoint order.
     */
    public List<QuantReport.ModuleReport> finishUnit() {
        for (LinearModule m : schemes.keySet()) {
            if (!reports.containsKey(m)) {
                quantize(m, Weights.read(in, m), null);
            }
        }
        for (String name : in.names()) {
            if (!plan.byTensor.containsKey(name) && mine.test(name)) {
                writer.copy(name, in.shard(name), name);
            }
        }
        writer.commit(null);
        return schemes.keySet().stream().map(reports::get).toList();
    }

    @Override
    public void close() {
        writer.close();
    }
}
