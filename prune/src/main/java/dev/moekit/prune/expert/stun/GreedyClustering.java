package dev.moekit.prune.expert.stun;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * STUN's greedy agglomerative clustering with a complete-linkage acceptance test ({@code greedy_but_reject_mixed}).
 *
 * <p>Start from singletons. Repeatedly take the globally smallest remaining D_ij (ties: smaller i, then smaller j, as
 * argmin over the flattened matrix). If its two clusters A and B differ, merge them only if <em>every</em> cross
 * distance D_pq (p in A, q in B) is below tau; otherwise mark the pair infinite and go on. Stop when the smallest
 * remaining distance is at least tau, or when the layer has lost {@code maxPrune} experts (E - clusters = maxPrune;
 * the reference's {@code top_k} argument).
 *
 * <p>Marking taken pairs infinite never lowers an entry, so "smallest remaining" is the same as walking the pairs
 * once in ascending order: the pairs are sorted once per layer ({@link #of}) and every threshold is then a linear
 * pass. The reference checks only distances from A's members to j and from B's members to i (and its infinite marks
 * make later checks fail); this class checks all cross pairs, the complete linkage the paper describes.
 */
final class GreedyClustering {
    private final double[][] d;
    private final int[] pairI;
    private final int[] pairJ;
    private final double[] pairD;

    private GreedyClustering(double[][] d, int[] pairI, int[] pairJ, double[] pairD) {
        this.d = d;
        this.pairI = pairI;
        this.pairJ = pairJ;
        this.pairD = pairD;
    }

    /** Prepares the clustering of one layer's symmetric distance matrix (NaN entries are refused). */
    static GreedyClustering of(double[][] d) {
        int e = d.length;
        int n = e * (e - 1) / 2;
        Integer[] order = new Integer[n];
        int[] pi = new int[n];
        int[] pj = new int[n];
        double[] pd = new double[n];
        int k = 0;
        for (int i = 0; i < e; i++) {
            if (d[i].length != e) {
                throw new IllegalArgumentException("distance matrix row " + i + " has " + d[i].length + " entries, expected " + e);
            }
            for (int j = i + 1; j < e; j++) {
                if (Double.isNaN(d[i][j])) {
                    throw new IllegalArgumentException("distance between experts " + i + " and " + j + " is NaN");
                }
                pi[k] = i;
                pj[k] = j;
                pd[k] = d[i][j];
                order[k] = k;
                k++;
            }
        }
        Arrays.sort(order, (a, b) -> a.intValue() == b.intValue() ? 0 : pd[a] != pd[b] ? Double.compare(pd[a], pd[b]) : Integer.compare(a, b));
        int[] si = new int[n];
        int[] sj = new int[n];
        double[] sd = new double[n];
        for (int t = 0; t < n; t++) {
            si[t] = pi[order[t]];
            sj[t] = pj[order[t]];
            sd[t] = pd[order[t]];
        }
        return new GreedyClustering(d, si, sj, sd);
    }

    int experts() {
        return d.length;
    }

    /** The distinct pair distances in ascending order: the only points where the result can change with tau. */
    double[] distinctDistances() {
        return Arrays.stream(pairD).distinct().toArray();
    }

    /** Clusters with threshold {@code tau}, pruning at most {@code maxPrune} experts. */
    Clustering run(double tau, int maxPrune) {
        int e = d.length;
        int[] cid = new int[e];
        List<List<Integer>> members = new ArrayList<>();
        for (int i = 0; i < e; i++) {
            cid[i] = i;
            members.add(new ArrayList<>(List.of(i)));
        }
        int clusters = e;
        for (int t = 0; t < pairD.length && clusters > e - maxPrune; t++) {
            if (!(pairD[t] < tau)) {
                break;
            }
            int a = cid[pairI[t]];
            int b = cid[pairJ[t]];
            if (a == b || !allBelow(members.get(a), members.get(b), tau)) {
                continue;
            }
            for (int v : members.get(b)) {
                cid[v] = a;
            }
            members.get(a).addAll(members.get(b));
            members.get(b).clear();
            clusters--;
        }
        List<int[]> out = new ArrayList<>();
        for (List<Integer> m : members) {
            if (!m.isEmpty()) {
                out.add(m.stream().mapToInt(Integer::intValue).toArray());
            }
        }
        return new Clustering(e, out, tau);
    }

    private boolean allBelow(List<Integer> a, List<Integer> b, double tau) {
        for (int p : a) {
            for (int q : b) {
                if (!(d[p][q] < tau)) {
                    return false;
                }
            }
        }
        return true;
    }
}
