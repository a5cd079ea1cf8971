package dev.moekit.recipes.results;

import dev.moekit.eval.CalibrationOptions;
import dev.moekit.eval.EvalOptions;
import dev.moekit.eval.Evaluator;
import dev.moekit.eval.Progress;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.Globs;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * One reference model of a results run: its folder, the evaluation against it on the test splits, calibration on the
 * valid splits, and a work folder for its outputs.
 */
record ModelSetup(String name, Path original, EvalOptions eval, CalibrationOptions calibration, Path work) {
    static ModelSetup of(Path shared, String name, Path work, int evalWindows, int calWindows) throws IOException {
        Path orig = shared.resolve("models").resolve(name);
        List<Path> test = Globs.expand(List.of(shared.resolve("data/*.test.txt").toString()));
        Files.createDirectories(work);
        return new ModelSetup(name, orig, EvalOptions.of(test).withWindows(256, evalWindows).withReference(orig),
                CalibrationOptions.defaults(shared.resolve("data")).withWindows(256, calWindows), work);
    }

    /** Adds the unmodified model's row (no reference: KL 0 by definition). */
    void baseline(ResultTable table, String label) {
        EvalOptions plain = EvalOptions.of(eval.dataFiles()).withWindows(eval.window(), eval.windows());
        table.add(name, label, Evaluator.evaluate(original, plain, Progress.NONE), "", bytes(original));
    }

    static long bytes(Path dir) {
        try (Checkpoint c = Checkpoint.open(dir)) {
            return c.totalBytes();
        }
    }
}
