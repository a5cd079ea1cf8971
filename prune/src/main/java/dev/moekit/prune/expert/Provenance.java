package dev.moekit.prune.expert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.model.ModelSpec;

/** The provenance JSON of an expert-pruning run: resolved settings and, per layer, what was kept and why. */
final class Provenance {
    private Provenance() {}

    static JsonNode of(Checkpoint in, ModelSpec spec, ExpertPruneReport r, String configKey) {
        ObjectNode root = Json.PRETTY.createObjectNode();
        root.put("stage", "expert_pruning");
        root.put("input", in.dir().toString());
        root.put("family", spec.family().name());
        root.set("options", Json.PRETTY.valueToTree(r.options()));
        root.put("config_key", configKey);
        root.put("experts_before", r.expertsBefore());
        root.put("experts_after", r.expertsAfter());
        root.put("target_experts", r.targetExperts());
        root.put("exact", r.exact());
        root.put("uniform", r.uniform());
        ArrayNode notes = root.putArray("notes");
        r.notes().forEach(notes::add);
        ArrayNode layers = root.putArray("layers");
        for (LayerResult lr : r.layers()) {
            ObjectNode l = layers.addObject();
            l.put("layer", lr.layer());
            l.put("experts", lr.experts());
            ArrayNode kept = l.putArray("kept");
            for (int k : lr.keptIndices()) {
                kept.add(k);
            }
            ArrayNode clusters = l.putArray("clusters");
            for (KeptExpert k : lr.kept()) {
                ObjectNode c = clusters.addObject();
                c.put("source", k.source());
                ArrayNode m = c.putArray("members");
                for (int v : k.members()) {
                    m.add(v);
                }
                c.put("averaged", k.averaged());
            }
            if (lr.scores() != null) {
                ArrayNode s = l.putArray("scores");
                for (double v : lr.scores()) {
                    s.add(v);
                }
            }
            if (!Double.isNaN(lr.tau())) {
                l.put("tau", Double.isInfinite(lr.tau()) ? "inf" : Double.toString(lr.tau()));
            }
        }
        return root;
    }
}
