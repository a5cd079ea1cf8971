package dev.moekit.prune.expert;

import java.util.Arrays;

/**
 * One expert of the pruned layer, in output order.
 *
 * @param source   original index of the expert whose weights and router row are kept (for an averaged cluster: its
 *                 smallest member, used only for ordering)
 * @param members  original indices this output expert stands for (sorted; one for scorer-based pruning)
 * @param averaged whether weights, router rows and router biases are the members' mean instead of {@code source}'s
 */
public record KeptExpert(int source, int[] members, boolean averaged) {
    public KeptExpert {
        members = members.clone();
        Arrays.sort(members);
        if (Arrays.binarySearch(members, source) < 0) {
            throw new IllegalArgumentException("kept expert " + source + " is not among its members " + Arrays.toString(members));
        }
        if (averaged && members.length < 2) {
            throw new IllegalArgumentException("expert " + source + ": averaging needs at least two members");
        }
    }

    @Override
    public int[] members() {
        return members.clone();
    }

    /** An expert kept as itself. */
    public static KeptExpert single(int e) {
        return new KeptExpert(e, new int[] {e}, false);
    }

    @Override
    public String toString() {
        return (averaged ? "mean" : Integer.toString(source)) + Arrays.toString(members);
    }
}
