package dev.moekit.quantize.method;

import dev.moekit.quantize.WeightQuantizer;
import dev.moekit.toolkit.method.Doc;

/**
 * Weight quantizer {@code rtn}: round-to-nearest ({@link Rtn}). By default data-free on the min-max grid; with
 * {@code clip_search} each group's grid is the one of {@link dev.moekit.quantize.Grid#search} (shrunk ranges, refitted
 * scales, least squared error), and with {@code importance} that error is weighted per input column by the calibration
 * activations' second moment {@code E[x_j^2]} (the diagonal of the module's Hessian over the tokens that reach it:
 * llama.cpp's importance matrix, routed experts over their routed tokens as llama.cpp's {@code imatrix} counts them),
 * which makes the method calibrate. A module no calibration token reached is searched unweighted, and the report says so.
 */
public final class RtnQuantizer implements WeightQuantizer<RtnQuantizer.Parameters> {
    /**
     * @param clipSearch search each group's clipping range and refit its scale (GPTQ's {@code mse} grid, llama.cpp's
     *                   refit) instead of the plain min-max grid
     * @param importance weight that search by the calibration second moments {@code E[x_j^2]}; implies
     *                   {@code clipSearch} and needs calibration
     */
    public record Parameters(@Doc("search each group's clipping range for the least squared error (default false: min-max grid)") Boolean clipSearch,
                             @Doc("weight that error by calibration activations' E[x^2] per input column (llama.cpp imatrix); calibrates") Boolean importance) {
        public Parameters {
            importance = importance != null && importance;
            clipSearch = importance || clipSearch != null && clipSearch;
        }

        /** The plain min-max grid, data-free. */
        public static Parameters defaults() {
            return new Parameters(null, null);
        }
    }

    @Override
    public String name() {
        return "rtn";
    }

    @Override
    public String summary() {
        return "round-to-nearest on per-group grids: min-max (data-free), or searched for the least (importance-weighted) error";
    }

    @Override
    public String reference() {
        return "https://github.com/IST-DASLab/gptq/blob/main/quant.py";
    }

    @Override
    public Class<Parameters> parameters() {
        return Parameters.class;
    }

    @Override
    public Calibration calibration() {
        return Calibration.DEPENDS;
    }

    @Override
    public boolean needsCalibration(Parameters p) {
        return p.importance();
    }

    @Override
    public Result quantize(Parameters p, Input in) {
        var m = in.module();
        float[] importance = null;
        String fallback = null;
        if (p.importance()) {
            importance = in.hessian() == null || in.hessian().rows() == 0 ? null : in.hessian().diagonal();
            fallback = importance == null ? "no calibration tokens: clipping search unweighted" : null;
        }
        return new Result(Rtn.quantize(in.weight(), m.rows(), m.cols(), in.scheme(), in.scaleType(), p.clipSearch(), importance), name(), fallback);
    }
}
