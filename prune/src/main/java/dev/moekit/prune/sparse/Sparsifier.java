package dev.moekit.prune.sparse;

import dev.moekit.toolkit.method.Method;
import dev.moekit.toolkit.method.MethodKind;
import java.util.Arrays;

/**
 * Plugin kind {@code sparsifier}: decides how sparse each decoder layer gets for a mean target (Wanda: every layer the
 * same; OWL: from each layer's outlier ratio), possibly after a dense measuring pass over the calibration text. The
 * masks are Wanda's in every case ({@link UnstructuredPruner}: |W_ij| * ||X_j||, sequential layer by layer).
 *
 * <p>N:M patterns are the {@code sparsify} stage's {@code nm} key, not a method of their own: a method that
 * {@link #supportsNm} accepts it (Wanda), the others refuse it when the recipe is read.
 *
 * @param <P> the method's parameter record (keys beside the stage's own in a {@code sparsify:} entry)
 */
public interface Sparsifier<P extends Record> extends Method<P> {
    @SuppressWarnings({"unchecked", "rawtypes"})
    MethodKind<Sparsifier<?>> KIND = new MethodKind<>("sparsifier", (Class) Sparsifier.class,
            "zero individual Linear weights: each method sets the per-layer sparsity, Wanda's masks prune");

    @Override
    default MethodKind<?> kind() {
        return KIND;
    }

    /** Per decoder layer, the fraction of zeros per pruned Linear; the targets average {@code sparsity}. */
    Targets targets(P params, double sparsity, SparsifyInput input);

    /** Whether the method prunes N:M patterns (the stage's {@code nm} key). */
    default boolean supportsNm() {
        return false;
    }

    /**
     * Per-layer targets.
     *
     * @param sparsity      [layers] target sparsity of each decoder layer, each in [0, 1]
     * @param outlierRatios [layers] what the targets were derived from (OWL's outlier ratio in percent), or NaN
     */
    record Targets(double[] sparsity, double[] outlierRatios) {
        public Targets {
            sparsity = sparsity.clone();
            outlierRatios = outlierRatios.clone();
            if (sparsity.length != outlierRatios.length) {
                throw new IllegalArgumentException("targets for " + sparsity.length + " layers but " + outlierRatios.length + " ratios");
            }
            for (int l = 0; l < sparsity.length; l++) {
                if (!(sparsity[l] >= 0 && sparsity[l] <= 1)) {
                    throw new IllegalArgumentException("layer " + l + ": sparsity must be in [0, 1], got " + sparsity[l]);
                }
            }
        }

        /** Every one of {@code layers} layers at {@code s}. */
        public static Targets uniform(int layers, double s) {
            double[] t = new double[layers];
            double[] r = new double[layers];
            Arrays.fill(t, s);
            Arrays.fill(r, Double.NaN);
            return new Targets(t, r);
        }

        @Override
        public double[] sparsity() {
            return sparsity.clone();
        }

        @Override
        public double[] outlierRatios() {
            return outlierRatios.clone();
        }
    }
}
