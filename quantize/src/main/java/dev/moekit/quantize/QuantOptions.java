package dev.moekit.quantize;

import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.select.Selector;
import java.util.List;

/**
 * Everything that decides a quantization run's output.
 *
 * @param method            RTN or GPTQ
 * @param format            what to write
 * @param scheme            default bits, group size, symmetry
 * @param selector          which linear modules to consider (routers are never quantized whatever it says)
 * @param rules             fixed bits by selector, first match wins (applied before {@code allocation})
 * @param allocation        how the remaining modules get their bits
 * @param uniformExpertBits give all routed experts of a layer one scheme (fused-MoE kernels in vLLM, llama.cpp and
 *                          TensorRT-LLM need it); default on for packed formats
 * @param gptq              GPTQ settings
 * @param writer            output writer settings
 * @param scaleType         dtype scales are rounded to before quantizing; null = the format's (compressed-tensors
 *                          and fake-quant: the weight dtype; GPTQ: fp16). Set fp16 on a fake-quant run to reproduce
 *                          a GPTQ export's values exactly.
 */
public record QuantOptions(Method method, Format format, QuantScheme scheme, Selector selector, List<BitRule> rules,
                           Allocation allocation, boolean uniformExpertBits, GptqOptions gptq,
                           CheckpointWriter.Options writer, DType scaleType) {
    /** Default module selection: attention, dense MLPs, routed and shared experts (not lm_head, never routers). */
    public static final List<String> DEFAULT_TARGETS = List.of("kind:attention", "kind:dense_mlp", "kind:routed_expert", "kind:shared_expert");

    public QuantOptions {
        rules = List.copyOf(rules);
        if (method == null || format == null || scheme == null || selector == null || allocation == null || gptq == null || writer == null) {
            throw new IllegalArgumentException("quantization options: every field is required");
        }
    }

    /**
     * GPTQ settings.
     *
     * @param dampPercent  damping as a fraction of the mean Hessian diagonal (0.01)
     * @param actOrder     activation order, {@code desc_act} (false)
     * @param blockSize    lazy-update block (128)
     * @param minTokens    modules with fewer calibration rows fall back to RTN (128), reported per module
     */
    public record GptqOptions(double dampPercent, boolean actOrder, int blockSize, long minTokens) {
        public GptqOptions {
            if (minTokens < 1) {
                throw new IllegalArgumentException("GPTQ minimum calibration tokens must be at least 1, got " + minTokens);
            }
        }

        public static GptqOptions defaults() {
            return new GptqOptions(0.01, false, 128, 128);
        }
    }

    /** 4-bit, group 128, symmetric RTN of the default modules, uniform bits. */
    public static QuantOptions defaults(Format format) {
        return new QuantOptions(Method.RTN, format, new QuantScheme(4, 128, true), new Selector(DEFAULT_TARGETS, List.of()),
                List.of(), new Allocation.Uniform(), format.packed(), GptqOptions.defaults(), CheckpointWriter.Options.defaults(), null);
    }

    public QuantOptions withMethod(Method m) {
        return new QuantOptions(m, format, scheme, selector, rules, allocation, uniformExpertBits, gptq, writer, scaleType);
    }

    public QuantOptions withScheme(QuantScheme s) {
        return new QuantOptions(method, format, s, selector, rules, allocation, uniformExpertBits, gptq, writer, scaleType);
    }

    public QuantOptions withSelector(Selector s) {
        return new QuantOptions(method, format, scheme, s, rules, allocation, uniformExpertBits, gptq, writer, scaleType);
    }

    public QuantOptions withRules(List<BitRule> r) {
        return new QuantOptions(method, format, scheme, selector, r, allocation, uniformExpertBits, gptq, writer, scaleType);
    }

    public QuantOptions withAllocation(Allocation a) {
        return new QuantOptions(method, format, scheme, selector, rules, a, uniformExpertBits, gptq, writer, scaleType);
    }

    public QuantOptions withUniformExpertBits(boolean u) {
        return new QuantOptions(method, format, scheme, selector, rules, allocation, u, gptq, writer, scaleType);
    }

    public QuantOptions withGptq(GptqOptions g) {
        return new QuantOptions(method, format, scheme, selector, rules, allocation, uniformExpertBits, g, writer, scaleType);
    }

    public QuantOptions withScaleType(DType t) {
        return new QuantOptions(method, format, scheme, selector, rules, allocation, uniformExpertBits, gptq, writer, t);
    }

    public QuantOptions withWriter(CheckpointWriter.Options w) {
        return new QuantOptions(method, format, scheme, selector, rules, allocation, uniformExpertBits, gptq, w, scaleType);
    }
}
