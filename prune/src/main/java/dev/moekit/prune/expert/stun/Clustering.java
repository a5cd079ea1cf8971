package dev.moekit.prune.expert.stun;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * The clusters of one layer: each a sorted array of expert indices, clusters ordered by their smallest member.
 *
 * @param experts  experts of the layer
 * @param clusters disjoint clusters covering 0..experts-1
 * @param tau      the threshold that produced it
 */
record Clustering(int experts, List<int[]> clusters, double tau) {
    Clustering {
        List<int[]> c = new ArrayList<>();
        boolean[] seen = new boolean[experts];
        for (int[] k : clusters) {
            int[] s = k.clone();
            Arrays.sort(s);
            for (int v : s) {
                if (v < 0 || v >= experts || seen[v]) {
                    throw new IllegalArgumentException("cluster " + Arrays.toString(s) + " repeats or exceeds expert " + v);
                }
                seen[v] = true;
            }
            c.add(s);
        }
        for (int v = 0; v < experts; v++) {
            if (!seen[v]) {
                throw new IllegalArgumentException("expert " + v + " is in no cluster");
            }
        }
        c.sort(Comparator.comparingInt(a -> a[0]));
        clusters = List.copyOf(c);
    }

    static Clustering singletons(int experts) {
        List<int[]> c = new ArrayList<>();
        for (int i = 0; i < experts; i++) {
            c.add(new int[] {i});
        }
        return new Clustering(experts, c, Double.NEGATIVE_INFINITY);
    }

    int size() {
        return clusters.size();
    }
}
