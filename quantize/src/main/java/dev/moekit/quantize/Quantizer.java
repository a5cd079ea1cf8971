package dev.moekit.quantize;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.linalg.Linalg;
import dev.moekit.toolkit.model.ModelSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Quantizes the linear weights of a checkpoint and writes a fake-quant or packed checkpoint (see {@link Format}).
 *
 * <p>The run: parse the {@link ModelSpec}, catalog the linear modules ({@link ModuleCatalog}; routers and the
 * shared-expert gate are never quantized, lm_head only when selected), pick modules with the {@link QuantOptions}
 * selector, plan bits ({@link BitPlanner}), declare every output tensor, then go module by module: read the weight as
 * fp32, quantize it (GPTQ with the calibration Hessian, or RTN; GPTQ falls back to RTN below {@code minTokens}
 * calibration rows or after repeated non-positive-definite Hessians, and says so in the report), write it; copy every
 * other tensor unchanged. {@code config.json} gains {@code quantization_config} for packed formats, and
 * {@code quantization_report.json} records per-module bits, methods and fallbacks. Example:
 * <pre>{@code
 * try (Checkpoint in = Checkpoint.open(dir)) {
 *     QuantReport r = Quantizer.run(in, out, QuantOptions.defaults(Format.COMPRESSED_TENSORS), null);
 * }
 * }</pre>
 * Calibration-driven GPTQ through the model runtime (layer by layer, each layer's inputs computed from the already
 * quantized layers before it) is {@link CalibratedGptq}; both use a {@link QuantSession}.
 */
public final class Quantizer {
    static final String REPORT_FILE = "quantization_report.json";
    static final String GPTQ_CONFIG_FILE = "quantize_config.json";
    static final String CONFIG_KEY = "quantization_config";

    private Quantizer() {
    }

    /** Quantizes {@code in} into {@code out}; {@code calibration} may be null (RTN, or GPTQ falling back to RTN). */
    public static QuantReport run(Checkpoint in, Path out, QuantOptions opts, CalibrationSource calibration) {
        return run(in, out, opts, calibration, Linalg.nd4j());
    }

    public static QuantReport run(Checkpoint in, Path out, QuantOptions opts, CalibrationSource calibration, Linalg linalg) {
        Optional<ExpertUsage> usage = calibration == null ? Optional.empty() : calibration.usage();
        try (QuantSession s = QuantSession.open(in, out, opts, usage, linalg);
             HessianCache hessians = new HessianCache(calibration, linalg)) {
            boolean gptq = opts.method() == Method.GPTQ && calibration != null;
            for (LinearModule m : s.planned()) {
                s.quantize(m, Weights.read(in, m), gptq ? hessians.get(m) : null);
            }
            return s.finish();
        }
    }

    static PackedLayout layoutOf(Format f) {
        return switch (f) {
            case FAKE_QUANT -> null;
            case COMPRESSED_TENSORS -> new CompressedTensorsLayout();
            case GPTQ -> new GptqLayout();
        };
    }

    /** The plan alone (module -> scheme), e.g. for a dry run. */
    public static Map<LinearModule, QuantScheme> plan(Checkpoint in, QuantOptions opts, CalibrationSource calibration) {
        Optional<ExpertUsage> usage = calibration == null ? Optional.empty() : calibration.usage();
        return planFor(in, opts, usage);
    }

    static Map<LinearModule, QuantScheme> planFor(Checkpoint in, QuantOptions opts, Optional<ExpertUsage> usage) {
        ModelSpec spec = ModelSpec.of(in);
        ModuleCatalog catalog = ModuleCatalog.of(in, spec);
        List<LinearModule> selected = catalog.linears().stream().filter(m -> opts.selector().matches(m.candidate())).toList();
        return new BitPlanner(in, opts, usage, spec.dtype()).plan(selected);
    }
}
