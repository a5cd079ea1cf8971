package dev.moekit.eval.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;

/**
 * A right-padded batch of token sequences.
 *
 * @param ids       {@code [B * T]} token ids, row-major
 * @param mask      {@code [B * T]} 1 for tokens, 0 for padding (padding only after the tokens of a row)
 * @param rows      B
 * @param length    T
 */
public record TokenBatch(int[] ids, int[] mask, int rows, int length) {
    public TokenBatch {
        if (rows < 1 || length < 1 || ids.length != rows * length || mask.length != ids.length) {
            throw new IllegalArgumentException("token batch of " + ids.length + " ids and " + mask.length
                    + " mask values does not match " + rows + " x " + length);
        }
    }

    /** A batch of full windows (no padding): {@code windows[b]} all of one length. */
    public static TokenBatch of(int[][] windows) {
        int t = windows[0].length;
        int[] ids = new int[windows.length * t];
        for (int b = 0; b < windows.length; b++) {
            if (windows[b].length != t) {
                throw new IllegalArgumentException("window " + b + " has " + windows[b].length + " tokens, not " + t);
            }
            System.arraycopy(windows[b], 0, ids, b * t, t);
        }
        int[] mask = new int[ids.length];
        Arrays.fill(mask, 1);
        return new TokenBatch(ids, mask, windows.length, t);
    }

    /** Number of real (non-padding) tokens. */
    public int tokens() {
        int n = 0;
        for (int m : mask) {
            n += m;
        }
        return n;
    }

    NDArray idsArray(NDManager m) {
        return m.create(ids, new Shape(rows, length)).toType(ai.djl.ndarray.types.DataType.INT64, false);
    }

    NDArray maskArray(NDManager m) {
        return m.create(mask, new Shape(rows, length));
    }
}
