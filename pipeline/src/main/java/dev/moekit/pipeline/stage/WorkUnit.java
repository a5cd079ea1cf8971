package dev.moekit.pipeline.stage;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/**
 * One piece of a stage's work that a worker can run on its own.
 *
 * @param id          unique within the stage, usable as a folder name ({@code all}, {@code layer-03}, {@code shard-2})
 * @param description one line for plans and status
 * @param bytesIn     bytes of input it reads (estimate)
 * @param bytesOut    bytes it writes (estimate)
 * @param cost        relative cost estimate (for scheduling and ETA), e.g. multiply-adds or bytes processed
 * @param after       ids of units that must finish first (e.g. the previous layer for sequential calibration)
 * @param args        what the stage needs to run the unit, as JSON (so another process can run it)
 */
public record WorkUnit(String id, String description, long bytesIn, long bytesOut, double cost, List<String> after, JsonNode args) {
    public WorkUnit {
        if (id == null || !id.matches("[A-Za-z0-9][A-Za-z0-9._-]*")) {
            throw new IllegalArgumentException("work unit ids are file-name safe, got '" + id + "'");
        }
        after = List.copyOf(after);
    }
}
