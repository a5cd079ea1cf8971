package dev.moekit.prune.expert;

import java.util.Arrays;
import java.util.List;

/**
 * The decision for one MoE layer.
 *
 * @param layer    decoder layer index
 * @param experts  routed experts before pruning
 * @param kept     output experts in order (output expert j = {@code kept.get(j)})
 * @param scores   per original expert: the criterion's score, or for STUN nothing (null)
 * @param tau      STUN threshold that produced the clusters (NaN for scorers)
 * @param clusters per output expert (aligned with {@code kept}): its members' usage and weight cosines; empty when
 *                 the method does not cluster
 */
public record LayerResult(int layer, int experts, List<KeptExpert> kept, double[] scores, double tau, List<ClusterInfo> clusters) {
    public LayerResult {
        kept = List.copyOf(kept);
        clusters = List.copyOf(clusters);
        if (!clusters.isEmpty()) {
            if (clusters.size() != kept.size()) {
                throw new IllegalArgumentException("layer " + layer + ": " + clusters.size() + " cluster infos for " + kept.size() + " kept experts");
            }
            for (int i = 0; i < kept.size(); i++) {
                if (clusters.get(i).usage().length != kept.get(i).members().length) {
                    throw new IllegalArgumentException("layer " + layer + ": cluster info of expert " + kept.get(i) + " has the wrong member count");
                }
            }
        }
        scores = scores == null ? null : scores.clone();
        boolean[] seen = new boolean[experts];
        int last = -1;
        for (KeptExpert k : kept) {
            if (k.source() <= last) {
                throw new IllegalArgumentException("layer " + layer + ": kept experts must be in increasing source order");
            }
            last = k.source();
            for (int m : k.members()) {
                if (m < 0 || m >= experts || seen[m]) {
                    throw new IllegalArgumentException("layer " + layer + ": expert " + m + " appears twice or is out of range");
                }
                seen[m] = true;
            }
        }
    }

    /** A decision without cluster details (scorers). */
    public LayerResult(int layer, int experts, List<KeptExpert> kept, double[] scores, double tau) {
        this(layer, experts, kept, scores, tau, List.of());
    }

    @Override
    public double[] scores() {
        return scores == null ? null : scores.clone();
    }

    /** Original indices of the kept representatives, in output order. */
    public int[] keptIndices() {
        return kept.stream().mapToInt(KeptExpert::source).toArray();
    }

    public boolean pruned() {
        return kept.size() < experts;
    }

    @Override
    public String toString() {
        return "layer " + layer + ": " + kept.size() + "/" + experts + " " + kept + (scores == null ? "" : " scores " + Arrays.toString(scores));
    }
}
