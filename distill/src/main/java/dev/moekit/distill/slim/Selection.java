package dev.moekit.distill.slim;

import dev.moekit.toolkit.model.LayerSpec;
import dev.moekit.toolkit.model.ModelSpec;
import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * What one slimming step keeps, as indices into the current model, each list ascending (kept units stay in their
 * order): per MoE layer and routed expert the kept FFN neurons (the same count {@code ffn} everywhere, each expert its
 * own indices), per layer the kept shared-expert neurons, and per layer the kept GQA groups (a KV head with its
 * {@code heads/kv_heads} query heads; the same count in every layer).
 *
 * @param ffn       expert FFN width after the step
 * @param sharedFfn shared-expert FFN width after the step (0 when the model has none)
 * @param kvGroups  KV groups kept per layer
 * @param experts   {@code [layer][expert]} kept neurons; {@code [layer]} is empty for dense layers
 * @param shared    {@code [layer]} kept shared-expert neurons, null where the layer has no shared expert
 * @param groups    {@code [layer]} kept KV-group indices
 */
public record Selection(int ffn, int sharedFfn, int kvGroups, int[][][] experts, int[][] shared, int[][] groups) {
    /** Keeps the first units (only counts matter: planning a layout before any score exists, or keeping all). */
    public static Selection prefix(ModelSpec spec, Target t) {
        int layers = spec.layers();
        int[][][] ex = new int[layers][][];
        int[][] sh = new int[layers][];
        int[][] gr = new int[layers][];
        for (int l = 0; l < layers; l++) {
            LayerSpec ls = spec.layer(l);
            ex[l] = new int[ls.moe() ? ls.experts() : 0][];
            Arrays.fill(ex[l], IntStream.range(0, t.ffn()).toArray());
            sh[l] = ls.moe() && ls.sharedFfn() > 0 ? IntStream.range(0, t.sharedFfn()).toArray() : null;
            gr[l] = IntStream.range(0, t.kvGroups()).toArray();
        }
        return new Selection(t.ffn(), t.sharedFfn(), t.kvGroups(), ex, sh, gr);
    }

    /**
     * Keeps the highest-scoring units of {@code s} to reach {@code t}: in every expert its own top-{@code ffn} neurons,
     * the top shared-expert neurons, the top KV groups of each layer. Ties keep the lower index (a stable order), so a
     * unit of score 0 goes before any unit with a positive score.
     */
    public static Selection top(ModelSpec spec, Scores s, Target t) {
        int layers = spec.layers();
        int[][][] ex = new int[layers][][];
        int[][] sh = new int[layers][];
        int[][] gr = new int[layers][];
        for (int l = 0; l < layers; l++) {
            LayerSpec ls = spec.layer(l);
            ex[l] = new int[ls.moe() ? ls.experts() : 0][];
            for (int e = 0; e < ex[l].length; e++) {
                ex[l][e] = top(s.experts()[l][e], t.ffn());
            }
            sh[l] = ls.moe() && ls.sharedFfn() > 0 ? top(s.shared()[l], t.sharedFfn()) : null;
            gr[l] = top(s.groups()[l], t.kvGroups());
        }
        return new Selection(t.ffn(), t.sharedFfn(), t.kvGroups(), ex, sh, gr);
    }

    /** Indices of the {@code k} largest values, ascending. */
    static int[] top(double[] v, int k) {
        if (k > v.length) {
            throw new IllegalArgumentException("cannot keep " + k + " of " + v.length + " units");
        }
        Integer[] order = IntStream.range(0, v.length).boxed().toArray(Integer[]::new);
        Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -v[i]));   // stable: ties keep index order
        int[] kept = new int[k];
        for (int i = 0; i < k; i++) {
            kept[i] = order[i];
        }
        Arrays.sort(kept);
        return kept;
    }
}
