package dev.moekit.prune.expert;

/**
 * Reads the weights of a layer's routed experts as fp32, part by part (Mixtral: w1, w3, w2; fused layouts: gate_up,
 * down), in chunks so that memory does not grow with the expert size. Close it after the layer (a checkpoint reader
 * holds file channels).
 */
public interface ExpertReader extends AutoCloseable {
    /** Experts in the layer. */
    int experts();

    /** Tensors per expert. */
    int parts();

    /** Elements of one expert's part {@code part}. */
    long size(int part);

    /** Decodes {@code count} elements of expert {@code e}'s part from element {@code from} into {@code dst[0..count)}. */
    void read(int e, int part, long from, float[] dst, int count);

    /** Row length of a part (its last dimension), used to shape whole-part reads. */
    int columns(int part);

    /** The whole part of one expert (for tensors under 2^31 elements). */
    default float[] readAll(int e, int part) {
        long n = size(part);
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("expert " + e + " part " + part + " has " + n + " elements, too many for one array");
        }
        float[] out = new float[(int) n];
        read(e, part, 0, out, (int) n);
        return out;
    }

    /**
     * One expert as a SwiGLU FFN {gate [ffn, hidden], up [ffn, hidden], down [hidden, ffn]}: parts 0, 1, 2 of a
     * per-expert layout, or the halves of a fused gate_up part (gate first, as transformers' {@code chunk(2)}) and down.
     */
    default float[][] ffn(int e) {
        if (parts() == 3) {
            return new float[][] {readAll(e, 0), readAll(e, 1), readAll(e, 2)};
        }
        float[] gateUp = readAll(e, 0);
        int half = gateUp.length / 2;
        return new float[][] {java.util.Arrays.copyOfRange(gateUp, 0, half), java.util.Arrays.copyOfRange(gateUp, half, gateUp.length), readAll(e, 1)};
    }

    @Override
    default void close() {}

    /** An in-memory reader over {@code weights[expert][part]}, all parts with the given row lengths. */
    static ExpertReader of(float[][][] weights, int[] columns) {
        return new ExpertReader() {
            @Override
            public int experts() {
                return weights.length;
            }

            @Override
            public int parts() {
                return weights[0].length;
            }

            @Override
            public long size(int part) {
                return weights[0][part].length;
            }

            @Override
            public void read(int e, int part, long from, float[] dst, int count) {
                System.arraycopy(weights[e][part], (int) from, dst, 0, count);
            }

            @Override
            public int columns(int part) {
                return columns[part];
            }
        };
    }
}
