package dev.moekit.toolkit.io;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.tensor.Floats;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * A Hugging Face checkpoint folder: {@code config.json}, one {@code model.safetensors} or shards listed by
 * {@code model.safetensors.index.json}, and any other files (tokenizer, generation config, chat template, README).
 * Opening validates every shard header and the index against them; tensor data stays on disk until asked for.
 */
public final class Checkpoint implements AutoCloseable {
    public static final String INDEX = "model.safetensors.index.json";
    public static final String SINGLE = "model.safetensors";
    public static final String CONFIG = "config.json";

    private final Path dir;
    private final Map<String, SafetensorsFile> shardOf; // tensor name -> shard, in index order
    private final List<SafetensorsFile> shards;
    private final Map<String, JsonNode> indexMetadata;
    private ObjectNode config;

    private Checkpoint(Path dir, Map<String, SafetensorsFile> shardOf, List<SafetensorsFile> shards, Map<String, JsonNode> indexMetadata) {
        this.dir = dir;
        this.shardOf = shardOf;
        this.shards = shards;
        this.indexMetadata = indexMetadata;
    }

    /** Opens a checkpoint folder (or a single .safetensors file) and validates its shards and index. */
    public static Checkpoint open(Path path) {
        Path dir = path.toAbsolutePath().normalize();
        if (Files.isRegularFile(dir) && dir.getFileName().toString().endsWith(".safetensors")) {
            SafetensorsFile f = SafetensorsFile.open(dir);
            Map<String, SafetensorsFile> m = new LinkedHashMap<>();
            f.tensors().keySet().forEach(n -> m.put(n, f));
            return new Checkpoint(dir.getParent(), m, List.of(f), Map.of());
        }
        if (!Files.isDirectory(dir)) {
            throw new CheckpointException(dir + ": not a checkpoint folder (does not exist or is not a directory)");
        }
        Path index = dir.resolve(INDEX);
        if (Files.isRegularFile(index)) {
            return openIndexed(dir, index);
        }
        Path single = dir.resolve(SINGLE);
        if (!Files.isRegularFile(single)) {
            List<Path> found = listSafetensors(dir);
            if (found.size() != 1) {
                throw new CheckpointException(dir + ": no " + INDEX + " and no " + SINGLE
                        + (found.isEmpty() ? "" : " (found " + found.size() + " .safetensors files without an index)"));
            }
            single = found.getFirst();
        }
        SafetensorsFile f = SafetensorsFile.open(single);
        Map<String, SafetensorsFile> m = new LinkedHashMap<>();
        f.tensors().keySet().forEach(n -> m.put(n, f));
        return new Checkpoint(dir, m, List.of(f), Map.of());
    }

    private static List<Path> listSafetensors(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList();
        } catch (IOException e) {
            throw new CheckpointException(dir + ": cannot list (" + e + ")", e);
        }
    }

    private static Checkpoint openIndexed(Path dir, Path index) {
        JsonNode root = readJson(index);
        JsonNode wm = root.get("weight_map");
        if (wm == null || !wm.isObject()) {
            throw new CheckpointException(index + ": no weight_map object");
        }
        Map<String, JsonNode> meta = new LinkedHashMap<>();
        JsonNode md = root.get("metadata");
        if (md != null && md.isObject()) {
            md.fields().forEachRemaining(e -> meta.put(e.getKey(), e.getValue()));
        }
        Map<String, SafetensorsFile> byFile = new TreeMap<>();
        Map<String, SafetensorsFile> shardOf = new LinkedHashMap<>();
        List<SafetensorsFile> opened = new ArrayList<>();
        try {
            for (Iterator<Map.Entry<String, JsonNode>> it = wm.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String file = e.getValue().asText();
                SafetensorsFile f = byFile.get(file);
                if (f == null) {
                    Path p = resolveShard(dir, index, e.getKey(), file);
                    f = SafetensorsFile.open(p);
                    opened.add(f);
                    byFile.put(file, f);
                }
                if (!f.tensors().containsKey(e.getKey())) {
                    throw new CheckpointException(index + ": weight_map puts tensor '" + e.getKey() + "' in " + file + ", which does not hold it");
                }
                shardOf.put(e.getKey(), f);
            }
            for (SafetensorsFile f : byFile.values()) {
                for (String n : f.tensors().keySet()) {
                    if (shardOf.get(n) != f) {
                        throw new CheckpointException(f.path() + ": holds tensor '" + n + "' that " + INDEX + " does not list for this shard");
                    }
                }
            }
        } catch (RuntimeException ex) {
            opened.forEach(SafetensorsFile::close);
            throw ex;
        }
        return new Checkpoint(dir, Collections.unmodifiableMap(shardOf), List.copyOf(byFile.values()), Collections.unmodifiableMap(meta));
    }

    /** Resolves a shard file name from the index, refusing anything outside the checkpoint folder. */
    private static Path resolveShard(Path dir, Path index, String tensor, String file) {
        if (file.isEmpty()) {
            throw new CheckpointException(index + ": tensor '" + tensor + "' has an empty shard name");
        }
        Path rel = Path.of(file);
        Path p = dir.resolve(rel).normalize();
        if (rel.isAbsolute() || !p.startsWith(dir) || p.equals(dir)) {
            throw new CheckpointException(index + ": shard path '" + file + "' (tensor '" + tensor + "') is outside the checkpoint folder");
        }
        if (!Files.isRegularFile(p)) {
            throw new CheckpointException(index + ": shard '" + file + "' (tensor '" + tensor + "') does not exist");
        }
        return p;
    }

    static JsonNode readJson(Path p) {
        try {
            return Json.STRICT.readTree(p.toFile());
        } catch (JacksonException e) {
            throw new CheckpointException(p + ": not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new CheckpointException(p + ": cannot read (" + e + ")", e);
        }
    }

    public Path dir() {
        return dir;
    }

    /** The parsed {@code config.json}; a {@link CheckpointException} if it is missing or not a JSON object. */
    public synchronized ObjectNode config() {
        if (config == null) {
            Path p = dir.resolve(CONFIG);
            if (!Files.isRegularFile(p)) {
                throw new CheckpointException(dir + ": no " + CONFIG);
            }
            JsonNode n = readJson(p);
            if (!n.isObject()) {
                throw new CheckpointException(p + ": not a JSON object");
            }
            config = (ObjectNode) n;
        }
        return config;
    }

    public boolean hasConfig() {
        return Files.isRegularFile(dir.resolve(CONFIG));
    }

    /** Every tensor name, in index (or file) order. */
    public List<String> names() {
        return List.copyOf(shardOf.keySet());
    }

    public boolean has(String name) {
        return shardOf.containsKey(name);
    }

    public TensorInfo info(String name) {
        return shard(name).info(name);
    }

    /** The shard holding {@code name}. */
    public SafetensorsFile shard(String name) {
        SafetensorsFile f = shardOf.get(name);
        if (f == null) {
            throw new CheckpointException(dir + ": no tensor '" + name + "'");
        }
        return f;
    }

    public List<SafetensorsFile> shards() {
        return shards;
    }

    /** The index's {@code metadata} object (empty for single-file checkpoints). */
    public Map<String, JsonNode> indexMetadata() {
        return indexMetadata;
    }

    /** Maps one tensor's bytes into {@code arena}. */
    public MemorySegment map(String name, Arena arena) {
        return shard(name).map(name, arena);
    }

    /** Reads one floating-point tensor as fp32 (for tensors under 2^31 elements). */
    public float[] floats(String name) {
        TensorInfo t = info(name);
        if (!t.dtype().isFloating()) {
            throw new CheckpointException(shard(name).path() + ": tensor '" + name + "' is " + t.dtype() + ", not floating point");
        }
        try (Arena a = Arena.ofConfined()) {
            return Floats.decode(map(name, a), t.dtype());
        }
    }

    /** Sum of tensor byte sizes. */
    public long totalBytes() {
        long s = 0;
        for (String n : shardOf.keySet()) {
            s += info(n).byteSize();
        }
        return s;
    }

    /** Sum of tensor element counts. */
    public long totalParameters() {
        long s = 0;
        for (String n : shardOf.keySet()) {
            s += info(n).numel();
        }
        return s;
    }

    /**
     * Files of the folder that are not weights: everything at the top level except {@code *.safetensors}, the index and
     * {@code config.json} (which writers rewrite). Sub-folders are not included.
     */
    public List<Path> otherFiles() {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(Files::isRegularFile).filter(p -> {
                String n = p.getFileName().toString();
                return !n.endsWith(".safetensors") && !n.equals(INDEX) && !n.equals(CONFIG);
            }).sorted().toList();
        } catch (IOException e) {
            throw new CheckpointException(dir + ": cannot list (" + e + ")", e);
        }
    }

    @Override
    public void close() {
        shards.forEach(SafetensorsFile::close);
    }
}
