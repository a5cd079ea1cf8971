package dev.moekit.prune.stats;

/**
 * Input statistics of one Linear for Wanda/OWL: per input channel j the sum over calibration tokens of x_j^2.
 * For a routed expert only the tokens routed to that expert count.
 *
 * <p>Wanda's reference code keeps {@code scaler_row} = running mean over forward <em>calls</em> of ||X_j||^2
 * (sum of squares divided by the number of batches the Linear saw, not by tokens); {@link #scale} reproduces that so
 * the scores, and therefore OWL's layer-wide outlier ratios which mix linears with different token counts, match.
 *
 * @param sumSquares [in] sum over tokens of x_j^2
 * @param tokens     tokens seen (0: the Linear received no calibration data, e.g. a never-routed expert)
 * @param batches    forward calls that carried at least one token
 */
public record ActivationNorms(double[] sumSquares, long tokens, long batches) {
    public ActivationNorms {
        sumSquares = sumSquares.clone();
        if (tokens < 0 || batches < 0 || (tokens == 0) != (batches == 0)) {
            throw new IllegalArgumentException("activation norms: bad token/batch counts " + tokens + "/" + batches);
        }
    }

    @Override
    public double[] sumSquares() {
        return sumSquares.clone();
    }

    public int inFeatures() {
        return sumSquares.length;
    }

    public boolean empty() {
        return tokens == 0;
    }

    /** sqrt(scaler_row_j) = sqrt(sum_tokens x_j^2 / batches): the per-channel factor of the Wanda score. */
    public double[] scale() {
        double[] s = new double[sumSquares.length];
        if (batches == 0) {
            return s;
        }
        for (int j = 0; j < s.length; j++) {
            s[j] = Math.sqrt(sumSquares[j] / batches);
        }
        return s;
    }

    /** Statistics of an input batch {@code x} [tokens, in], row-major. */
    public static ActivationNorms of(float[] x, int in) {
        return new Builder(in).add(x).build();
    }

    /** Accumulates batches of inputs. */
    public static final class Builder {
        private final double[] sums;
        private long tokens;
        private long batches;

        public Builder(int in) {
            sums = new double[in];
        }

        /** Adds one forward call's input {@code x} [tokens, in]; an empty batch is not counted. */
        public Builder add(float[] x) {
            int in = sums.length;
            if (x.length % in != 0) {
                throw new IllegalArgumentException("input of " + x.length + " values is not a multiple of " + in + " features");
            }
            int n = x.length / in;
            if (n == 0) {
                return this;
            }
            for (int t = 0; t < n; t++) {
                for (int j = 0; j < in; j++) {
                    double v = x[t * in + j];
                    sums[j] += v * v;
                }
            }
            tokens += n;
            batches++;
            return this;
        }

        /** Adds one forward call given its per-channel sums of squares over {@code tokens} rows (0 rows: ignored). */
        public Builder addSums(float[] sumSquares, long tokens) {
            if (sumSquares.length != sums.length) {
                throw new IllegalArgumentException("sums over " + sumSquares.length + " channels, expected " + sums.length);
            }
            if (tokens == 0) {
                return this;
            }
            for (int j = 0; j < sums.length; j++) {
                sums[j] += sumSquares[j];
            }
            this.tokens += tokens;
            batches++;
            return this;
        }

        public ActivationNorms build() {
            return new ActivationNorms(sums, tokens, batches);
        }
    }
}
