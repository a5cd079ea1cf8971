package dev.moekit.quantize;

import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.select.Selector;
import java.util.List;

/**
 * Everything that decides a quantization run's output.
 *
 * @param method            the weight quantizer and its parameters ({@code rtn}, {@code gptq}, ...)
 * @param format            what to write ({@code compressed-tensors}, {@code gptq}, {@code fake-quant}, ...)
 * @param scheme            default bits, group size, symmetry
 * @param selector          which linear modules to consider (routers are never quantized whatever it says)
 * @param rules             fixed bits by selector, first match wins (applied before {@code allocation})
 * @param allocation        how the remaining modules get their bits ({@code uniform}, {@code budget}, {@code quantmoe})
 * @param uniformExpertBits give all routed experts of a layer one scheme (fused-MoE kernels in vLLM, llama.cpp and
 *                          TensorRT-LLM need it); default on for packed formats
 * @param writer            output writer settings
 * @param scaleType         dtype scales are rounded to before quantizing; null = the format's (compressed-tensors
 *                          and fake-quant: the weight dtype; GPTQ: fp16). Set fp16 on a fake-quant run to reproduce
 *                          a GPTQ export's values exactly.
 */
public record QuantOptions(BoundQuantizer<?> method, PackedFormat format, QuantScheme scheme, Selector selector, List<BitRule> rules,
                           BoundAllocator<?> allocation, boolean uniformExpertBits, CheckpointWriter.Options writer, DType scaleType) {
    /** Default module selection: attention, dense MLPs, routed and shared experts (not lm_head, never routers). */
    public static final List<String> DEFAULT_TARGETS = List.of("kind:attention", "kind:dense_mlp", "kind:routed_expert", "kind:shared_expert");

    public QuantOptions {
        rules = List.copyOf(rules);
        if (method == null || format == null || scheme == null || selector == null || allocation == null || writer == null) {
            throw new IllegalArgumentException("quantization options: every field is required");
        }
        format.check(scheme);
        for (BitRule r : rules) {
            if (r.bits() != BitRule.KEEP) {
                format.check(scheme.withBits(r.bits()));
            }
        }
        allocation.candidates(scheme).forEach(format::check);
    }

    /** 4-bit, group 128, symmetric RTN of the default modules, uniform bits, written as {@code format}. */
    public static QuantOptions defaults(PackedFormat format) {
        return new QuantOptions(BoundQuantizer.of("rtn"), format, new QuantScheme(4, 128, true), new Selector(DEFAULT_TARGETS, List.of()),
                List.of(), BoundAllocator.of("uniform"), format.packed(), CheckpointWriter.Options.defaults(), null);
    }

    /** {@link #defaults(PackedFormat)} for the registered format {@code format}. */
    public static QuantOptions defaults(String format) {
        return defaults(PackedFormat.named(format));
    }

    public QuantOptions withMethod(BoundQuantizer<?> m) {
        return new QuantOptions(m, format, scheme, selector, rules, allocation, uniformExpertBits, writer, scaleType);
    }

    /** The registered quantizer {@code name} with its default parameters. */
    public QuantOptions withMethod(String name) {
        return withMethod(BoundQuantizer.of(name));
    }

    /** Another format; uniform expert bits stay as they are. */
    public QuantOptions withFormat(PackedFormat f) {
        return new QuantOptions(method, f, scheme, selector, rules, allocation, uniformExpertBits, writer, scaleType);
    }

    public QuantOptions withScheme(QuantScheme s) {
        return new QuantOptions(method, format, s, selector, rules, allocation, uniformExpertBits, writer, scaleType);
    }

    public QuantOptions withSelector(Selector s) {
        return new QuantOptions(method, format, scheme, s, rules, allocation, uniformExpertBits, writer, scaleType);
    }

    public QuantOptions withRules(List<BitRule> r) {
        return new QuantOptions(method, format, scheme, selector, r, allocation, uniformExpertBits, writer, scaleType);
    }

    public QuantOptions withAllocation(BoundAllocator<?> a) {
        return new QuantOptions(method, format, scheme, selector, rules, a, uniformExpertBits, writer, scaleType);
    }

    public QuantOptions withUniformExpertBits(boolean u) {
        return new QuantOptions(method, format, scheme, selector, rules, allocation, u, writer, scaleType);
    }

    public QuantOptions withScaleType(DType t) {
        return new QuantOptions(method, format, scheme, selector, rules, allocation, uniformExpertBits, writer, t);
    }

    public QuantOptions withWriter(CheckpointWriter.Options w) {
        return new QuantOptions(method, format, scheme, selector, rules, allocation, uniformExpertBits, w, scaleType);
    }
}
