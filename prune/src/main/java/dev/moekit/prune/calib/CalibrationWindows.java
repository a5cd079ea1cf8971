package dev.moekit.prune.calib;

import dev.moekit.eval.TextWindows;
import dev.moekit.eval.runtime.TokenBatch;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Calibration token batches: each file cut with the evaluation protocol's tokenization (bos, then non-overlapping
 * windows from the start), {@code perFile} windows each, grouped {@code batchSize} windows per batch. Windows are full
 * length, so batches carry no padding.
 */
public final class CalibrationWindows {
    private CalibrationWindows() {}

    public static List<TokenBatch> batches(Path modelDir, List<Path> files, int window, int perFile, int batchSize) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        }
        List<int[]> windows = new ArrayList<>();
        try (TextWindows text = TextWindows.open(modelDir)) {
            for (Path f : files) {
                windows.addAll(Arrays.asList(text.windows(f, window, perFile)));
            }
        }
        List<TokenBatch> out = new ArrayList<>();
        for (int i = 0; i < windows.size(); i += batchSize) {
            out.add(TokenBatch.of(windows.subList(i, Math.min(windows.size(), i + batchSize)).toArray(int[][]::new)));
        }
        return out;
    }
}
