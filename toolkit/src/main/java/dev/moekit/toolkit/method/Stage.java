package dev.moekit.toolkit.method;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;

/**
 * One step of a recipe: reads a checkpoint folder and writes a new one (through
 * {@link dev.moekit.toolkit.io.CheckpointWriter}, so the output appears atomically). Stages never modify their input.
 * Created, with validated parameters, by a {@link StageProvider}.
 */
public interface Stage {
    /** The registered name of the method, e.g. {@code prune}. */
    String name();

    /**
     * Runs the stage. Returns a JSON report (what was kept, bits chosen, fallbacks, scores...) that goes into the
     * output's provenance.
     */
    JsonNode apply(Path input, Path output, StageContext context) throws Exception;
}
