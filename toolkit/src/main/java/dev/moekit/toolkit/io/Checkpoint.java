package dev.moekit.toolkit.io;

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
    private final Map<String, Computed> computed; // tensors computed on read (a packed checkpoint's weights), by name
    private final List<String> names;
    private ObjectNode config;

    private Checkpoint(Path dir, Map<String, SafetensorsFile> shardOf, List<SafetensorsFile> shards, Map<String, JsonNode> indexMetadata) {
        this(dir, shardOf, shards, indexMetadata, Map.of(), List.copyOf(shardOf.keySet()), null);
    }

    private Checkpoint(Path dir, Map<String, SafetensorsFile> shardOf, List<SafetensorsFile> shards, Map<String, JsonNode> indexMetadata,
                       Map<String, Computed> computed, List<String> names, ObjectNode config) {
        this.dir = dir;
        this.shardOf = shardOf;
        this.shards = shards;
        this.indexMetadata = indexMetadata;
        this.computed = computed;
        this.names = names;
        this.config = config;
    }

    /**
     * A tensor a checkpoint view computes when read instead of storing it, e.g. a quantized module's weight
     * dequantized from its packed codes and scales.
     *
     * @param info  its dtype (the precision of the values it computes) and shape; the offsets are 0 and its byte size
     * @param reads the computation: fills a segment with all its values converted to the requested floating dtype
     */
    public record Computed(TensorInfo info, Reader reads) {}

    /** Fills {@code dst} (exactly {@code numel * to.size()} bytes) with a computed tensor's values as {@code to}. */
    @FunctionalInterface
    public interface Reader {
        void read(MemorySegment dst, DType to);
    }

    /**
     * A view of this checkpoint in which {@code computed} tensors stand in for the stored tensors {@code replaced} (each
     * computed tensor takes the place, in {@link #names}, of the first stored one it replaces): the eval runtime reads
     * a packed quantized checkpoint through it exactly as a plain one, each weight dequantized as it is loaded, with
     * no dequantized copy on disk. {@code config} replaces the stored {@code config.json} (null: keep it). The view
     * shares this checkpoint's open files: close one of the two, not both. Computed tensors have no stored bytes:
     * {@link #map} and {@link #shard} refuse them, {@link #read} and {@link #floats} compute them.
     */
    public Checkpoint withComputed(Map<String, Computed> computed, Map<String, String> replaced, ObjectNode config) {
        Map<String, String> firstReplaced = new LinkedHashMap<>(); // stored name -> computed name taking its place
        for (var e : replaced.entrySet()) {
            if (!shardOf.containsKey(e.getKey())) {
                throw new CheckpointException(Text.path(dir) + ": no tensor " + Text.quote(e.getKey()) + " to replace");
            }
            if (!computed.containsKey(e.getValue())) {
                throw new CheckpointException(Text.path(dir) + ": " + Text.quote(e.getKey()) + " is replaced by " + Text.quote(e.getValue())
                        + ", which is not computed");
            }
        }
        java.util.Set<String> placed = new java.util.HashSet<>();
        List<String> view = new ArrayList<>();
        for (String n : shardOf.keySet()) {
            String c = replaced.get(n);
            if (c == null) {
                if (computed.containsKey(n)) {
                    throw new CheckpointException(Text.path(dir) + ": computed tensor " + Text.quote(n) + " would hide a stored one that is not replaced");
                }
                view.add(n);
            } else if (placed.add(c)) {
                view.add(c);
            }
        }
        for (String c : computed.keySet()) {
            if (placed.add(c)) {
                view.add(c);
            }
        }
        Map<String, SafetensorsFile> stored = new LinkedHashMap<>(shardOf);
        stored.keySet().removeAll(replaced.keySet());
        return new Checkpoint(dir, Collections.unmodifiableMap(stored), shards, indexMetadata, Map.copyOf(computed), List.copyOf(view),
                config != null ? config : this.config);
    }

    /** Opens a checkpoint folder (or a single .safetensors file) and validates its shards and index. */
    public static Checkpoint open(Path path) {
        Path dir = path.toAbsolutePath().normalize();
        if (dir.getFileName() != null && dir.getFileName().toString().endsWith(".safetensors") && Files.exists(dir)
                && !Files.isDirectory(dir)) {
            SafetensorsFile f = SafetensorsFile.open(dir);
            Map<String, SafetensorsFile> m = new LinkedHashMap<>();
            f.tensors().keySet().forEach(n -> m.put(n, f));
            return new Checkpoint(dir.getParent(), m, List.of(f), Map.of());
        }
        if (!Files.isDirectory(dir)) {
            throw new CheckpointException(Text.path(dir) + ": not a checkpoint folder (does not exist or is not a directory)");
        }
        Path index = dir.resolve(INDEX);
        if (Files.exists(index)) {
            return openIndexed(dir, index); // a FIFO or folder of that name is refused there, not skipped
        }
        Path single = dir.resolve(SINGLE);
        if (!Files.exists(single)) {
            List<Path> found = listSafetensors(dir);
            if (found.size() != 1) {
                throw new CheckpointException(Text.path(dir) + ": no " + INDEX + " and no " + SINGLE
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
            throw new CheckpointException(Text.path(dir) + ": cannot list (" + Text.escape(e.toString()) + ")", e);
        }
    }

    private static Checkpoint openIndexed(Path dir, Path index) {
        JsonNode root = readJson(index);
        String at = Text.path(index);
        if (!root.isObject()) {
            throw new CheckpointException(at + ": not a JSON object");
        }
        JsonNode wm = root.get("weight_map");
        if (wm == null || !wm.isObject()) {
            throw new CheckpointException(at + ": no weight_map object");
        }
        Map<String, JsonNode> meta = new LinkedHashMap<>();
        JsonNode md = root.get("metadata");
        if (md != null && !md.isNull()) {
            if (!md.isObject()) {
                throw new CheckpointException(at + ": metadata is not an object");
            }
            md.fields().forEachRemaining(e -> meta.put(e.getKey(), e.getValue()));
        }
        Map<String, SafetensorsFile> byFile = new TreeMap<>();
        Map<String, SafetensorsFile> shardOf = new LinkedHashMap<>();
        List<SafetensorsFile> opened = new ArrayList<>();
        try {
            for (Iterator<Map.Entry<String, JsonNode>> it = wm.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!e.getValue().isTextual()) {
                    throw new CheckpointException(at + ": weight_map entry of tensor " + Text.quote(e.getKey())
                            + " is " + Text.clip(e.getValue().toString()) + ", not a shard file name");
                }
                String file = e.getValue().asText();
                SafetensorsFile f = byFile.get(file);
                if (f == null) {
                    Path p = resolveShard(dir, index, e.getKey(), file);
                    f = SafetensorsFile.open(p);
                    opened.add(f);
                    byFile.put(file, f);
                }
                if (!f.tensors().containsKey(e.getKey())) {
                    throw new CheckpointException(at + ": weight_map puts tensor " + Text.quote(e.getKey()) + " in " + Text.quote(file)
                            + ", which does not hold it");
                }
                shardOf.put(e.getKey(), f);
            }
            for (SafetensorsFile f : byFile.values()) {
                for (String n : f.tensors().keySet()) {
                    if (shardOf.get(n) != f) {
                        throw new CheckpointException(Text.path(f.path()) + ": holds tensor " + Text.quote(n) + " that " + INDEX
                                + " does not list for this shard");
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
        String at = Text.path(index);
        if (file.isEmpty()) {
            throw new CheckpointException(at + ": tensor " + Text.quote(tensor) + " has an empty shard name");
        }
        Path rel;
        try {
            rel = Path.of(file);
        } catch (java.nio.file.InvalidPathException e) {
            throw new CheckpointException(at + ": shard name " + Text.quote(file) + " (tensor " + Text.quote(tensor) + ") is not a valid path");
        }
        Path p = dir.resolve(rel).normalize();
        if (rel.isAbsolute() || !p.startsWith(dir) || p.equals(dir)) {
            throw new CheckpointException(at + ": shard path " + Text.quote(file) + " (tensor " + Text.quote(tensor)
                    + ") is outside the checkpoint folder");
        }
        if (!Files.exists(p)) {
            throw new CheckpointException(at + ": shard " + Text.quote(file) + " (tensor " + Text.quote(tensor) + ") does not exist");
        }
        return p; // SafetensorsFile.open refuses it unless it is a regular file
    }

    /** A JSON file of the checkpoint: regular, bounded in size, strict (duplicate keys are errors naming the key). */
    static JsonNode readJson(Path p) {
        return InputFiles.readJson(p);
    }

    public Path dir() {
        return dir;
    }

    /** The parsed {@code config.json}; a {@link CheckpointException} if it is missing or not a JSON object. */
    public synchronized ObjectNode config() {
        if (config == null) {
            Path p = dir.resolve(CONFIG);
            if (!Files.exists(p)) {
                throw new CheckpointException(Text.path(dir) + ": no " + CONFIG);
            }
            JsonNode n = readJson(p); // refuses a FIFO or device named config.json
            if (!n.isObject()) {
                throw new CheckpointException(Text.path(p) + ": not a JSON object");
            }
            config = (ObjectNode) n;
        }
        return config;
    }

    /** Whether the folder has an entry {@code config.json} ({@link #config} refuses one that is not a regular file). */
    public boolean hasConfig() {
        return Files.exists(dir.resolve(CONFIG));
    }

    /** Every tensor name, in index (or file) order. */
    public List<String> names() {
        return names;
    }

    public boolean has(String name) {
        return shardOf.containsKey(name) || computed.containsKey(name);
    }

    public TensorInfo info(String name) {
        Computed c = computed.get(name);
        return c != null ? c.info() : shard(name).info(name);
    }

    /** Whether {@code name} is computed on read (see {@link #withComputed}) rather than stored. */
    public boolean isComputed(String name) {
        return computed.containsKey(name);
    }

    /** The shard holding {@code name}. */
    public SafetensorsFile shard(String name) {
        SafetensorsFile f = shardOf.get(name);
        if (f == null) {
            if (computed.containsKey(name)) {
                throw new CheckpointException(Text.path(dir) + ": tensor " + Text.quote(name)
                        + " is computed from packed tensors when read and has no stored bytes");
            }
            throw new CheckpointException(Text.path(dir) + ": no tensor " + Text.quote(name));
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
        TensorInfo t = floating(name);
        Computed c = computed.get(name);
        if (c != null) {
            float[] out = new float[Math.toIntExact(t.numel())];
            c.reads().read(MemorySegment.ofArray(out), DType.F32);
            return out;
        }
        try (Arena a = Arena.ofShared()) {
            return Floats.decode(map(name, a), t.dtype());
        }
    }

    /**
     * Reads one floating-point tensor converted to {@code to} into {@code dst} (exactly its element count of
     * {@code to}): stored tensors through {@link Floats#convert} from the mapped file, computed ones by their
     * computation. The runtime fills the buffers it hands to DJL this way.
     */
    public void read(String name, MemorySegment dst, DType to) {
        TensorInfo t = floating(name);
        if (dst.byteSize() != t.numel() * to.size()) {
            throw new CheckpointException(Text.path(dir) + ": tensor " + Text.quote(name) + " of " + t.numel() + " elements does not fill "
                    + dst.byteSize() + " bytes of " + to);
        }
        Computed c = computed.get(name);
        if (c != null) {
            c.reads().read(dst, to);
            return;
        }
        try (Arena a = Arena.ofShared()) {
            Floats.convert(map(name, a), t.dtype(), dst, to, t.numel());
        }
    }

    /**
     * Reads one floating-point tensor as fp32 into {@code into}, which must have exactly its element count: for callers
     * that reuse one buffer across tensors of a size instead of allocating (and zeroing) a new array each time.
     */
    public void floats(String name, float[] into) {
        TensorInfo t = floating(name);
        if (t.numel() != into.length) {
            throw new CheckpointException(Text.path(dir) + ": tensor " + Text.quote(name) + " has " + t.numel()
                    + " elements, the buffer given holds " + into.length);
        }
        if (computed.containsKey(name)) {
            computed.get(name).reads().read(MemorySegment.ofArray(into), DType.F32);
            return;
        }
        try (Arena a = Arena.ofShared()) {
            Floats.decodeInto(map(name, a), t.dtype(), into);
        }
    }

    private TensorInfo floating(String name) {
        TensorInfo t = info(name);
        if (!t.dtype().isFloating()) {
            throw new CheckpointException(Text.path(shard(name).path()) + ": tensor " + Text.quote(name) + " is " + t.dtype()
                    + ", not floating point");
        }
        return t;
    }

    /** Sum of tensor byte sizes. */
    public long totalBytes() {
        long s = 0;
        for (String n : names) {
            s += info(n).byteSize();
        }
        return s;
    }

    /** Sum of tensor element counts. */
    public long totalParameters() {
        long s = 0;
        for (String n : names) {
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
            throw new CheckpointException(Text.path(dir) + ": cannot list (" + Text.escape(e.toString()) + ")", e);
        }
    }

    @Override
    public void close() {
        shards.forEach(SafetensorsFile::close);
    }
}
