package dev.moekit.prune.sparse;

/**
 * OWL, outlier-weighed layerwise sparsity (Yin et al., arXiv 2310.05175; STUN's copy {@code OWL/lib/prune_all.py}).
 *
 * <p>LOD_l = 100 * |{ S_ij > M * mean(S) }| / |S| over all Wanda scores S of decoder layer l (all its linears
 * together; README runs use M = 5). Then LOD is scaled to [0, 2 lambda] (lambda = 0.08), centred by subtracting its
 * mean, and added to the keep ratio 1 - S: layer sparsity S_l = 1 - (1 - S + scaled_l - mean). The S_l average to S
 * and span a window of width 2 lambda (exactly [S - lambda, S + lambda] when the scaled ratios average lambda); layers
 * with more outliers get lower sparsity. All linears of a layer share S_l.
 *
 * <p>Small or large targets: because the window is centred on the mean of the scaled ratios, not on its middle, a
 * layer may sit up to 2 lambda from S, so with S < 2 lambda (e.g. a stage target near 0 after expert pruning took most
 * of a total budget) the reference formula gives negative sparsities. Here the spread is shrunk to
 * lambda' = min(lambda, S / 2, (1 - S) / 2): every S_l then stays strictly inside (0, 1) and they still average S.
 * For S in [2 lambda, 1 - 2 lambda] (the reference's use) nothing changes.
 */
final class Owl {
    private Owl() {}

    /** Streaming LOD of one layer: feed all scores twice, first for the mean, then for the count. */
    static final class Outliers {
        private final double m;
        private double sum;
        private long n;
        private long above;
        private double threshold = Double.NaN;

        Outliers(double m) {
            this.m = m;
        }

        void addForMean(float s) {
            sum += s;
            n++;
        }

        /** Ends the first pass. */
        void fixMean() {
            threshold = n == 0 ? Double.POSITIVE_INFINITY : m * (sum / n);
        }

        void addForCount(float s) {
            if (s > threshold) {
                above++;
            }
        }

        /** Percentage of scores above M times the mean. */
        double ratio() {
            return n == 0 ? 0 : 100.0 * above / n;
        }
    }

    /** The spread actually used: lambda, shrunk so that every layer target stays in (0, 1) (see the class comment). */
    static double spread(double target, double lambda) {
        return Math.min(lambda, Math.min(target, 1 - target) / 2);
    }

    /** Per-layer sparsities from outlier ratios; equal ratios (no spread) give every layer the target S. */
    static double[] layerSparsities(double[] lod, double target, double lambda) {
        lambda = spread(target, lambda);
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (double v : lod) {
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        double[] s = new double[lod.length];
        if (!(max > min)) {
            java.util.Arrays.fill(s, target);
            return s;
        }
        double[] scaled = new double[lod.length];
        double mean = 0;
        for (int l = 0; l < lod.length; l++) {
            scaled[l] = (lod[l] - min) / (max - min) * lambda * 2;
            mean += scaled[l];
        }
        mean /= lod.length;
        for (int l = 0; l < lod.length; l++) {
            double keep = scaled[l] - mean + (1 - target);
            s[l] = 1 - keep;
        }
        return s;
    }
}
