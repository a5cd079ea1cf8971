package dev.moekit.eval;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Json;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Calibration coverage: tokens that real routing sent to each expert of each MoE layer, and the experts below the
 * threshold (their statistics rest on few tokens; consider {@code allExperts} or more text).
 *
 * @param threshold minimum tokens per expert
 * @param layers    per MoE layer
 */
public record CoverageReport(long threshold, List<LayerRouting> layers) {
    public CoverageReport {
        layers = List.copyOf(layers);
    }

    /** Experts of {@code layer} that saw fewer than {@link #threshold} tokens. */
    public List<Integer> flagged(LayerRouting layer) {
        List<Integer> out = new ArrayList<>();
        for (int e = 0; e < layer.counts().length; e++) {
            if (layer.counts()[e] < threshold) {
                out.add(e);
            }
        }
        return out;
    }

    /** Total flagged experts over all layers. */
    public int flaggedCount() {
        return layers.stream().mapToInt(l -> flagged(l).size()).sum();
    }

    public ObjectNode toJson() {
        ObjectNode n = Json.COMPACT.createObjectNode();
        n.put("threshold", threshold);
        var arr = n.putArray("layers");
        for (LayerRouting l : layers) {
            ObjectNode o = arr.addObject();
            o.put("layer", l.layer());
            o.put("tokens", l.tokens());
            var c = o.putArray("counts");
            for (long v : l.counts()) {
                c.add(v);
            }
            var f = o.putArray("flagged");
            flagged(l).forEach(f::add);
        }
        return n;
    }

    public String table() {
        StringBuilder s = new StringBuilder(String.format(Locale.ROOT,
                "calibration coverage (experts under %d tokens flagged)%n", threshold));
        for (LayerRouting l : layers) {
            long min = Long.MAX_VALUE;
            long max = 0;
            for (long c : l.counts()) {
                min = Math.min(min, c);
                max = Math.max(max, c);
            }
            s.append(String.format(Locale.ROOT, "layer %2d: %d tokens, per expert min %d max %d, flagged %s%n",
                    l.layer(), l.tokens(), min, max, flagged(l)));
        }
        return s.toString();
    }
}
