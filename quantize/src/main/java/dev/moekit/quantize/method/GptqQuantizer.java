package dev.moekit.quantize.method;

import dev.moekit.quantize.Hessian;
import dev.moekit.quantize.LinearModule;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.QuantizedMatrix;
import dev.moekit.quantize.WeightQuantizer;
import dev.moekit.toolkit.method.Doc;

/**
 * Weight quantizer {@code gptq}: GPTQ ({@link Gptq}) with the calibration Hessian of each module's input, damping
 * raised automatically when the Hessian is not positive definite ({@link GptqRetry}). A module falls back to RTN, and
 * the report says why, when no calibration reached it, when it saw fewer than {@code min_tokens} rows, or when no
 * damping up to 0.1 made its Hessian positive definite.
 */
public final class GptqQuantizer implements WeightQuantizer<GptqQuantizer.Parameters> {
    /**
     * @param dampPercent damping as a fraction of the mean Hessian diagonal
     * @param actOrder    activation order ({@code desc_act}): columns by decreasing Hessian diagonal, with g_idx
     * @param blockSize   lazy-update block width; a multiple of the group size
     * @param minTokens   modules with fewer calibration rows fall back to RTN
     * @param allExperts  on MoE models, every calibration token goes through every routed expert for its Hessian (the
     *                    layer output keeps the real routing), as llm-compressor's MoE calibration does, so no expert
     *                    falls back to RTN for lack of routed tokens; false: each expert sees only its routed tokens
     * @param clipSearch  find each group's grid by {@link dev.moekit.quantize.Grid#search} weighted by the Hessian
     *                    diagonal, instead of min-max (GPTQModel's {@code mse} option; also for RTN fallbacks)
     */
    public record Parameters(@Doc("damping, fraction of the mean Hessian diagonal, in (0, 1)") Double dampPercent,
                             @Doc("activation order (desc_act): quantize columns by decreasing Hessian diagonal, writes g_idx") Boolean actOrder,
                             @Doc("lazy-update block width; a multiple of the group size") Integer blockSize,
                             @Doc("modules with fewer calibration tokens fall back to RTN (reported)") Long minTokens,
                             @Doc("MoE: calibrate every routed expert on every token (default true); false: only on its routed tokens") Boolean allExperts,
                             @Doc("search each group's clipping range for the least Hessian-weighted error (default false: min-max grid)") Boolean clipSearch) {
        /** Every expert calibrated on all tokens. */
        public Parameters(Double dampPercent, Boolean actOrder, Integer blockSize, Long minTokens) {
            this(dampPercent, actOrder, blockSize, minTokens, null, null);
        }

        public Parameters {
            clipSearch = clipSearch != null && clipSearch;
            allExperts = allExperts == null || allExperts;
            dampPercent = dampPercent == null ? 0.01 : dampPercent;
            actOrder = actOrder != null && actOrder;
            blockSize = blockSize == null ? 128 : blockSize;
            minTokens = minTokens == null ? 128 : minTokens;
            if (!(dampPercent > 0 && dampPercent < 1)) {
                throw new IllegalArgumentException("damp_percent must be in (0, 1), got " + dampPercent);
            }
            if (blockSize <= 0) {
                throw new IllegalArgumentException("block_size must be positive, got " + blockSize);
            }
            if (minTokens < 1) {
                throw new IllegalArgumentException("min_tokens must be at least 1, got " + minTokens);
            }
        }

        /** The reference defaults: damping 0.01, no activation order, blocks of 128, 128 tokens at least; all experts calibrated. */
        public static Parameters defaults() {
            return new Parameters(null, null, null, null, null, null);
        }
    }

    @Override
    public String name() {
        return "gptq";
    }

    @Override
    public String summary() {
        return "GPTQ: column-wise rounding with Hessian error feedback from calibration activations; RTN fallback per module";
    }

    @Override
    public String reference() {
        return "https://arxiv.org/abs/2210.17323";
    }

    @Override
    public Class<Parameters> parameters() {
        return Parameters.class;
    }

    @Override
    public Calibration calibration() {
        return Calibration.REQUIRED;
    }

    @Override
    public boolean activationOrder(Parameters p) {
        return p.actOrder();
    }

    @Override
    public boolean calibratesAllExperts(Parameters p) {
        return p.allExperts();
    }

    @Override
    public long minCalibrationRows(Parameters p) {
        return p.minTokens();
    }

    @Override
    public void check(Parameters p, QuantScheme s) {
        if (s.groupSize() > 0 && p.blockSize() % s.groupSize() != 0) {
            throw new IllegalArgumentException("GPTQ block size " + p.blockSize() + " must be a multiple of the group size " + s.groupSize());
        }
    }

    @Override
    public Result quantize(Parameters p, Input in) {
        LinearModule m = in.module();
        Hessian h = in.hessian();
        long rows = h == null ? 0 : h.rows();
        String fallback;
        if (h == null || rows == 0) {
            fallback = "no calibration data";
        } else if (rows < p.minTokens()) {
            fallback = rows + " calibration tokens < " + p.minTokens();
        } else {
            GptqRetry.Outcome o = GptqRetry.run(in.weight(), m, h, in.scheme(), p, in.scaleType(), in.linalg());
            if (o.quantized() != null) {
                return new Result(o.quantized(), name(), null);
            }
            fallback = o.fallback();
        }
        QuantizedMatrix q = Rtn.quantize(in.weight(), m.rows(), m.cols(), in.scheme(), in.scaleType(), p.clipSearch(), null);
        return new Result(q, "rtn", fallback);
    }
}
