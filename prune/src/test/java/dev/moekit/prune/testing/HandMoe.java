package dev.moekit.prune.testing;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.testing.TinyCheckpoints;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A one-layer fp32 Mixtral (hidden 32, expert width 16, top-2) from {@link TinyCheckpoints} with hand-set router rows
 * and expert weights: expert e's w1/w3/w2 are {@code scale[e] * (common * B + own_e)}, with B one random matrix shared
 * by all experts and own_e TinyCheckpoints' own random values (std 0.02). {@code common = 0} gives nearly orthogonal
 * experts (cosine ~0.02), {@code common = 3} near copies (cosine ~0.9, as upcycled experts).
 */
public final class HandMoe {
    public static final int HIDDEN = 32;

    private HandMoe() {}

    /**
     * @param router [E][HIDDEN] router rows
     * @param scale  [E] scale of each expert's weights
     */
    public static Path write(Path dir, float[][] router, double[] scale, double common) {
        int experts = router.length;
        Path base = TinyCheckpoints.builder("mixtral").layers(1).experts(experts).hidden(HIDDEN).dtype(DType.F32)
                .write(dir.resolveSibling(dir.getFileName() + ".base"));
        try (Checkpoint in = Checkpoint.open(base)) {
            ModelSpec spec = ModelSpec.of(in);
            List<TensorSpec> specs = in.names().stream().map(n -> TensorSpec.of(in.info(n))).toList();
            try (CheckpointWriter w = CheckpointWriter.create(dir, specs, CheckpointWriter.Options.defaults().withReplace(true))) {
                for (String n : in.names()) {
                    w.write(n, values(in, spec, n, router, scale, common));
                }
                return w.commit(in.config());
            }
        }
    }

    private static float[] values(Checkpoint in, ModelSpec spec, String name, float[][] router, double[] scale, double common) {
        float[] v = in.floats(name);
        if (name.equals(spec.name(Role.ROUTER, 0))) {
            for (int e = 0; e < router.length; e++) {
                System.arraycopy(router[e], 0, v, e * HIDDEN, HIDDEN);
            }
            return v;
        }
        for (Role r : new Role[] {Role.EXPERT_GATE, Role.EXPERT_UP, Role.EXPERT_DOWN}) {
            for (int e = 0; e < router.length; e++) {
                if (name.equals(spec.name(r, 0, e))) {
                    SplittableRandom rnd = new SplittableRandom(r.ordinal());
                    for (int i = 0; i < v.length; i++) {
                        v[i] = (float) (scale[e] * (common * rnd.nextGaussian() * 0.02 + v[i]));
                    }
                    return v;
                }
            }
        }
        return v;
    }

    /** Router rows: expert e gets {@code direction[e]} (a unit axis index) times 1, plus {@code offset[e]} on axis 31. */
    public static float[][] router(int[] direction, double[] offset) {
        float[][] r = new float[direction.length][HIDDEN];
        for (int e = 0; e < direction.length; e++) {
            r[e][direction[e]] = 1;
            r[e][HIDDEN - 1] += (float) offset[e];
        }
        return r;
    }
}
