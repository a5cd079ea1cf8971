package dev.moekit.distill;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import dev.moekit.eval.runtime.Engines;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.TensorSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.function.Predicate;
import java.util.stream.Stream;

/** Reference models, data and perturbed students for the training tests. */
final class Fixtures {
    private Fixtures() {}

    static Path shared() {
        return Path.of(System.getProperty("moekit.shared", "../shared")).toAbsolutePath().normalize();
    }

    static Path model(String name) {
        return shared().resolve("models").resolve(name);
    }

    static Path data(String file) {
        return shared().resolve("data").resolve(file);
    }

    /** The calibration splits (the only text training may read). */
    static List<Path> validSplits() {
        return Stream.of("python", "kernel", "dict", "misc").map(d -> data(d + ".valid.txt")).toList();
    }

    /**
     * A copy of {@code src} whose tensors matching {@code which} get Gaussian noise of {@code sigma} times their own
     * standard deviation (same dtype, names and config).
     */
    static Path noisyCopy(Path src, Path dst, Predicate<String> which, double sigma, long seed) {
        Random r = new Random(seed);
        try (Checkpoint in = Checkpoint.open(src)) {
            List<TensorSpec> plan = in.names().stream().map(n -> TensorSpec.of(in.info(n))).toList();
            try (CheckpointWriter w = CheckpointWriter.create(dst, plan, CheckpointWriter.Options.defaults(), src)) {
                for (TensorSpec t : plan) {
                    if (!which.test(t.name())) {
                        w.copy(t.name(), in.shard(t.name()), t.name());
                        continue;
                    }
                    float[] v = in.floats(t.name());
                    double sum = 0;
                    double sq = 0;
                    for (float f : v) {
                        sum += f;
                        sq += (double) f * f;
                    }
                    double std = Math.sqrt(Math.max(0, sq / v.length - (sum / v.length) * (sum / v.length)));
                    for (int i = 0; i < v.length; i++) {
                        v[i] += (float) (sigma * std * r.nextGaussian());
                    }
                    w.write(t.name(), v);
                }
                w.copyOtherFiles(in);
                w.commit(in.config());
            }
        }
        return dst;
    }

    /**
     * One intra-op thread until closed: bitwise-reproducible CPU numerics (no thread-count-dependent reductions) and,
     * for the tiny models, no OpenMP barrier stalls on a busy machine.
     */
    static AutoCloseable oneThread() {
        Engine.getEngine(Engines.PYTORCH);
        int threads = JniUtils.getNumThreads();
        JniUtils.setNumThreads(1);
        return () -> JniUtils.setNumThreads(threads);
    }

    static byte[] bytes(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
