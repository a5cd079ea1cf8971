package dev.moekit.quantize;

import java.util.Optional;

/**
 * What the quantizer needs from calibration: the input rows that reach a linear module (for GPTQ's Hessian) and
 * routing counts (for usage-based bit allocation). The {@code eval} module's calibration pipeline implements it; it
 * decides how inputs are produced (e.g. layer by layer through the already-quantized model, as GPTQ's reference does,
 * or with all tokens sent to all experts). The quantizer asks for modules in checkpoint order, layer by layer.
 */
public interface CalibrationSource {
    /** Receives one batch of input rows. */
    @FunctionalInterface
    interface BatchSink {
        /** {@code rows} [n, in] row-major (only the first {@code n * in} values are read). */
        void accept(float[] rows, int n);
    }

    /**
     * Streams the calibration inputs of {@code module} ({@code [n, module.cols()]} batches) to {@code sink}. A routed
     * expert receives only the tokens routed to it; an expert that receives none gets no call.
     */
    void inputs(LinearModule module, BatchSink sink);

    /** Routed tokens per expert, when known. */
    default Optional<ExpertUsage> usage() {
        return Optional.empty();
    }

    /** The measured sensitivity per module and width ({@link SensitivityProbe}), when known. */
    default Optional<Sensitivity> sensitivity() {
        return Optional.empty();
    }

    /** A calibration with a measured sensitivity (and its routing counts) only: RTN with a measured bit allocation. */
    static CalibrationSource sensitivityOnly(Sensitivity sensitivity) {
        return new CalibrationSource() {
            @Override
            public void inputs(LinearModule module, BatchSink sink) {
            }

            @Override
            public Optional<ExpertUsage> usage() {
                return Optional.of(sensitivity.usage());
            }

            @Override
            public Optional<Sensitivity> sensitivity() {
                return Optional.of(sensitivity);
            }
        };
    }

    /** A calibration with routing counts only (RTN with usage-aware bit allocation). */
    static CalibrationSource usageOnly(ExpertUsage usage) {
        return new CalibrationSource() {
            @Override
            public void inputs(LinearModule module, BatchSink sink) {
            }

            @Override
            public Optional<ExpertUsage> usage() {
                return Optional.of(usage);
            }
        };
    }
}
