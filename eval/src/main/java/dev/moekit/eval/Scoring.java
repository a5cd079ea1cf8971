package dev.moekit.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/**
 * Next-token scores of one batch, on the device; only small per-position vectors come back to the host.
 * Position {@code t} predicts token {@code t+1}; a position counts when both tokens are real (not padding).
 */
final class Scoring {
    private Scoring() {}

    /** Log-probabilities of the predicting positions: {@code [B, T-1, V]} fp32. */
    static NDArray logProbs(NDArray logits) {
        return logits.get(":, :-1, :").logSoftmax(-1);
    }

    /** Negative log-likelihood of each next token {@code [B*(T-1)]}, from {@link #logProbs}. */
    static float[] nll(NDArray logProbs, NDArray ids) {
        NDArray targets = ids.get(":, 1:").toType(DataType.INT64, false).expandDims(-1);   // [B, T-1, 1]
        return logProbs.gather(targets, -1).neg().reshape(-1).toFloatArray();
    }

    /** Which predicting positions count: {@code [B*(T-1)]}. */
    static boolean[] scored(int[] mask, int rows, int length) {
        boolean[] s = new boolean[rows * (length - 1)];
        for (int b = 0; b < rows; b++) {
            for (int t = 0; t < length - 1; t++) {
                s[b * (length - 1) + t] = mask[b * length + t] != 0 && mask[b * length + t + 1] != 0;
            }
        }
        return s;
    }

    /** {@code KL(P_ref || Q) = sum_v p (log p - log q)} per position {@code [B*(T-1)]}. */
    static float[] kl(NDArray logQ, NDArray logP) {
        return logP.exp().mul(logP.sub(logQ)).sum(new int[] {-1}).reshape(-1).toFloatArray();
    }

    /** Whether the two distributions share their argmax, per position {@code [B*(T-1)]}. */
    static boolean[] sameTop1(NDArray logQ, NDArray logP) {
        return logQ.argMax(-1).eq(logP.argMax(-1)).reshape(-1).toBooleanArray();
    }
}
