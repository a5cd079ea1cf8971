package dev.moekit.quantize;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.linalg.Linalg;
import dev.moekit.toolkit.model.ModelSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Quantizes the linear weights of a checkpoint and writes a fake-quant or packed checkpoint (see {@link Format}).
 *
 * <p>The run: parse the {@link ModelSpec}, catalog the linear modules ({@link ModuleCatalog}; routers and the
 * shared-expert gate are never quantized, lm_head only when selected), pick modules with the {@link QuantOptions}
 * selector, plan bits ({@link BitPlanner}), declare every output tensor, then stream module by module: read the
 * weight as fp32, quantize it (GPTQ with the calibration Hessian, or RTN; GPTQ falls back to RTN below
 * {@code minTokens} calibration rows or after repeated non-positive-definite Hessians, and says so in the report),
 * write it; copy every other tensor unchanged. {@code config.json} gains {@code quantization_config} for packed
 * formats, and {@code quantization_report.json} records per-module bits, methods and fallbacks. Example:
 * <pre>{@code
 * try (Checkpoint in = Checkpoint.open(dir)) {
 *     QuantReport r = Quantizer.run(in, out, QuantOptions.defaults(Format.COMPRESSED_TENSORS), null);
 * }
 * }</pre>
 */
public final class Quantizer {
    static final String REPORT_FILE = "quantization_report.json";
    static final String GPTQ_CONFIG_FILE = "quantize_config.json";
    static final String CONFIG_KEY = "quantization_config";

    private final Checkpoint in;
    private final QuantOptions opts;
    private final Calibration calibration;
    private final Linalg linalg;
    private final HessianCache hessians;

    private Quantizer(Checkpoint in, QuantOptions opts, Calibration calibration, Linalg linalg) {
        this.in = in;
        this.opts = opts;
        this.calibration = calibration;
        this.linalg = linalg;
        this.hessians = new HessianCache(calibration, linalg);
    }

    /** Quantizes {@code in} into {@code out}; {@code calibration} may be null (RTN, or GPTQ falling back to RTN). */
    public static QuantReport run(Checkpoint in, Path out, QuantOptions opts, Calibration calibration) {
        return run(in, out, opts, calibration, Linalg.nd4j());
    }

    public static QuantReport run(Checkpoint in, Path out, QuantOptions opts, Calibration calibration, Linalg linalg) {
        Quantizer q = new Quantizer(in, opts, calibration, linalg);
        try {
            return q.execute(out);
        } finally {
            q.hessians.close();
        }
    }

    /** The plan alone (module -> scheme), e.g. for a dry run. */
    public static Map<LinearModule, QuantScheme> plan(Checkpoint in, QuantOptions opts, Calibration calibration) {
        ModelSpec spec = ModelSpec.of(in);
        ModuleCatalog catalog = ModuleCatalog.of(in, spec);
        Optional<ExpertUsage> usage = calibration == null ? Optional.empty() : calibration.usage();
        return new BitPlanner(in, opts, usage, spec.dtype()).plan(selected(catalog, opts));
    }

    private static List<LinearModule> selected(ModuleCatalog catalog, QuantOptions opts) {
        return catalog.linears().stream().filter(m -> opts.selector().matches(m.candidate())).toList();
    }

    private QuantReport execute(Path out) {
        ModelSpec spec = ModelSpec.of(in);
        ModuleCatalog catalog = ModuleCatalog.of(in, spec);
        DType weightType = spec.dtype();
        Map<LinearModule, QuantScheme> schemes = plan(in, opts, calibration);
        PackedLayout layout = layout(opts.format());
        DType scaleType = opts.scaleType() != null ? opts.scaleType() : layout != null ? layout.scaleType(weightType) : weightType;
        Map<String, List<LinearModule>> byTensor = new LinkedHashMap<>();
        schemes.keySet().forEach(m -> byTensor.computeIfAbsent(m.tensor(), k -> new ArrayList<>()).add(m));
        if (layout != null) {
            schemes.keySet().stream().filter(LinearModule::fused).findFirst().ifPresent(m -> {
                throw new CheckpointException(in.dir() + ": '" + m.tensor() + "' holds fused experts; packed " + opts.format()
                        + " export needs per-expert tensors (convert the checkpoint to the per-expert layout, or write FAKE_QUANT)");
            });
        }
        List<String> kept = catalog.all().stream().filter(m -> !schemes.containsKey(m)).map(LinearModule::module).toList();
        List<TensorSpec> plan = outputPlan(byTensor, schemes, layout, weightType);
        List<QuantReport.ModuleReport> reports = new ArrayList<>();
        long sourceBytes = 0;
        try (CheckpointWriter w = CheckpointWriter.create(out, plan, opts.writer(), in.dir())) {
            for (String name : in.names()) {
                List<LinearModule> mods = byTensor.get(name);
                if (mods == null) {
                    w.copy(name, in.shard(name), name);
                    continue;
                }
                sourceBytes += in.info(name).byteSize() * mods.size() / Math.max(1, in.info(name).rank() == 3 ? in.info(name).dim(0) : 1);
                writeTensor(w, name, mods, schemes, layout, scaleType, reports);
            }
            w.copyOtherFiles(in);
            ObjectNode config = in.config().deepCopy();
            if (layout != null) {
                Map<String, QuantScheme> byName = new LinkedHashMap<>();
                schemes.forEach((m, s) -> byName.put(m.module(), s));
                ObjectNode qc = layout.config(byName, kept, opts.gptq().actOrder() && opts.method() == Method.GPTQ);
                config.set(CONFIG_KEY, qc);
                if (opts.format() == Format.GPTQ) {
                    w.writeJson(GPTQ_CONFIG_FILE, qc);
                }
            }
            QuantReport report = QuantReport.of(opts.format(), reports, kept, sourceBytes);
            w.writeJson(REPORT_FILE, report.toJson());
            w.commit(config);
            return report;
        }
    }

    static PackedLayout layout(Format f) {
        return switch (f) {
            case FAKE_QUANT -> null;
            case COMPRESSED_TENSORS -> new CompressedTensorsLayout();
            case GPTQ -> new GptqLayout();
        };
    }

    private List<TensorSpec> outputPlan(Map<String, List<LinearModule>> byTensor, Map<LinearModule, QuantScheme> schemes,
                                        PackedLayout layout, DType weightType) {
        List<TensorSpec> plan = new ArrayList<>();
        for (String name : in.names()) {
            List<LinearModule> mods = byTensor.get(name);
            if (mods == null || layout == null) {
                plan.add(TensorSpec.of(in.info(name)));
                continue;
            }
            LinearModule m = mods.getFirst();
            QuantScheme s = schemes.get(m);
            plan.addAll(layout.plan(m, s, gIdxPlanned(s), weightType));
        }
        return plan;
    }

    private void writeTensor(CheckpointWriter w, String name, List<LinearModule> mods, Map<LinearModule, QuantScheme> schemes,
                             PackedLayout layout, DType scaleType, List<QuantReport.ModuleReport> reports) {
        if (layout != null) {
            LinearModule m = mods.getFirst();
            float[] weight = Weights.read(in, m);
            QuantizedMatrix q = withPlannedGIdx(quantize(m, weight, schemes.get(m), scaleType, reports));
            layout.write(w, m, q, in.info(name).dtype());
            return;
        }
        if (mods.getFirst().fused()) {
            float[] all = in.floats(name); // [E, out, in]
            for (LinearModule m : mods) {
                int off = (int) (m.slice() * m.params());
                float[] weight = java.util.Arrays.copyOfRange(all, off, off + (int) m.params());
                float[] dq = quantize(m, weight, schemes.get(m), scaleType, reports).dequantize();
                System.arraycopy(dq, 0, all, off, dq.length);
            }
            w.write(name, all);
            return;
        }
        LinearModule m = mods.getFirst();
        w.write(name, quantize(m, Weights.read(in, m), schemes.get(m), scaleType, reports).dequantize());
    }

    /** A module planned with g_idx that fell back to RTN stores the natural order {@code j / groupSize}. */
    private boolean gIdxPlanned(QuantScheme s) {
        return opts.method() == Method.GPTQ && opts.gptq().actOrder() && s.groupSize() > 0;
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

    private QuantizedMatrix quantize(LinearModule m, float[] weight, QuantScheme s, DType scaleType,
                                     List<QuantReport.ModuleReport> reports) {
        Method used = Method.RTN;
        String fallback = null;
        long rows = 0;
        QuantizedMatrix q = null;
        if (opts.method() == Method.GPTQ) {
            Hessian h = calibration == null ? null : hessians.get(m);
            rows = h == null ? 0 : h.rows();
            if (h == null) {
                fallback = "no calibration source";
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
        float[] dq = q.dequantize();
        double err = Math.sqrt(BitPlanner.squaredError(weight, dq) / Math.max(1e-30, BitPlanner.squaredError(weight, new float[weight.length])));
        long bits = Storage.bits(m, s, opts.format(), q.gIdx() != null, in.info(m.tensor()).dtype());
        reports.add(new QuantReport.ModuleReport(m.module(), m.role(), m.layer(), m.expert(), s.bits(), s.groupSize(), s.symmetric(),
                used, fallback, m.params(), rows, err, bits));
        return q;
    }
}
