package dev.moekit.pipeline.stage;

import java.nio.file.Path;
import java.util.List;

/**
 * What a stage is planned on.
 *
 * @param layout the primary input's structure: the real checkpoint's, or the planned output of the previous stage
 *               during a dry run
 * @param path   the primary input folder, or null when it does not exist yet (dry run of a later stage)
 * @param extra  further input checkpoints named by the stage's parameters (BTX/BAM experts), resolved
 */
public record PlanInput(Layout layout, Path path, List<Path> extra) {
    public PlanInput {
        extra = List.copyOf(extra);
    }

    /** Whether the input exists on disk (weights can be read). */
    public boolean real() {
        return path != null;
    }
}
