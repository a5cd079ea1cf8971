package dev.moekit.quantize.alloc;

import dev.moekit.quantize.BitAllocator;
import dev.moekit.quantize.LinearModule;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.toolkit.method.NoParams;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Bit allocator {@code uniform}: every module the rules leave free gets the default scheme. */
public final class UniformAllocator implements BitAllocator<NoParams> {
    @Override
    public String name() {
        return "uniform";
    }

    @Override
    public String summary() {
        return "every module the rules leave free gets the default bits";
    }

    @Override
    public String reference() {
        return "";
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
    public Map<LinearModule, QuantScheme> allocate(NoParams params, Input in) {
        Map<LinearModule, QuantScheme> out = new LinkedHashMap<>();
        in.free().forEach(m -> out.put(m, in.scheme()));
        return out;
    }

    @Override
    public List<Integer> widths(NoParams params, QuantScheme scheme) {
        return List.of(scheme.bits());
    }
}
