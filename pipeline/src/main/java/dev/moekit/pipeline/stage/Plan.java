package dev.moekit.pipeline.stage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Json;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A stage's plan: what it will write and how the work splits, known before any heavy work.
 *
 * @param stage       stage name
 * @param output      the planned output structure (config and tensors); {@code exact} false when it depends on data
 * @param bytesIn     bytes the stage reads (all inputs)
 * @param calibrates  whether it runs calibration text through the model
 * @param units       the work units
 * @param notes       what a user should know (estimates, fallbacks that will happen, loading caveats)
 * @param details     the stage's own planned settings (resolved sparsity, per-layer expert counts, bits), as JSON
 */
public record Plan(String stage, Layout output, long bytesIn, boolean calibrates, List<WorkUnit> units, List<String> notes, JsonNode details) {
    public Plan {
        units = List.copyOf(units);
        notes = List.copyOf(notes);
        if (units.isEmpty()) {
            throw new IllegalArgumentException("stage " + stage + " planned no work unit");
        }
        Set<String> ids = new HashSet<>();
        for (WorkUnit u : units) {
            if (!ids.add(u.id())) {
                throw new IllegalArgumentException("stage " + stage + " planned two units named " + u.id());
            }
            for (String a : u.after()) {
                if (!ids.contains(a)) {
                    throw new IllegalArgumentException("stage " + stage + ": unit " + u.id() + " waits for " + a + ", which is not planned before it");
                }
            }
        }
        details = details == null ? Json.PRETTY.createObjectNode() : details;
    }

    /** Bytes the stage writes. */
    public long bytesOut() {
        return output.bytes();
    }

    /** The plan as JSON for dry runs, job folders and provenance. */
    public ObjectNode toJson() {
        ObjectNode o = Json.PRETTY.createObjectNode();
        o.put("stage", stage);
        o.put("bytes_in", bytesIn);
        o.put("bytes_out", bytesOut());
        o.put("output_exact", output.exact());
        o.put("tensors_out", output.tensors().size());
        o.put("calibrates", calibrates);
        var us = o.putArray("units");
        for (WorkUnit u : units) {
            ObjectNode j = us.addObject();
            j.put("id", u.id());
            j.put("description", u.description());
            j.put("bytes_in", u.bytesIn());
            j.put("bytes_out", u.bytesOut());
            j.put("cost", u.cost());
            u.after().forEach(j.putArray("after")::add);
        }
        notes.forEach(o.putArray("notes")::add);
        o.set("details", details);
        return o;
    }
}
