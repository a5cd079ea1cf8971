package dev.moekit.prune.expert;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.Params;

/** The provenance JSON of an expert-pruning run: resolved settings and, per layer, what was kept and why. */
final class Provenance {
    private Provenance() {}

    static ObjectNode of(ExpertPruneReport r) {
        ObjectNode root = Json.PRETTY.createObjectNode();
        root.put("method", r.method());
        root.set("method_params", r.methodParams());
        root.set("options", Params.toJson(r.options()));
        root.put("family", r.family());
        root.put("config_key", r.configKey());
        root.put("experts_before", r.expertsBefore());
        root.put("experts_after", r.expertsAfter());
        root.put("target_experts", r.targetExperts());
        root.put("exact", r.exact());
        root.put("uniform", r.uniform());
        root.put("bytes_in", r.bytesIn());
        root.put("bytes_out", r.bytesOut());
        ArrayNode notes = root.putArray("notes");
        r.notes().forEach(notes::add);
        if (!r.warnings().isEmpty()) {
            ArrayNode warnings = root.putArray("warnings");
            r.warnings().forEach(warnings::add);
        }
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
            double pairCosines = 0;
            int pairs = 0;
            for (int i = 0; i < lr.kept().size(); i++) {
                KeptExpert k = lr.kept().get(i);
                ObjectNode c = clusters.addObject();
                c.put("source", k.source());
                ArrayNode m = c.putArray("members");
                for (int v : k.members()) {
                    m.add(v);
                }
                c.put("averaged", k.averaged());
                if (!lr.clusters().isEmpty()) {
                    ClusterInfo info = lr.clusters().get(i);
                    numbers(c.putArray("usage"), info.usage());
                    numbers(c.putArray("cosine"), info.cosine());
                    if (!Double.isNaN(info.meanPairCosine())) {
                        c.put("mean_pair_cosine", info.meanPairCosine());
                        int n = k.members().length;
                        pairCosines += info.meanPairCosine() * n * (n - 1) / 2;
                        pairs += n * (n - 1) / 2;
                    }
                }
            }
            if (pairs > 0) {
                l.put("mean_cluster_cosine", pairCosines / pairs);
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

    /** Finite values as numbers, the others as strings ("NaN"), which JSON cannot hold as numbers. */
    private static void numbers(ArrayNode a, double[] v) {
        for (double x : v) {
            if (Double.isFinite(x)) {
                a.add(x);
            } else {
                a.add(Double.toString(x));
            }
        }
    }
}
