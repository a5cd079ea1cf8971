package dev.moekit.quantize.method;

import dev.moekit.quantize.WeightQuantizer;
import dev.moekit.toolkit.method.NoParams;

/** Weight quantizer {@code rtn}: round-to-nearest on the min-max grid ({@link Rtn}); data-free. */
public final class RtnQuantizer implements WeightQuantizer<NoParams> {
    @Override
    public String name() {
        return "rtn";
    }

    @Override
    public String summary() {
        return "round-to-nearest on the per-group min-max grid; data-free";
    }

    @Override
    public String reference() {
        return "https://github.com/IST-DASLab/gptq/blob/main/quant.py";
    }

    @Override
    public Class<NoParams> parameters() {
        return NoParams.class;
    }

    @Override
    public Calibration calibration() {
        return Calibration.NONE;
    }

    @Override
    public Result quantize(NoParams params, Input in) {
        var m = in.module();
        return new Result(Rtn.quantize(in.weight(), m.rows(), m.cols(), in.scheme(), in.scaleType()), name(), null);
    }
}
