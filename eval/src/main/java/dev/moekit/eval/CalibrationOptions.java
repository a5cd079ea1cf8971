package dev.moekit.eval;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * How calibration text streams through a model.
 *
 * @param files         UTF-8 calibration texts (never test text); windows are taken from each in turn
 * @param window        tokens per window
 * @param windowsPerFile windows taken from each file (protocol tokenization: bos, non-overlapping from the start)
 * @param allExperts    route every token through every expert for the expert hooks (the output keeps real routing)
 * @param sequential    recompute each layer's outputs after {@link CalibrationObserver#layerDone} (so edits made
 *                      there feed the next layer), at the cost of a second pass per layer
 * @param minTokens     coverage threshold: experts that real routing sends fewer tokens are flagged
 */
public record CalibrationOptions(List<Path> files, int window, int windowsPerFile, boolean allExperts,
                                 boolean sequential, long minTokens) {
    public CalibrationOptions {
        files = List.copyOf(files);
        if (files.isEmpty()) {
            throw new IllegalArgumentException("no calibration files");
        }
        if (window < 2 || windowsPerFile < 1 || minTokens < 0) {
            throw new IllegalArgumentException("bad calibration sizes: window " + window + ", windowsPerFile "
                    + windowsPerFile + ", minTokens " + minTokens);
        }
    }

    /** Every {@code *.valid.txt} under {@code dataDir}, 8 windows of 256 tokens each, real routing, one pass. */
    public static CalibrationOptions defaults(Path dataDir) {
        try (Stream<Path> s = Files.list(dataDir)) {
            List<Path> files = s.filter(p -> p.getFileName().toString().endsWith(".valid.txt")).sorted().toList();
            if (files.isEmpty()) {
                throw new IllegalArgumentException(dataDir + ": no *.valid.txt calibration files");
            }
            return new CalibrationOptions(files, 256, 8, false, false, 16);
        } catch (IOException e) {
            throw new UncheckedIOException(dataDir + ": cannot list", e);
        }
    }

    /**
     * Options from a recipe's calibration settings: its files (globs expanded) or, when it names none, every
     * {@code *.valid.txt} of the default data folder ({@link dev.moekit.toolkit.io.Globs#defaultDataDir()}).
     */
    public static CalibrationOptions of(dev.moekit.toolkit.method.CalibrationSettings s) {
        CalibrationOptions base = s.data().isEmpty() ? defaults(dev.moekit.toolkit.io.Globs.defaultDataDir())
                : new CalibrationOptions(dev.moekit.toolkit.io.Globs.expand(s.data()), s.window(), s.windows(), false, false, 16);
        return base.withWindows(s.window(), s.windows()).withAllExperts(s.allExperts());
    }

    public CalibrationOptions withAllExperts(boolean on) {
        return new CalibrationOptions(files, window, windowsPerFile, on, sequential, minTokens);
    }

    public CalibrationOptions withSequential(boolean on) {
        return new CalibrationOptions(files, window, windowsPerFile, allExperts, on, minTokens);
    }

    public CalibrationOptions withWindows(int size, int perFile) {
        return new CalibrationOptions(files, size, perFile, allExperts, sequential, minTokens);
    }
}
