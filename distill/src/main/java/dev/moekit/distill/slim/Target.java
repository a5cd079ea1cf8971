package dev.moekit.distill.slim;

import dev.moekit.toolkit.model.Family;
import dev.moekit.toolkit.model.LayerSpec;
import dev.moekit.toolkit.model.ModelSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The sizes one slimming step reaches: the expert FFN width (one value for every routed expert of every MoE layer,
 * as {@code intermediate_size} is one config value), the shared-expert width (slimmed by the same fraction: for
 * DeepSeek it is {@code n_shared_experts * moe_intermediate_size} by definition, for Qwen2-MoE
 * {@code shared_expert_intermediate_size} is written) and the KV groups kept per layer.
 *
 * @param ffn       expert FFN width
 * @param sharedFfn shared-expert FFN width, 0 when the model has none
 * @param kvGroups  KV groups per layer
 */
public record Target(int ffn, int sharedFfn, int kvGroups) {
    /** How intermediate expert widths are spaced between the input's and the target's. */
    public enum Widths { GEOMETRIC, LINEAR }

    /**
     * The target of {@code fraction} of the expert width and {@code kvGroups} groups (null: all) on {@code spec};
     * fails naming the parameter when the model cannot be slimmed so.
     */
    public static Target of(ModelSpec spec, double fraction, Integer kvGroups) {
        if (!(fraction > 0 && fraction <= 1)) {
            throw new IllegalArgumentException("expert_ffn must be in (0, 1], got " + fraction);
        }
        int ffn = expertFfn(spec);
        int width = Math.max(1, (int) Math.round(ffn * fraction));
        int kv = kvGroups == null ? spec.kvHeads() : kvGroups;
        if (kv < 1 || kv > spec.kvHeads()) {
            throw new IllegalArgumentException("kv_groups must be between 1 and num_key_value_heads " + spec.kvHeads() + ", got " + kv);
        }
        if (kv != spec.kvHeads() && spec.family().traits().attention() == Family.Attention.MLA) {
            throw new IllegalArgumentException("kv_groups: " + spec.family().name()
                    + " uses multi-head latent attention, which has no GQA groups to remove; keep all " + spec.kvHeads());
        }
        if (spec.heads() % spec.kvHeads() != 0) {
            throw new IllegalArgumentException(spec.heads() + " attention heads do not split into " + spec.kvHeads() + " KV groups");
        }
        return new Target(width, sharedWidth(spec, width), kv);
    }

    /** The input's own sizes (a step that keeps everything). */
    public static Target of(ModelSpec spec) {
        int ffn = expertFfn(spec);
        return new Target(ffn, sharedWidth(spec, ffn), spec.kvHeads());
    }

    /**
     * The targets of {@code stages} rounds from {@code spec} to {@code last}: expert widths geometric
     * ({@code F * (f_target)^(s/S)}) or linear between the input's and the target's, KV groups removed evenly
     * ({@code round((kv - kv_target) * s / S)} removed after round {@code s}); the last round reaches {@code last}.
     */
    public static List<Target> schedule(ModelSpec spec, Target last, int stages, Widths widths) {
        if (stages < 1) {
            throw new IllegalArgumentException("stages must be >= 1, got " + stages);
        }
        int f0 = expertFfn(spec);
        int kv0 = spec.kvHeads();
        double ratio = (double) last.ffn() / f0;
        List<Target> out = new ArrayList<>();
        int prev = f0;
        for (int s = 1; s <= stages; s++) {
            double t = (double) s / stages;
            int w = s == stages ? last.ffn()
                    : (int) Math.round(widths == Widths.GEOMETRIC ? f0 * Math.pow(ratio, t) : f0 + (last.ffn() - f0) * t);
            w = Math.max(last.ffn(), Math.min(prev, w));
            int kv = kv0 - (int) Math.round((kv0 - last.kvGroups()) * t);
            out.add(new Target(w, sharedWidth(spec, w), kv));
            prev = w;
        }
        return out;
    }

    /** The one routed-expert width of the model; fails when MoE layers differ or there are none. */
    static int expertFfn(ModelSpec spec) {
        int ffn = -1;
        for (LayerSpec l : spec.layerSpecs()) {
            if (!l.moe()) {
                continue;
            }
            if (ffn >= 0 && l.expertFfn() != ffn) {
                throw new IllegalArgumentException("slim: MoE layers have different expert widths (" + ffn + ", " + l.expertFfn()
                        + " in layer " + l.index() + "); SlimMoE keeps one intermediate_size");
            }
            ffn = l.expertFfn();
        }
        if (ffn < 0) {
            throw new IllegalArgumentException("slim: the model has no MoE layer (family " + spec.family().name() + ")");
        }
        return ffn;
    }

    /** The shared-expert width that goes with expert width {@code width} (0 without shared experts). */
    static int sharedWidth(ModelSpec spec, int width) {
        int f0 = expertFfn(spec);
        int shared = 0;
        for (LayerSpec l : spec.layerSpecs()) {
            if (l.moe() && l.sharedFfn() > 0) {
                int s = derivedShared(spec) ? l.sharedExperts() * width : Math.max(1, (int) Math.round((double) l.sharedFfn() * width / f0));
                if (shared > 0 && s != shared) {
                    throw new IllegalArgumentException("slim: shared experts differ in width across layers");
                }
                shared = s;
            }
        }
        return shared;
    }

    /** Whether the family derives the shared width from the expert width (DeepSeek) instead of a config key of its own. */
    static boolean derivedShared(ModelSpec spec) {
        return spec.family().configKeys().getOrDefault("shared_ffn", List.of()).isEmpty();
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "expert ffn %d%s, %d kv groups", ffn, sharedFfn > 0 ? ", shared ffn " + sharedFfn : "", kvGroups);
    }
}
