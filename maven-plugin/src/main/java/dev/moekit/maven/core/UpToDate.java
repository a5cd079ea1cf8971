package dev.moekit.maven.core;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.pipeline.io.Fingerprint;
import dev.moekit.toolkit.io.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Incremental builds: a goal's key is a set of named parts (the resolved recipe, the input's fingerprint, the data
 * files' hashes, moekit's version, ...), each reduced to a hash. The state file {@code <goal>-<executionId>.json}
 * keeps the parts of the last successful run, what it produced and when; the goal is up to date when every part is
 * unchanged and the product is still there as it was left.
 */
public final class UpToDate {
    /** The parts of a key, in the order the log names them. */
    public record Key(Map<String, String> parts) {
        public Key {
            parts = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(parts));
        }

        /** One hash over all parts. */
        public String hash() {
            StringBuilder b = new StringBuilder();
            parts.forEach((k, v) -> b.append(k).append('=').append(v).append('\n'));
            return Fingerprint.sha256(b.toString());
        }

        /** {@code recipe, input, data and version}. */
        public String names() {
            return list(new ArrayList<>(parts.keySet()));
        }
    }

    /** What the last successful run left. */
    public record State(String goal, String execution, Map<String, String> parts, String product, String productFingerprint, String finished) {
        public State {
            parts = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(parts));
        }
    }

    private final Path file;
    private final String goal;
    private final String execution;

    public UpToDate(Path stateDir, String goal, String execution) {
        this.file = stateDir.resolve(goal + "-" + execution + ".json");
        this.goal = goal;
        this.execution = execution;
    }

    public Path file() {
        return file;
    }

    /** The last state, or null when there is none or it cannot be read (then the goal simply runs). */
    public State read() {
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try {
            JsonNode n = Json.STRICT.readTree(file.toFile());
            Map<String, String> parts = new LinkedHashMap<>();
            n.path("parts").properties().forEach(e -> parts.put(e.getKey(), e.getValue().asText()));
            return new State(n.path("goal").asText(), n.path("execution").asText(), parts, n.path("product").asText(null),
                    n.path("product_fingerprint").asText(null), n.path("finished").asText(""));
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /**
     * Why the goal must run, or null when it is up to date.
     *
     * @param product            what the goal produces, or null when it produces nothing (a check)
     * @param productFingerprint the product's fingerprint now (null when it is missing)
     */
    public String whyRun(State s, Key key, Path product, String productFingerprint) {
        if (s == null) {
            return "no earlier run recorded in " + file;
        }
        List<String> changed = new ArrayList<>();
        for (var e : key.parts().entrySet()) {
            if (!e.getValue().equals(s.parts().get(e.getKey()))) {
                changed.add(e.getKey());
            }
        }
        for (String k : s.parts().keySet()) {
            if (!key.parts().containsKey(k)) {
                changed.add(k);
            }
        }
        if (!changed.isEmpty()) {
            return list(changed) + " changed" + " since the last run (" + s.finished() + ")";
        }
        if (product != null) {
            if (!product.toString().equals(s.product())) {
                return "the output moved from " + s.product() + " to " + product;
            }
            if (productFingerprint == null) {
                return product + " no longer exists";
            }
            if (!productFingerprint.equals(s.productFingerprint())) {
                return product + " was modified after the last run (" + s.finished() + ")";
            }
        }
        return null;
    }

    /** The log line of a skipped goal. */
    public String upToDateMessage(State s, Key key) {
        return "moekit:" + goal + " is up to date: " + key.names() + " unchanged since " + s.finished();
    }

    /** Records a successful run. */
    public State write(Key key, Path product, String productFingerprint) throws IOException {
        State s = new State(goal, execution, key.parts(), product == null ? null : product.toString(), productFingerprint, Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString());
        ObjectNode n = Json.PRETTY.createObjectNode();
        n.put("goal", goal);
        n.put("execution", execution);
        n.put("key", key.hash());
        ObjectNode p = n.putObject("parts");
        key.parts().forEach(p::put);
        n.put("product", s.product());
        n.put("product_fingerprint", productFingerprint);
        n.put("moekit_version", dev.moekit.pipeline.Version.VERSION);
        n.put("finished", s.finished());
        Files.createDirectories(file.getParent());
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Json.PRETTY.writeValue(tmp.toFile(), n);
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        return s;
    }

    /** Forgets the last run (its product is about to be replaced). */
    public void clear() throws IOException {
        Files.deleteIfExists(file);
    }

    /** {@code a}, {@code a and b}, {@code a, b and c}. */
    static String list(List<String> names) {
        if (names.size() <= 1) {
            return names.isEmpty() ? "nothing" : names.get(0);
        }
        return String.join(", ", names.subList(0, names.size() - 1)) + " and " + names.get(names.size() - 1);
    }
}
