package dev.moekit.distill.ce;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.ForwardObserver;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.eval.runtime.TokenBatch;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.model.ModelSpec;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.function.UnaryOperator;

/** Checkpoints and forwards for the compressed-experts tests. */
final class CeFixtures {
    private CeFixtures() {}

    static Path shared() {
        return Path.of(System.getProperty("moekit.shared", "../shared")).toAbsolutePath().normalize();
    }

    static Path model(String name) {
        return shared().resolve("models").resolve(name);
    }

    /** The compressed-experts (or plain top-main) checkpoint of {@code src} with ces at ones. */
    static Path compress(Path src, Path dst, int main, boolean compressed, String layout) {
        try (Checkpoint in = Checkpoint.open(src)) {
            ModelSpec spec = ModelSpec.of(in);
            ObjectNode cfg = CeCheckpoint.config(spec, main, compressed, dev.moekit.toolkit.model.CompressedExperts.Layout.parse(layout));
            CeCheckpoint.write(in, spec, cfg, compressed, dst, src);
        }
        return dst;
    }

    /** A copy of {@code src} with its config edited and tensors named {@code *.ces} set to uniform values in [0.5, 1.5). */
    static Path copy(Path src, Path dst, UnaryOperator<ObjectNode> config, long cesSeed) {
        Random r = new Random(cesSeed);
        try (Checkpoint in = Checkpoint.open(src)) {
            List<TensorSpec> plan = in.names().stream().map(n -> TensorSpec.of(in.info(n))).toList();
            try (CheckpointWriter w = CheckpointWriter.create(dst, plan, CheckpointWriter.Options.defaults(), src)) {
                for (TensorSpec t : plan) {
                    if (cesSeed != 0 && t.name().endsWith(".ces")) {
                        float[] v = new float[Math.toIntExact(t.numel())];
                        for (int i = 0; i < v.length; i++) {
                            v[i] = 0.5f + r.nextFloat();
                        }
                        w.write(t.name(), v);
                    } else {
                        w.copy(t.name(), in.shard(t.name()), t.name());
                    }
                }
                w.copyOtherFiles(in);
                w.commit(config.apply(in.config().deepCopy()));
            }
        }
        return dst;
    }

    /** Fixed token windows below {@code vocab}. */
    static TokenBatch batch(int rows, int length, int vocab) {
        int[][] ids = new int[rows][length];
        for (int r = 0; r < rows; r++) {
            for (int t = 0; t < length; t++) {
                ids[r][t] = (int) ((7L * t * t + 13L * r + 3L * t + 1) % vocab);
            }
        }
        return TokenBatch.of(ids);
    }

    /** fp32 logits {@code [B*T*V]} of one batch. */
    static float[] logits(Path dir, TokenBatch batch, ForwardObserver obs) {
        float[][] out = new float[1][];
        try (CausalLm lm = CausalLm.open(dir, RuntimeOptions.cpu())) {
            lm.run(List.of(batch), obs, (i, b, l) -> out[0] = l.toFloatArray());
        }
        return out[0];
    }

    static double maxAbsDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }
}
