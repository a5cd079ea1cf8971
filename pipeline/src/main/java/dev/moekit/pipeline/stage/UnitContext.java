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
}
