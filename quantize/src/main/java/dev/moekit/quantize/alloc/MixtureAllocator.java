package dev.moekit.quantize.alloc;

import dev.moekit.quantize.BitAllocator;
import dev.moekit.quantize.LinearModule;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.toolkit.method.Doc;
import dev.moekit.toolkit.model.Role;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Bit allocator {@code mixture}: a fixed per-role mixture in the manner of llama.cpp's {@code _M} types
 * ({@code llama_tensor_get_type} in {@code llama-quant.cpp}: Q4_K_M gives {@code attn_v} and {@code ffn_down} Q6_K
 * in the layers {@code use_more_bits} picks, Q4_K elsewhere). The modules of the given {@code roles} get {@code high}
 * bits in the chosen layers, every other module the default scheme's bits. Layers: {@code more_bits} is llama.cpp's
 * {@code use_more_bits(i, n)}: {@code i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2} (integer division), about half of
 * the layers; {@code all} is every layer. Data-free, so the plan is exact from metadata. llama.cpp stores a layer's
 * experts as one tensor per role, so their down projections can take their own width; vLLM's fused MoE kernels take
 * one scheme per layer of experts, so while uniform expert bits are on (the default for packed formats) routed experts
 * keep the default bits and only attention V, dense and shared-expert down projections are raised; with
 * {@code uniform_expert_bits: false} the experts' down projections are raised too.
 */
public final class MixtureAllocator implements BitAllocator<MixtureAllocator.Parameters> {
    /** The roles Q4_K_M raises: attention V and every FFN down projection. */
    public static final List<String> DEFAULT_ROLES = List.of("v", "expert_down", "mlp_down", "shared_down");

    /**
     * @param high   bits of the raised modules; default two above the scheme's, at most 8
     * @param roles  roles raised ({@link Role} names, case-insensitive)
     * @param layers {@code more_bits} (llama.cpp's choice of layers) or {@code all}
     */
    public record Parameters(@Doc("bits of the raised modules (default: the default bits + 2, at most 8)") Integer high,
                             @Doc("roles raised (default v, expert_down, mlp_down, shared_down: llama.cpp's attn_v and ffn_down)") List<String> roles,
                             @Doc("layers raised: more_bits (llama.cpp's use_more_bits, about half; default) or all") String layers) {
        public Parameters {
            if (high != null) {
                QuantScheme.checkWidth("mixture high", high, false);
            }
            roles = roles == null ? DEFAULT_ROLES : List.copyOf(roles);
            if (roles.isEmpty()) {
                throw new IllegalArgumentException("mixture: roles needs at least one role");
            }
            for (String r : roles) {
                role(r);
            }
            layers = layers == null ? "more_bits" : layers.trim().toLowerCase(Locale.ROOT);
            if (!layers.equals("more_bits") && !layers.equals("all")) {
                throw new IllegalArgumentException("mixture: layers '" + layers + "' (expected more_bits or all)");
            }
        }

        int high(QuantScheme s) {
            return high != null ? high : Math.min(8, s.bits() + 2);
        }
    }

    private static Role role(String name) {
        try {
            return Role.valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("mixture: unknown role '" + name + "' (e.g. v, o, expert_down, mlp_down, shared_down)");
        }
    }

    /** llama.cpp's {@code use_more_bits(i, n)}. */
    static boolean moreBits(int layer, int layers) {
        return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
    }

    @Override
    public String name() {
        return "mixture";
    }

    @Override
    public String summary() {
        return "per-role mixture as llama.cpp's _M types: attention V and FFN down projections get more bits in about half the layers";
    }

    @Override
    public String reference() {
        return "https://github.com/ggml-org/llama.cpp/blob/master/src/llama-quant.cpp";
    }

    @Override
    public Class<Parameters> parameters() {
        return Parameters.class;
    }

    @Override
    public Calibration calibration() {
        return Calibration.NONE;
    }

    @Override
    public Map<LinearModule, QuantScheme> allocate(Parameters p, Input in) {
        List<Role> raised = new ArrayList<>();
        p.roles().forEach(r -> raised.add(role(r)));
        int layers = 1 + Math.max(in.free().stream().mapToInt(LinearModule::layer).max().orElse(0),
                in.fixed().keySet().stream().mapToInt(LinearModule::layer).max().orElse(0));
        QuantScheme high = in.scheme().withBits(p.high(in.scheme()));
        Map<LinearModule, QuantScheme> out = new LinkedHashMap<>();
        for (LinearModule m : in.free()) {
            boolean raise = raised.contains(m.role()) && m.layer() >= 0 && (p.layers().equals("all") || moreBits(m.layer(), layers))
                    && !(in.uniformExpertBits() && m.role().kind() == Role.Kind.ROUTED_EXPERT);
            out.put(m, raise ? high : in.scheme());
        }
        return out;
    }

    @Override
    public List<Integer> widths(Parameters p, QuantScheme scheme) {
        int h = p.high(scheme);
        return h == scheme.bits() ? List.of(h) : List.of(scheme.bits(), h);
    }
}
