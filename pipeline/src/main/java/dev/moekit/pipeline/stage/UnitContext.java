package dev.moekit.pipeline.stage;

import java.nio.file.Path;
import java.util.List;

/**
 * Where one work unit runs.
 *
 * @param input the primary input checkpoint (the previous stage's output)
 * @param extra further input checkpoints, as planned
 * @param dir   the unit's own folder: it writes only there (created empty by the runner)
 * @param stage the stage's context
 */
public record UnitContext(Path input, List<Path> extra, Path dir, StageContext stage) {
    public UnitContext {
        extra = List.copyOf(extra);
    }

    /**
     * The folder of a finished unit of the same stage that this one waits for ({@link WorkUnit#after()}), to read
     * what it left there (hidden states, statistics, decisions); read-only.
     */
    public Path finished(String id) {
        Path d = dir.getParent().resolve(id);
        if (!java.nio.file.Files.isDirectory(d)) {
            throw new IllegalStateException("unit " + id + " has not finished (no " + d + ")");
        }
        return d;
    }
}
