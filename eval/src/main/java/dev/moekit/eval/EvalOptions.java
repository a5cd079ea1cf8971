package dev.moekit.eval;

import dev.moekit.eval.runtime.RuntimeOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * What {@link Evaluator} measures.
 *
 * @param dataFiles  UTF-8 text files, one domain each (named after the file up to its first dot)
 * @param window     tokens per window (protocol default 256)
 * @param windows    windows per file (protocol default 32)
 * @param reference  a reference model folder (the uncompressed input) for KL divergence and top-1 agreement, or null
 * @param routing    whether to count expert choices per layer
 * @param runtime    device, precision, layer-at-a-time loading and batch size
 */
public record EvalOptions(List<Path> dataFiles, int window, int windows, Path reference, boolean routing,
                          RuntimeOptions runtime) {
    public static final int DEFAULT_WINDOW = 256;
    public static final int DEFAULT_WINDOWS = 32;

    public EvalOptions {
        dataFiles = List.copyOf(dataFiles);
        if (dataFiles.isEmpty()) {
            throw new IllegalArgumentException("no data files to evaluate");
        }
        for (Path p : dataFiles) {
            if (!Files.isRegularFile(p)) {
                throw new IllegalArgumentException(p + ": data file not found");
            }
        }
        if (window < 2 || windows < 1) {
            throw new IllegalArgumentException("window must be >= 2 and windows >= 1, got " + window + ", " + windows);
        }
        if (reference != null && !Files.isDirectory(reference)) {
            throw new IllegalArgumentException(reference + ": reference model folder not found");
        }
        if (runtime == null) {
            throw new IllegalArgumentException("runtime options are required");
        }
    }

    /** Protocol defaults (256 x 32), routing counts on, no reference, fp32 on CPU. */
    public static EvalOptions of(List<Path> dataFiles) {
        return new EvalOptions(dataFiles, DEFAULT_WINDOW, DEFAULT_WINDOWS, null, true, RuntimeOptions.cpu());
    }

    public EvalOptions withReference(Path ref) {
        return new EvalOptions(dataFiles, window, windows, ref, routing, runtime);
    }

    public EvalOptions withRuntime(RuntimeOptions r) {
        return new EvalOptions(dataFiles, window, windows, reference, routing, r);
    }

    public EvalOptions withWindows(int size, int count) {
        return new EvalOptions(dataFiles, size, count, reference, routing, runtime);
    }

    /** The domain name of a data file: its file name up to the first dot ({@code python.test.txt} is python). */
    static String domain(Path file) {
        String n = file.getFileName().toString();
        int dot = n.indexOf('.');
        return dot > 0 ? n.substring(0, dot) : n;
    }
}
