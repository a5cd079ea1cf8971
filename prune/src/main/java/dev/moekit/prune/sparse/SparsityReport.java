package dev.moekit.prune.sparse;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.Params;
import java.nio.file.Path;
import java.util.List;

/**
 * What stage 2 did. Nominal sparsity counts zeros over <em>all Linear weights of the decoder layers</em> (attention,
 * dense MLP, router, routed and shared experts, whether in scope or not), the denominator of the reference's
 * {@code check_sparsity}; embeddings, lm_head, norms and biases are excluded. Unstructured zeros do not shrink a dense
 * safetensors file: {@code bytesOut} is the real size, equal to {@code bytesIn}.
 *
 * @param output          written checkpoint
 * @param method          the sparsifier's registered name
 * @param methodParams    its resolved parameters (snake_case keys)
 * @param options         resolved settings
 * @param layers          per-layer results
 * @param linearParams    the denominator: Linear weight parameters of all decoder layers
 * @param zeros           zero weights among them after pruning
 * @param bytesIn         tensor bytes of the input
 * @param bytesOut        tensor bytes of the output (dense storage)
 */
public record SparsityReport(Path output, String method, ObjectNode methodParams, SparsityOptions options,
                             List<LayerSparsity> layers, long linearParams, long zeros, long bytesIn, long bytesOut) {
    public SparsityReport {
        methodParams = methodParams.deepCopy();
        layers = List.copyOf(layers);
    }

    @Override
    public ObjectNode methodParams() {
        return methodParams.deepCopy();
    }

    /** Zeros / all Linear weights of decoder layers. */
    public double nominalSparsity() {
        return linearParams == 0 ? 0 : (double) zeros / linearParams;
    }

    /** Every Linear left dense for lack of calibration tokens, as "layer:key". */
    public List<String> denseForLackOfTokens() {
        return layers.stream().flatMap(l -> l.skipped().stream().map(k -> l.layer() + ":" + k)).toList();
    }

    /** The report as JSON for provenance: settings, totals and per-layer targets and results. */
    public ObjectNode toJson() {
        ObjectNode root = Json.PRETTY.createObjectNode();
        root.put("method", options.nmN() > 0 ? method + " " + options.pattern() : method);
        root.set("method_params", methodParams());
        root.set("options", Params.toJson(options));
        root.put("denominator", "all Linear weights of decoder layers (attention, dense MLP, router, routed and shared experts)");
        root.put("linear_params", linearParams);
        root.put("zeros", zeros);
        root.put("nominal_sparsity", nominalSparsity());
        root.put("bytes_in", bytesIn);
        root.put("bytes_out", bytesOut);
        ArrayNode dense = root.putArray("dense_for_lack_of_tokens");
        denseForLackOfTokens().forEach(dense::add);
        ArrayNode ls = root.putArray("layers");
        for (LayerSparsity l : layers) {
            ObjectNode n = ls.addObject();
            n.put("layer", l.layer());
            n.put("target", l.target());
            if (!Double.isNaN(l.outlierRatio())) {
                n.put("outlier_ratio", l.outlierRatio());
            }
            n.put("sparsity", l.sparsity());
            ArrayNode s = n.putArray("dense_no_tokens");
            l.skipped().forEach(k -> s.add(k.toString()));
            ArrayNode m = n.putArray("magnitude_no_tokens");
            l.magnitude().forEach(k -> m.add(k.toString()));
        }
        return root;
    }
}
