package dev.moekit.toolkit.model;

import dev.moekit.toolkit.io.CheckpointException;
import java.util.Locale;

/**
 * Compressed experts (He et al. 2025, arXiv 2503.00634) as a checkpoint's config states them: {@code use_ce: true},
 * {@code n_ce} = k_a auxiliary experts of every MoE layer's top-k ({@code num_experts_per_tok} unchanged), and the
 * storage of the per-expert vectors {@link Role#CES}. Of the k experts the router picks (best first), the first
 * {@code k - n_ce} are the main experts, run as usual and scaled by their own routing weight; the last {@code n_ce}
 * are never run: their routing weights, renormalised over the auxiliary set, mix their {@code ces} rows into
 * {@code theta = (theta_1, theta_3, theta_2)}, and each main expert computes
 * {@code down(act(gate(x * theta_1)) * up(x * theta_3) * theta_2)}.
 *
 * <p>Layouts of {@code ces} (flattened per expert, {@code d} = hidden, {@code F} = expert ffn):
 * <ul>
 *   <li>{@link Layout#SPLIT} (default): {@code [E, 2d + F]}: theta_1 = {@code [0, d)}, theta_3 = {@code [d, 2d)},
 *       theta_2 = {@code [2d, 2d + F)}, theta_2 of the expert's intermediate size;</li>
 *   <li>{@link Layout#CODE} (the released code): {@code [E, 3, d]}, theta_2 the first F entries of row 2, which only
 *       exists when {@code F <= d}.</li>
 * </ul>
 * In both, theta_2 starts at flat offset {@code 2d}, so one forward reads either. A missing {@code ces} tensor means
 * ones (theta = 1: plain top-(k - n_ce) with the main experts' own routing weights), never uninitialised values.
 *
 * @param enabled whether {@code use_ce} is true
 * @param aux     {@code n_ce}, auxiliary experts per token (0 when disabled)
 * @param layout  storage of {@code ces}
 */
public record CompressedExperts(boolean enabled, int aux, Layout layout) {
    /** Storage of the {@code ces} vectors. */
    public enum Layout {
        SPLIT, CODE;

        /** The config spelling. */
        public String key() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static Layout parse(String s) {
            try {
                return valueOf(s.trim().toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown compressed-experts layout '" + s + "' (use split or code)");
            }
        }
    }

    public static final CompressedExperts NONE = new CompressedExperts(false, 0, Layout.SPLIT);

    /** The compressed-experts settings of {@code spec}'s config (NONE for dense families or {@code use_ce} false). */
    public static CompressedExperts of(ModelSpec spec) {
        if (!spec.family().traits().moe() || !spec.family().configKeys().containsKey("use_ce")) {
            return NONE;
        }
        return read(new ConfigReader(spec.family(), spec.config(), "config.json"));
    }

    private static CompressedExperts read(ConfigReader c) {
        if (!c.bool("use_ce", false)) {
            return NONE;
        }
        int aux = c.integer("n_ce", 0, "0 or more", 0);
        String l = c.text("ce_layout");
        Layout layout;
        try {
            layout = l == null ? Layout.SPLIT : Layout.parse(l);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(c.where() + ": key '" + c.keyOf("ce_layout") + "': " + e.getMessage());
        }
        return new CompressedExperts(true, aux, layout);
    }

    /** Checks the settings against every MoE layer: {@code 1 <= k - n_ce}, and the code layout needs ffn <= hidden. */
    static void check(ModelSpec spec, ConfigReader c) {
        if (!spec.family().traits().moe() || !c.knows("use_ce")) {
            return;
        }
        CompressedExperts ce = read(c);
        if (!ce.enabled()) {
            return;
        }
        for (LayerSpec ls : spec.layerSpecs()) {
            if (!ls.moe()) {
                continue;
            }
            if (ce.aux() >= ls.topK()) {
                throw new CheckpointException(c.where() + ": key '" + c.keyOf("n_ce") + "' = " + ce.aux() + " leaves no main expert of the "
                        + ls.topK() + " (" + c.keyOf("top_k") + ") of layer " + ls.index() + "; it must be below top-k");
            }
            if (ce.layout() == Layout.CODE && ls.expertFfn() > spec.hidden()) {
                throw new CheckpointException(c.where() + ": key '" + c.keyOf("ce_layout") + "' = code stores theta_2 in a hidden-sized row, but layer "
                        + ls.index() + "'s experts are " + ls.expertFfn() + " wide (> hidden " + spec.hidden() + "); use ce_layout split");
            }
        }
    }

    /** Main experts per token of {@code ls} ({@code top_k - n_ce}). */
    public int main(LayerSpec ls) {
        return ls.topK() - aux;
    }

    /** Values per expert of the flattened {@code ces} row. */
    public long width(ModelSpec spec, LayerSpec ls) {
        return layout == Layout.CODE ? 3L * spec.hidden() : 2L * spec.hidden() + ls.expertFfn();
    }

    /** The {@code ces} tensor's shape in layer {@code ls}. */
    public long[] shape(ModelSpec spec, LayerSpec ls) {
        return layout == Layout.CODE ? new long[] {ls.experts(), 3, spec.hidden()}
                : new long[] {ls.experts(), 2L * spec.hidden() + ls.expertFfn()};
    }

    /** Ones of {@link #shape}: the initial (and missing-tensor) value. */
    public float[] ones(ModelSpec spec, LayerSpec ls) {
        float[] v = new float[Math.toIntExact(ls.experts() * width(spec, ls))];
        java.util.Arrays.fill(v, 1f);
        return v;
    }
}
