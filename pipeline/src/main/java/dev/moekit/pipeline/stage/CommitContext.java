package dev.moekit.pipeline.stage;

import java.nio.file.Path;
import java.util.List;

/**
 * Where a stage commits.
 *
 * @param input  the stage's primary input checkpoint
 * @param extra  further inputs, as planned
 * @param output the stage's output folder (does not exist yet)
 * @param stage  the stage's context
 */
public record CommitContext(Path input, List<Path> extra, Path output, StageContext stage) {
    public CommitContext {
        extra = List.copyOf(extra);
    }
}
