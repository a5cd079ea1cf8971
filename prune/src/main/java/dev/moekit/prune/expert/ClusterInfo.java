package dev.moekit.prune.expert;

import java.util.Arrays;

/**
 * Why a clustering method kept what it kept for one output expert: per member (in {@link KeptExpert#members()} order)
 * how much it is used and how alike its weights are to what is kept.
 *
 * @param usage          per member: its usage (STUN: gate mass from calibration, or the router-row norm)
 * @param cosine         per member: cosine of its flattened expert weights with the kept weights (the representative's,
 *                       1 for the representative itself; the members' mean when averaged)
 * @param meanPairCosine mean weight cosine over the member pairs; NaN for a single member
 */
public record ClusterInfo(double[] usage, double[] cosine, double meanPairCosine) {
    public ClusterInfo {
        usage = usage.clone();
        cosine = cosine.clone();
        if (usage.length != cosine.length) {
            throw new IllegalArgumentException("usage and cosine need one entry per member, got " + usage.length + " and " + cosine.length);
        }
    }

    @Override
    public double[] usage() {
        return usage.clone();
    }

    @Override
    public double[] cosine() {
        return cosine.clone();
    }

    @Override
    public String toString() {
        return "usage " + Arrays.toString(usage) + " cosine " + Arrays.toString(cosine) + " mean pair cosine " + meanPairCosine;
    }
}
