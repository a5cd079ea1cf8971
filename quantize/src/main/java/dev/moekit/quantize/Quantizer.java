package dev.moekit.quantize;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.linalg.Linalg;
import dev.moekit.toolkit.model.ModelSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * Quantizes the linear weights of a checkpoint and writes them in a registered {@link PackedFormat}.
 *
 * <p>The run: parse the {@link ModelSpec}, catalog the linear modules ({@link ModuleCatalog}; routers and the
 * shared-expert gate are never quantized, lm_head only when selected), pick modules with the {@link QuantOptions}
 * selector, plan bits (rules, then the {@link BitAllocator}), declare every output tensor, then go module by module:
 * read the weight as fp32, quantize it with the {@link WeightQuantizer} (GPTQ with the calibration Hessian, or RTN;
 * GPTQ falls back to RTN below {@code min_tokens} calibration rows or after repeated non-positive-definite Hessians,
 * and says so in the report), write it; copy every other tensor unchanged. {@code config.json} gains
 * {@code quantization_config} for packed formats. The returned {@link QuantReport} records per-module bits, methods
 * and fallbacks (the recipe stage puts it in the provenance). Example:
 * <pre>{@code
 * try (Checkpoint in = Checkpoint.open(dir)) {
 *     QuantReport r = Quantizer.run(in, out, QuantOptions.defaults("compressed-tensors"), null);
 * }
 * }</pre>
 * Calibration-driven GPTQ through the model runtime (layer by layer, each layer's inputs computed from the already
 * quantized layers before it) is {@link CalibratedGptq}; both use a {@link QuantSession}.
 */
public final class Quantizer {
    private Quantizer() {
    }

    /** Quantizes {@code in} into {@code out}; {@code calibration} may be null (RTN, or GPTQ falling back to RTN). */
    public static QuantReport run(Checkpoint in, Path out, QuantOptions opts, CalibrationSource calibration) {
        return run(in, out, opts, calibration, Linalg.nd4j());
    }

    public static QuantReport run(Checkpoint in, Path out, QuantOptions opts, CalibrationSource calibration, Linalg linalg) {
        Optional<ExpertUsage> usage = calibration == null ? Optional.empty() : calibration.usage();
        Optional<Sensitivity> sensitivity = calibration == null ? Optional.empty() : calibration.sensitivity();
        try (QuantSession s = QuantSession.open(in, out, opts, usage, sensitivity, linalg);
             HessianCache hessians = new HessianCache(calibration, linalg)) {
            if (opts.method().needsCalibration() && calibration != null) {
                for (LinearModule m : s.planned()) {
                    s.quantize(m, Weights.read(in, m), hessians.get(m));
                }
            }
            return s.finish(); // data-free: every module here, on parallel workers

        }
    }

    /** The plan alone (module -> scheme), e.g. for a dry run. */
    public static Map<LinearModule, QuantScheme> plan(Checkpoint in, QuantOptions opts, CalibrationSource calibration) {
        Optional<ExpertUsage> usage = calibration == null ? Optional.empty() : calibration.usage();
        Optional<Sensitivity> sensitivity = calibration == null ? Optional.empty() : calibration.sensitivity();
        ModelSpec spec = ModelSpec.of(in);
        return planFor(spec, ModuleCatalog.of(in, spec), opts, usage, sensitivity, m -> Weights.read(in, m));
    }

    /** Schemes of the modules the selector picks from {@code catalog}; {@code weights} reads a module's weight. */
    static Map<LinearModule, QuantScheme> planFor(ModelSpec spec, ModuleCatalog catalog, QuantOptions opts, Optional<ExpertUsage> usage,
                                                  Optional<Sensitivity> sensitivity, Function<LinearModule, float[]> weights) {
        List<LinearModule> selected = catalog.linears().stream().filter(m -> opts.selector().matches(m.candidate())).toList();
        return new BitPlanner(opts, usage, sensitivity, spec.dtype(), weights).plan(selected);
    }
}
