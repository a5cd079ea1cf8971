package dev.moekit.upcycle;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import dev.moekit.eval.EvalOptions;
import dev.moekit.eval.EvalResult;
import dev.moekit.eval.Evaluator;
import dev.moekit.eval.Progress;
import dev.moekit.eval.runtime.Engines;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** The reference seed, its specialists and the data splits, for the upcycling tests. */
public final class Refs {
    public static final List<String> DOMAINS = List.of("python", "kernel", "dict", "misc");

    private Refs() {}

    public static Path shared() {
        return Path.of(System.getProperty("moekit.shared", "../shared")).toAbsolutePath().normalize();
    }

    public static Path model(String name) {
        return shared().resolve("models").resolve(name);
    }

    public static Path seed() {
        return model("llama-tiny-seed");
    }

    /** The four specialists branched from the seed, in domain order. */
    public static List<Path> specialists() {
        return DOMAINS.stream().map(d -> model("llama-tiny-" + d)).toList();
    }

    public static List<Path> testSplits() {
        return DOMAINS.stream().map(d -> shared().resolve("data").resolve(d + ".test.txt")).toList();
    }

    public static List<Path> validSplits() {
        return Stream.of("python", "kernel", "dict", "misc").map(d -> shared().resolve("data").resolve(d + ".valid.txt")).toList();
    }

    /** moekit's evaluation (fp32 CPU) on the first {@code windows} windows of 256 tokens of each test split. */
    public static EvalResult eval(Path model, int windows) {
        return Evaluator.evaluate(model, EvalOptions.of(testSplits()).withWindows(256, windows), Progress.NONE);
    }

    /** One intra-op thread (a shared 2-core machine stalls OpenMP teams); returns the previous count. */
    public static int oneThread() {
        Engine.getEngine(Engines.PYTORCH);
        int t = JniUtils.getNumThreads();
        JniUtils.setNumThreads(1);
        return t;
    }

    public static void threads(int t) {
        JniUtils.setNumThreads(t);
    }
}
