package dev.moekit.quantize;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.linalg.Linalg;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.tensor.Floats;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One quantization output in progress: the plan is fixed and the writer open; modules are quantized and written in
 * any order ({@link #quantize}), then {@link #finish} quantizes what is left with RTN (or GPTQ's fallback), copies
 * every other tensor, writes the configs and the report, and commits. Closing an unfinished session discards the
 * partial output.
 */
public final class QuantSession implements AutoCloseable {
    private final Checkpoint in;
    private final QuantOptions opts;
    private final Linalg linalg;
    private final Map<LinearModule, QuantScheme> schemes;
    private final Map<String, List<LinearModule>> byTensor = new LinkedHashMap<>();
    private final PackedLayout layout;
    private final DType scaleType;
    private final List<String> kept;
    private final CheckpointWriter writer;
    private final Map<LinearModule, QuantReport.ModuleReport> reports = new HashMap<>();
    private final Map<String, float[]> fusedBuffers = new HashMap<>();
    private float[] lastValues; // the dequantized values of the module being written

    private QuantSession(Checkpoint in, Path out, QuantOptions opts, Optional<ExpertUsage> usage, Linalg linalg) {
        this.in = in;
        this.opts = opts;
        this.linalg = linalg;
        ModelSpec spec = ModelSpec.of(in);
        ModuleCatalog catalog = ModuleCatalog.of(in, spec);
        this.schemes = Quantizer.planFor(in, opts, usage);
        this.layout = Quantizer.layoutOf(opts.format());
        DType weightType = spec.dtype();
        this.scaleType = opts.scaleType() != null ? opts.scaleType() : layout != null ? layout.scaleType(weightType) : weightType;
        schemes.keySet().forEach(m -> byTensor.computeIfAbsent(m.tensor(), k -> new ArrayList<>()).add(m));
        if (layout != null) {
            schemes.keySet().stream().filter(LinearModule::fused).findFirst().ifPresent(m -> {
                throw new CheckpointException(in.dir() + ": '" + m.tensor() + "' holds fused experts; packed " + opts.format()
                        + " export needs per-expert tensors (convert the checkpoint to the per-expert layout, or write FAKE_QUANT)");
            });
        }
        this.kept = catalog.all().stream().filter(m -> !schemes.containsKey(m)).map(LinearModule::module).toList();
        this.writer = CheckpointWriter.create(out, outputPlan(weightType), opts.writer(), in.dir());
    }

    /** Plans {@code in}'s quantization and opens the output {@code out}. */
    public static QuantSession open(Checkpoint in, Path out, QuantOptions opts, Optional<ExpertUsage> usage, Linalg linalg) {
        return new QuantSession(in, out, opts, usage, linalg);
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
     * Quantizes {@code m} from {@code weight} [rows, cols] (GPTQ with {@code hessian} when the method is GPTQ, RTN
     * otherwise or as the reported fallback), writes it, and returns the quantized matrix.
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
        Method used = Method.RTN;
        String fallback = null;
        long rows = h == null ? 0 : h.rows();
        QuantizedMatrix q = null;
        if (opts.method() == Method.GPTQ) {
            if (h == null || rows == 0) {
                fallback = "no calibration data";
            } else if (rows < opts.gptq().minTokens()) {
                fallback = rows + " calibration tokens < " + opts.gptq().minTokens();
            } else {
                GptqRetry.Outcome o = GptqRetry.run(weight, m, h, s, opts.gptq(), scaleType, linalg);
                q = o.quantized();
                fallback = o.fallback();
                used = q != null ? Method.GPTQ : Method.RTN;
            }
        }
        if (q == null) {
            q = Rtn.quantize(weight, m.rows(), m.cols(), s, scaleType);
        }
        q = withPlannedGIdx(q);
        lastValues = q.dequantize();
        double err = Math.sqrt(BitPlanner.squaredError(weight, lastValues) / Math.max(1e-30, BitPlanner.squaredNorm(weight)));
        long bits = Storage.bits(m, s, opts.format(), q.gIdx() != null, in.info(m.tensor()).dtype());
        reports.put(m, new QuantReport.ModuleReport(m.module(), m.role(), m.layer(), m.expert(), s.bits(), s.groupSize(),
                s.symmetric(), used, fallback, m.params(), rows, err, bits));
        return q;
    }

    private void write(LinearModule m, QuantizedMatrix q, float[] values) {
        if (layout != null) {
            layout.write(writer, m, q, in.info(m.tensor()).dtype());
        } else if (m.fused()) {
            float[] all = fusedBuffers.computeIfAbsent(m.tensor(), in::floats); // [E, out, in], unselected slices as stored
            System.arraycopy(values, 0, all, (int) (m.slice() * m.params()), (int) m.params());
            if (byTensor.get(m.tensor()).stream().allMatch(reports::containsKey)) {
                writeValues(m.tensor(), fusedBuffers.remove(m.tensor()));
            }
        } else {
            writeValues(m.tensor(), values);
        }
    }

    /**
     * Encodes fp32 values to the tensor's dtype in native memory and writes them: the Vector API encoder runs at full
     * speed off-heap, and the file write needs no bounce buffer (a heap array cost 10x in the RTN benchmark).
     */
    private void writeValues(String tensor, float[] values) {
        DType t = in.info(tensor).dtype();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate((long) values.length * t.size(), 64);
            Floats.encode(values, 0, values.length, t, seg, 0);
            writer.write(tensor, seg);
        }
    }

    /** A module planned with g_idx that fell back to RTN stores the natural order {@code j / groupSize}. */
    private boolean gIdxPlanned(QuantScheme s) {
        return layout != null && opts.method() == Method.GPTQ && opts.gptq().actOrder() && s.groupSize() > 0;
    }

    private QuantizedMatrix withPlannedGIdx(QuantizedMatrix q) {
        if (q.gIdx() != null || !gIdxPlanned(q.scheme())) {
            return q;
        }
        int[] natural = new int[q.cols()];
        for (int j = 0; j < natural.length; j++) {
            natural[j] = j / q.scheme().groupSize();
        }
        return new QuantizedMatrix(q.rows(), q.cols(), q.scheme(), q.codes(), q.scales(), q.zeros(), natural);
    }

    private List<TensorSpec> outputPlan(DType weightType) {
        List<TensorSpec> plan = new ArrayList<>();
        for (String name : in.names()) {
            List<LinearModule> mods = byTensor.get(name);
            if (mods == null || layout == null) {
                plan.add(TensorSpec.of(in.info(name)));
                continue;
            }
            QuantScheme s = schemes.get(mods.getFirst());
            plan.addAll(layout.plan(mods.getFirst(), s, gIdxPlanned(s), weightType));
        }
        return plan;
    }

    /**
     * Quantizes the modules not yet done (from the checkpoint's weights, without calibration), copies all other
     * tensors and files, writes {@code quantization_config} and the report, and commits the output.
     */
    public QuantReport finish() {
        for (LinearModule m : schemes.keySet()) {
            if (!reports.containsKey(m)) {
                quantize(m, Weights.read(in, m), null);
            }
        }
        for (String name : in.names()) {
            if (!byTensor.containsKey(name)) {
                writer.copy(name, in.shard(name), name);
            }
        }
        writer.copyOtherFiles(in);
        ObjectNode config = in.config().deepCopy();
        if (layout != null) {
            Map<String, QuantScheme> byName = new LinkedHashMap<>();
            schemes.forEach((m, s) -> byName.put(m.module(), s));
            ObjectNode qc = layout.config(byName, kept, gIdxPlanned(opts.scheme()) || schemes.values().stream().anyMatch(this::gIdxPlanned));
            config.set(Quantizer.CONFIG_KEY, qc);
            if (opts.format() == Format.GPTQ) {
                writer.writeJson(Quantizer.GPTQ_CONFIG_FILE, qc);
            }
        }
        List<QuantReport.ModuleReport> ordered = schemes.keySet().stream().map(reports::get).toList();
        long sourceBytes = schemes.keySet().stream().mapToLong(m -> m.params() * in.info(m.tensor()).dtype().size()).sum();
        QuantReport report = QuantReport.of(opts.format(), ordered, kept, sourceBytes);
        writer.writeJson(Quantizer.REPORT_FILE, report.toJson());
        writer.commit(config);
        return report;
    }

    @Override
    public void close() {
        writer.close();
    }
}
