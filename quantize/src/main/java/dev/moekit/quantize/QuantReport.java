package dev.moekit.quantize;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.model.Role;
import java.util.List;

/**
 * What a quantization run did.
 *
 * @param format              output format (registered name)
 * @param modules             one entry per quantized module, in checkpoint order
 * @param kept                linear modules left unquantized (routers, lm_head, rule-kept modules)
 * @param quantizedParams     weights in quantized modules
 * @param averageBits         mean code bits per quantized weight
 * @param averageStoredBits   mean stored bits per quantized weight including scales, zero points and g_idx
 * @param quantizedBytes      stored bytes of the quantized modules (as packed; fake-quant counts what it would pack to)
 * @param sourceBytes         bytes those modules took in the input
 * @param fallbacks           modules where GPTQ fell back to RTN
 */
public record QuantReport(String format, List<ModuleReport> modules, List<String> kept, long quantizedParams,
                          double averageBits, double averageStoredBits, long quantizedBytes, long sourceBytes,
                          int fallbacks) {
    public QuantReport {
        modules = List.copyOf(modules);
        kept = List.copyOf(kept);
    }

    /**
     * One quantized module.
     *
     * @param module            module name
     * @param role              tensor role
     * @param layer             layer (-1 model level)
     * @param expert            expert (-1 if not an expert)
     * @param bits              code bits
     * @param groupSize         group size (0 per channel)
     * @param symmetric         symmetric grid
     * @param method            the weight quantizer actually used (registered name; RTN after a fallback)
     * @param fallback          why GPTQ fell back to RTN, or null
     * @param params            weights in the module
     * @param calibrationRows   calibration rows (tokens) the module saw
     * @param relativeError     {@code ||W - Q||_F / ||W||_F}
     * @param storedBits        stored bits (codes, scales, zeros, g_idx)
     */
    public record ModuleReport(String module, Role role, int layer, int expert, int bits, int groupSize, boolean symmetric,
                               String method, String fallback, long params, long calibrationRows, double relativeError, long storedBits,
                               String scheme) {}

    public JsonNode toJson() {
        return Json.PRETTY.valueToTree(this);
    }

    static QuantReport of(String format, List<ModuleReport> modules, List<String> kept, long sourceBytes) {
        long params = 0;
        double codeBits = 0;
        long stored = 0;
        int fallbacks = 0;
        for (ModuleReport m : modules) {
            fallbacks += m.fallback() == null ? 0 : 1;
            stored += m.storedBits();
            params += m.params();
            codeBits += (double) m.params() * m.bits();
        }
        double avg = params == 0 ? 0 : codeBits / params;
        double avgStored = params == 0 ? 0 : (double) stored / params;
        return new QuantReport(format, modules, kept, params, avg, avgStored, stored / 8, sourceBytes, fallbacks);
    }
}
