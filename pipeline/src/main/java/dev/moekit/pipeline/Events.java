package dev.moekit.pipeline;

import dev.moekit.eval.Progress;
import java.util.function.Consumer;

/**
 * What a run tells the person or build watching it: notices, progress of long steps, stage boundaries. The CLI
 * prints them (one updating line on a terminal), the Maven plugin logs them, batch workers write them to their log.
 * Implementations must be thread-safe.
 */
public interface Events extends Progress {
    /** Prints nothing. */
    Events NONE = message -> {};

    /** A notice for people. */
    void info(String message);

    /** A warning: something the output's user should know (fallbacks, coverage gaps, loading caveats). */
    default void warn(String message) {
        info("warning: " + message);
    }

    /** Progress of a long step: {@code done} of {@code total} (windows, layers, modules, steps). */
    @Override
    default void update(String task, int done, int total) {}

    /** Stage {@code index} (1-based) of {@code count} starts. */
    default void stageStarted(int index, int count, String stage) {
        info(String.format("stage %d/%d %s ...", index, count, stage));
    }

    /** Stage {@code index} finished ({@code reused}: a finished result from an earlier run was taken). */
    default void stageFinished(int index, int count, String stage, double seconds, boolean reused) {
        info(reused ? String.format("stage %d/%d %s: reusing the finished result of an earlier run", index, count, stage)
                : String.format("stage %d/%d %s done in %.1f s", index, count, stage, seconds));
    }

    /** Notices to {@code sink}, progress ignored. */
    static Events of(Consumer<String> sink) {
        return sink::accept;
    }
}
