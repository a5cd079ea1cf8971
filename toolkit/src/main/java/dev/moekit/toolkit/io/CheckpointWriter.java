package dev.moekit.toolkit.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.tensor.Floats;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes a checkpoint folder the way Hugging Face does, safely.
 *
 * <p>The caller first declares every output tensor ({@link #create} takes the plan), so shard boundaries and headers
 * are fixed before any data moves; then tensor data is written in any order, each at its final offset. Everything goes
 * to {@code <out>.partial/}; {@link #commit} checks that every planned tensor was written, writes the index, then
 * {@code config.json} last, syncs, and renames the folder into place. A writer closed without commit deletes its
 * partial folder, so a failed run leaves neither a half-written output nor a touched input.
 *
 * <p>Shards hold at most {@code maxShardSize} bytes of data (a single larger tensor gets a shard of its own); one shard
 * is named {@code model.safetensors}, several are {@code model-0000i-of-0000n.safetensors} with an index carrying
 * {@code total_size}. Headers carry {@code __metadata__} with {@code format: pt} and are padded with spaces so the data
 * starts at a multiple of 8.
 *
 * <p>Tensor writes may come from several threads at once (each goes to its own byte range).
 */
public final class CheckpointWriter implements AutoCloseable {
    public static final long DEFAULT_MAX_SHARD = 5_000_000_000L;
    private static final int CHUNK = 16 << 20;

    /** Writer settings: shard size, whether an existing output may be replaced, extra header metadata. */
    public record Options(long maxShardSize, boolean replace, Map<String, String> metadata) {
        public Options {
            if (maxShardSize <= 0) {
                throw new IllegalArgumentException("max shard size must be positive, got " + maxShardSize);
            }
            metadata = Map.copyOf(metadata);
        }

        public static Options defaults() {
            return new Options(DEFAULT_MAX_SHARD, false, Map.of());
        }

        public Options withMaxShardSize(long bytes) {
            return new Options(bytes, replace, metadata);
        }

        public Options withReplace(boolean r) {
            return new Options(maxShardSize, r, metadata);
        }

        public Options withMetadata(Map<String, String> m) {
            return new Options(maxShardSize, replace, m);
        }
    }

    private record Slot(int shard, long fileOffset, TensorSpec spec) {}

    private final Path out;
    private final Path partial;
    private final Options options;
    private final List<TensorSpec> plan;
    private final Map<String, Slot> slots = new LinkedHashMap<>();
    private final List<FileChannel> channels = new ArrayList<>();
    private final List<String> shardNames = new ArrayList<>();
    private final Set<String> written = new HashSet<>();
    private final Set<String> extraFiles = new HashSet<>();
    private boolean committed;

    private CheckpointWriter(Path out, Options options, List<TensorSpec> plan) {
        this.out = out;
        this.partial = out.resolveSibling(out.getFileName() + ".partial");
        this.options = options;
        this.plan = List.copyOf(plan);
    }

    /**
     * Starts an output at {@code out} for the tensors of {@code plan} (written in plan order within shards). Refuses an
     * output inside (or containing) any of {@code inputs}, and an existing output unless {@link Options#replace()}.
     */
    public static CheckpointWriter create(Path out, List<TensorSpec> plan, Options options, Path... inputs) {
        Path o = out.toAbsolutePath().normalize();
        for (Path in : inputs) {
            Path i = in.toAbsolutePath().normalize();
            if (Files.isRegularFile(i)) {
                i = i.getParent();
            }
            if (o.startsWith(i) || i.startsWith(o)) {
                throw new CheckpointException(o + ": output path is inside the input " + i + " (or contains it); choose another output folder");
            }
        }
        if (Files.exists(o) && !options.replace()) {
            throw new CheckpointException(o + ": output already exists; pass --replace to overwrite it");
        }
        if (Files.exists(o) && !Files.isDirectory(o)) {
            throw new CheckpointException(o + ": output exists and is not a folder");
        }
        Set<String> names = new HashSet<>();
        for (TensorSpec t : plan) {
            if (!names.add(t.name())) {
                throw new CheckpointException(o + ": tensor " + Text.quote(t.name()) + " planned twice");
            }
        }
        CheckpointWriter w = new CheckpointWriter(o, options, plan);
        try {
            w.start();
        } catch (IOException | RuntimeException e) {
            w.close();
            throw e instanceof CheckpointException ce ? ce : new CheckpointException(o + ": cannot start output (" + e + ")", e);
        }
        return w;
    }

    private void start() throws IOException {
        if (Files.exists(partial)) {
            FileTrees.delete(partial); // a leftover of a run that died; it is ours by name
        }
        Path parent = partial.getParent();
        Files.createDirectories(parent);
        long need = plan.stream().mapToLong(TensorSpec::byteSize).sum();
        long free = Files.getFileStore(parent).getUsableSpace();
        if (need > free) {
            throw new CheckpointException(out + ": needs " + need + " bytes of disk, only " + free + " free on " + Files.getFileStore(parent));
        }
        Files.createDirectory(partial);
        List<List<TensorSpec>> groups = new ArrayList<>();
        long cur = 0;
        // a shard's file is 8 bytes of length, the header (padded to 8) and the data: count all of it against the limit
        long base = 8 + headerBase() + 8;
        for (TensorSpec t : plan) {
            long add = t.byteSize() + headerEntry(t);
            if (groups.isEmpty() || (cur > base && cur + add > options.maxShardSize())) {
                groups.add(new ArrayList<>());
                cur = base;
            }
            groups.getLast().add(t);
            cur += add;
        }
        if (groups.isEmpty()) {
            groups.add(new ArrayList<>());
        }
        int n = groups.size();
        for (int s = 0; s < n; s++) {
            String name = n == 1 ? Checkpoint.SINGLE : String.format("model-%05d-of-%05d.safetensors", s + 1, n);
            shardNames.add(name);
            openShard(s, name, groups.get(s));
        }
    }

    /** Bytes of the header without tensors: braces and the metadata object. */
    private long headerBase() throws IOException {
        ObjectNode hdr = Json.COMPACT.createObjectNode();
        ObjectNode meta = hdr.putObject("__metadata__");
        meta.put("format", "pt");
        options.metadata().forEach(meta::put);
        return Json.COMPACT.writeValueAsBytes(hdr).length;
    }

    /** An upper bound of the bytes one tensor's entry adds to a header (offsets counted at 20 digits). */
    private static long headerEntry(TensorSpec t) throws IOException {
        ObjectNode e = Json.COMPACT.createObjectNode();
        ObjectNode x = e.putObject(t.name());
        x.put("dtype", t.dtype().safetensorsName());
        var shape = x.putArray("shape");
        for (long d : t.shape()) {
            shape.add(d);
        }
        x.putArray("data_offsets").add(Long.MAX_VALUE).add(Long.MAX_VALUE);
        return Json.COMPACT.writeValueAsBytes(e).length + 2 + 2 * 2; // comma, and 2 more digits per offset than Long.MAX
    }

    private void openShard(int s, String name, List<TensorSpec> tensors) throws IOException {
        ObjectNode hdr = Json.COMPACT.createObjectNode();
        ObjectNode meta = hdr.putObject("__metadata__");
        meta.put("format", "pt");
        options.metadata().forEach(meta::put);
        long off = 0;
        for (TensorSpec t : tensors) {
            ObjectNode e = hdr.putObject(t.name());
            e.put("dtype", t.dtype().safetensorsName());
            var shape = e.putArray("shape");
            for (long d : t.shape()) {
                shape.add(d);
            }
            var offs = e.putArray("data_offsets");
            offs.add(off);
            offs.add(off + t.byteSize());
            off += t.byteSize();
        }
        byte[] json = Json.COMPACT.writeValueAsBytes(hdr);
        int padded = (int) ((8 + json.length + 7) / 8 * 8 - 8);
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        head.flip();
        FileChannel ch = FileChannel.open(partial.resolve(name), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, StandardOpenOption.READ);
        channels.add(ch);
        writeFully(ch, head, 0);
        long dataStart = 8L + padded;
        long pos = dataStart;
        for (TensorSpec t : tensors) {
            slots.put(t.name(), new Slot(s, pos, t));
            pos += t.byteSize();
        }
        ch.truncate(pos);
        if (ch.size() < pos) { // extend to full length so a crash is visible as a short file, never as a wrong one
            writeFully(ch, ByteBuffer.allocate(1), pos - 1);
        }
    }

    /** The planned tensors. */
    public List<TensorSpec> plan() {
        return plan;
    }

    public TensorSpec spec(String name) {
        return slot(name).spec();
    }

    private Slot slot(String name) {
        Slot s = slots.get(name);
        if (s == null) {
            throw new CheckpointException(out + ": tensor " + Text.quote(name) + " is not in the output plan");
        }
        return s;
    }

    private synchronized Slot claim(String name) {
        Slot s = slot(name);
        if (!written.add(name)) {
            throw new CheckpointException(out + ": tensor " + Text.quote(name) + " written twice");
        }
        return s;
    }

    /** Writes raw bytes already in the planned dtype. */
    public void write(String name, MemorySegment bytes) {
        Slot s = claim(name);
        if (bytes.byteSize() != s.spec().byteSize()) {
            throw new CheckpointException(out + ": tensor " + Text.quote(name) + " got " + bytes.byteSize() + " bytes, plan says " + s.spec().byteSize());
        }
        FileChannel ch = channels.get(s.shard());
        try {
            long len = bytes.byteSize();
            for (long done = 0; done < len; done += CHUNK) {
                long n = Math.min(CHUNK, len - done);
                writeFully(ch, bytes.asSlice(done, n).asByteBuffer(), s.fileOffset() + done);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(out + ": writing tensor " + Text.quote(name) + " failed (" + cause(e) + ")", e);
        }
    }

    /** Writes fp32 values, encoded to the planned dtype (in native memory, so the file write needs no bounce copy). */
    public void write(String name, float[] values) {
        TensorSpec t = slot(name).spec();
        if (values.length != t.numel()) {
            throw new CheckpointException(out + ": tensor " + Text.quote(name) + " got " + values.length + " values, plan says " + t.numel());
        }
        write(name, dst -> Floats.encode(values, 0, values.length, t.dtype(), dst, 0));
    }

    /**
     * Writes a tensor that {@code fill} produces in place: it gets a native buffer of exactly the planned byte size
     * (reused across writes and threads, contents undefined until filled) and must fill all of it with the tensor's
     * bytes in the planned dtype; the buffer is then written to the tensor's range. Packers and encoders write their
     * output straight into it, so no intermediate array, boxed value or per-element copy stands between them and the
     * file.
     */
    public void write(String name, java.util.function.Consumer<MemorySegment> fill) {
        long size = slot(name).spec().byteSize();
        Scratch b = borrow(size);
        try {
            MemorySegment seg = b.segment().asSlice(0, size);
            fill.accept(seg);
            write(name, seg);
        } finally {
            scratch.push(b);
        }
    }

    /** A native buffer of {@link #write(String, java.util.function.Consumer)}'s pool, in an arena of its own. */
    private record Scratch(Arena arena, MemorySegment segment) {}

    private final java.util.concurrent.ConcurrentLinkedDeque<Scratch> scratch = new java.util.concurrent.ConcurrentLinkedDeque<>();

    /** A pooled buffer of at least {@code size} bytes: one as large if free, else a new one (a smaller free one is freed). */
    private Scratch borrow(long size) {
        for (var it = scratch.iterator(); it.hasNext(); ) {
            Scratch b = it.next();
            if (b.segment().byteSize() >= size && scratch.removeFirstOccurrence(b)) {
                return b;
            }
        }
        Scratch small = scratch.pollLast();
        if (small != null) {
            small.arena().close();
        }
        Arena a = Arena.ofShared();
        return new Scratch(a, a.allocate(Math.max(size, 1), 64));
    }

    private void freeScratch() {
        for (Scratch b; (b = scratch.poll()) != null; ) {
            b.arena().close();
        }
    }

    /** Writes a tensor of a source dtype, converting to the planned dtype in bounded chunks. */
    public void writeConverted(String name, MemorySegment src, DType srcType) {
        Slot s = slot(name);
        DType to = s.spec().dtype();
        if (to == srcType) {
            write(name, src);
            return;
        }
        claim(name);
        long count = s.spec().numel();
        if (src.byteSize() != count * srcType.size()) {
            throw new CheckpointException(out + ": tensor " + Text.quote(name) + " source has " + src.byteSize() + " bytes, expected " + count * srcType.size());
        }
        FileChannel ch = channels.get(s.shard());
        long per = CHUNK / Math.max(srcType.size(), to.size());
        try (Arena a = Arena.ofShared()) { // shared: Floats.convert splits large chunks over the pool
            MemorySegment buf = a.allocate(per * to.size(), 64);
            for (long i = 0; i < count; i += per) {
                long n = Math.min(per, count - i);
                MemorySegment dst = buf.asSlice(0, n * to.size());
                Floats.convert(src.asSlice(i * srcType.size(), n * srcType.size()), srcType, dst, to, n);
                writeFully(ch, dst.asByteBuffer(), s.fileOffset() + i * to.size());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(out + ": writing tensor " + Text.quote(name) + " failed (" + cause(e) + ")", e);
        }
    }

    /** Copies a tensor with the same dtype and shape from an input shard, inside the kernel. */
    public void copy(String name, SafetensorsFile src, String srcName) {
        TensorInfo in = src.info(srcName);
        Slot s = slot(name);
        if (in.dtype() != s.spec().dtype() || in.byteSize() != s.spec().byteSize()) {
            throw new CheckpointException(out + ": cannot copy " + Text.quote(srcName) + " (" + in.dtype() + in.shapeString() + ") as planned " + s.spec());
        }
        claim(name);
        try {
            src.transferTo(srcName, channels.get(s.shard()), s.fileOffset());
        } catch (IOException e) {
            throw new UncheckedIOException(out + ": copying tensor " + Text.quote(name) + " failed (" + cause(e) + ")", e);
        }
    }

    /** Copies a non-weight file (tokenizer, README, ...) into the output under its own name. */
    public void copyFile(Path file) {
        String name = file.getFileName().toString();
        checkExtra(name);
        try {
            Path dst = partial.resolve(name);
            Files.copy(file, dst);
            // an input's read-only mode is not an output's: outputs are the user's to edit and replace
            try {
                Files.setPosixFilePermissions(dst, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
            } catch (UnsupportedOperationException ignored) {
                // not a POSIX filesystem
            }
        } catch (IOException e) {
            throw new UncheckedIOException(out + ": copying " + Text.path(file) + " failed (" + cause(e) + ")", e);
        }
    }

    /** Copies every non-weight file of {@code input} (tokenizer, generation config, chat template, README...). */
    public void copyOtherFiles(Checkpoint input) {
        for (Path p : input.otherFiles()) {
            copyFile(p);
        }
    }

    /** Writes an extra JSON file (provenance, reports) into the output. */
    public void writeJson(String fileName, JsonNode json) {
        checkExtra(fileName);
        try {
            Json.PRETTY.writeValue(partial.resolve(fileName).toFile(), json);
        } catch (IOException e) {
            throw new UncheckedIOException(out + ": writing " + fileName + " failed" + " (" + cause(e) + ")", e);
        }
    }

    /** Writes an extra text file into the output. */
    public void writeText(String fileName, String text) {
        checkExtra(fileName);
        try {
            Files.writeString(partial.resolve(fileName), text, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(out + ": writing " + fileName + " failed" + " (" + cause(e) + ")", e);
        }
    }

    /** The cause of an I/O failure in words, e.g. "No space left on device" for ENOSPC. */
    static String cause(IOException e) {
        String m = e.getMessage();
        if (e instanceof java.nio.file.FileSystemException fs && fs.getReason() != null) {
            m = fs.getReason() + (fs.getFile() != null ? ": " + fs.getFile() : "");
        }
        return (m == null || m.isBlank() ? e.getClass().getSimpleName() : m).replaceAll("\\s+", " ");
    }

    private void checkExtra(String name) {
        if (name.contains("/") || name.contains("\\") || name.equals(Checkpoint.CONFIG) || name.equals(Checkpoint.INDEX)
                || name.endsWith(".safetensors")) {
            throw new CheckpointException(out + ": refusing to write extra file " + Text.quote(name) + " (reserved or not a plain name)");
        }
        if (!extraFiles.add(name)) {
            throw new CheckpointException(out + ": file " + Text.quote(name) + " written twice");
        }
    }

    /**
     * Finishes the output: checks every planned tensor was written, writes the index (for several shards), then
     * {@code config} last, syncs everything and moves the folder into place. Returns the output folder.
     */
    public Path commit(JsonNode config) {
        if (committed) {
            throw new IllegalStateException("already committed");
        }
        for (TensorSpec t : plan) {
            if (!written.contains(t.name())) {
                throw new CheckpointException(out + ": tensor " + Text.quote(t.name()) + " was planned but never written");
            }
        }
        try {
            for (FileChannel ch : channels) {
                ch.force(true);
                ch.close();
            }
            if (shardNames.size() > 1) {
                ObjectNode idx = Json.PRETTY.createObjectNode();
                ObjectNode md = idx.putObject("metadata");
                md.put("total_parameters", plan.stream().mapToLong(TensorSpec::numel).sum());
                md.put("total_size", plan.stream().mapToLong(TensorSpec::byteSize).sum());
                ObjectNode wm = idx.putObject("weight_map");
                plan.stream().map(TensorSpec::name).sorted().forEach(n -> wm.put(n, shardNames.get(slots.get(n).shard())));
                writeSynced(partial.resolve(Checkpoint.INDEX), Json.PRETTY.writeValueAsBytes(idx));
            }
            if (config != null) {
                writeSynced(partial.resolve(Checkpoint.CONFIG), Json.PRETTY.writeValueAsBytes(config));
            }
            FileTrees.publish(partial, out);
            committed = true;
            freeScratch();
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(out + ": commit failed" + " (" + cause(e) + ")", e);
        }
    }

    public Path output() {
        return out;
    }

    public List<String> shardNames() {
        return List.copyOf(shardNames);
    }

    private static void writeSynced(Path p, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            writeFully(ch, ByteBuffer.wrap(bytes), 0);
            ch.force(true);
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        long p = pos;
        while (buf.hasRemaining()) {
            p += ch.write(buf, p);
        }
    }

    /** Abandons an uncommitted output: closes files and deletes the partial folder. */
    @Override
    public void close() {
        freeScratch();
        for (FileChannel ch : channels) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // being discarded
            }
        }
        if (!committed) {
            try {
                FileTrees.delete(partial);
            } catch (IOException ignored) {
                // best effort; the next run removes leftovers by name
            }
        }
    }
}
