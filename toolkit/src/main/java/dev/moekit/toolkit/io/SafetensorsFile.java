package dev.moekit.toolkit.io;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.math.BigInteger;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One safetensors file, of any size. Opening reads and fully validates the header (dtypes, shapes against byte ranges,
 * contiguous non-overlapping coverage of the data buffer, the file's real length); tensor bytes are read lazily, by
 * mapping exactly one tensor's range ({@link #map}) or by handing the range to the kernel ({@link #transferTo}), so the
 * resident memory of a reader does not grow with the file.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Same limit as the reference Rust implementation. */
    static final long MAX_HEADER = 100L * 1024 * 1024;

    private final Path path;
    private final FileChannel channel;
    private final long fileSize;
    private final long dataStart;
    private final Map<String, TensorInfo> tensors; // in offset order
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, FileChannel channel, long fileSize, long dataStart,
                            Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.fileSize = fileSize;
        this.dataStart = dataStart;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /**
     * Opens and validates {@code path}; every problem is a {@link CheckpointException} naming the file and tensor. Only
     * regular files are opened (a FIFO or device is refused before it can block the reader).
     */
    public static SafetensorsFile open(Path path) {
        InputFiles.requireRegular(path);
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new CheckpointException(Text.path(path) + ": cannot open (" + Text.escape(e.toString()) + ")", e);
        }
        try {
            return parse(path, ch);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    private static SafetensorsFile parse(Path path, FileChannel ch) {
        String at = Text.path(path);
        try {
            long size = ch.size();
            if (size < 8) {
                throw new CheckpointException(at + ": truncated, " + size + " bytes is shorter than the 8-byte header length");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long n = lenBuf.getLong(0);
            if (n < 2 || n > MAX_HEADER) {
                throw new CheckpointException(at + ": header length " + Long.toUnsignedString(n) + " is invalid (must be 2.." + MAX_HEADER + ")");
            }
            if (8 + n > size) {
                throw new CheckpointException(at + ": header length " + n + " goes beyond the end of the file (" + size + " bytes)");
            }
            ByteBuffer hdr = ByteBuffer.allocate((int) n);
            readFully(ch, hdr, 8);
            byte[] bytes = hdr.array();
            if (bytes[0] != '{') {
                throw new CheckpointException(at + ": header is not JSON (does not start with '{')");
            }
            String text;
            try {
                text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
            } catch (CharacterCodingException e) {
                throw new CheckpointException(at + ": header is not valid UTF-8 (" + Text.escape(e.toString()) + ")");
            }
            JsonNode root;
            try {
                root = Json.STRICT.readTree(text.stripTrailing());
            } catch (JacksonException e) {
                throw new CheckpointException(at + ": header is not JSON: " + Text.escape(e.getOriginalMessage()));
            }
            if (root == null || !root.isObject()) {
                throw new CheckpointException(at + ": header is not a JSON object");
            }
            long dataStart = 8 + n;
            long dataLen = size - dataStart;
            Map<String, String> meta = new LinkedHashMap<>();
            List<TensorInfo> list = new ArrayList<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (e.getKey().equals("__metadata__")) {
                    readMetadata(at, e.getValue(), meta);
                } else {
                    list.add(readEntry(at, e.getKey(), e.getValue(), dataLen));
                }
            }
            list.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
            long expect = 0;
            for (TensorInfo t : list) {
                if (t.begin() < expect) {
                    throw new CheckpointException(at + ": tensor " + Text.quote(t.name()) + " data_offsets [" + t.begin() + ", " + t.end()
                            + ") overlap the previous tensor (which ends at " + expect + ")");
                }
                if (t.begin() > expect) {
                    throw new CheckpointException(at + ": tensor " + Text.quote(t.name()) + " starts at " + t.begin()
                            + " leaving a hole after byte " + expect + " of the data buffer");
                }
                expect = t.end();
            }
            if (expect > dataLen) {
                TensorInfo last = list.getLast();
                throw new CheckpointException(at + ": truncated or out-of-file offsets: tensor " + Text.quote(last.name()) + " ends at data byte "
                        + last.end() + " but the file holds only " + dataLen + " data bytes");
            }
            if (expect < dataLen) {
                throw new CheckpointException(at + ": " + (dataLen - expect) + " trailing bytes after the last tensor");
            }
            Map<String, TensorInfo> map = new LinkedHashMap<>();
            for (TensorInfo t : list) {
                map.put(t.name(), t);
            }
            return new SafetensorsFile(path, ch, size, dataStart, Collections.unmodifiableMap(map), Collections.unmodifiableMap(meta));
        } catch (IOException e) {
            throw new CheckpointException(at + ": read failed (" + Text.escape(e.toString()) + ")", e);
        }
    }

    private static void readMetadata(String at, JsonNode node, Map<String, String> meta) {
        if (!node.isObject()) {
            throw new CheckpointException(at + ": __metadata__ is not an object");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> m = it.next();
            if (!m.getValue().isTextual()) {
                throw new CheckpointException(at + ": __metadata__ key " + Text.quote(m.getKey()) + " is not a string");
            }
            meta.put(m.getKey(), m.getValue().asText());
        }
    }

    private static TensorInfo readEntry(String at, String name, JsonNode e, long dataLen) {
        String where = at + ": tensor " + Text.quote(name);
        if (!e.isObject()) {
            throw new CheckpointException(where + " entry is not an object");
        }
        JsonNode dt = e.get("dtype");
        JsonNode sh = e.get("shape");
        JsonNode off = e.get("data_offsets");
        if (dt == null || !dt.isTextual()) {
            throw new CheckpointException(where + " has no dtype");
        }
        DType dtype = DType.parse(dt.asText(), where);
        if (sh == null || !sh.isArray()) {
            throw new CheckpointException(where + " has no shape");
        }
        long[] shape = new long[sh.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = exactLong(sh.get(i), where + " has an invalid shape " + Text.clip(sh.toString()) + ": dimension " + i);
        }
        if (off == null || !off.isArray() || off.size() != 2) {
            throw new CheckpointException(where + " has no valid data_offsets (expected [begin, end])");
        }
        String offsets = where + " has invalid data_offsets " + Text.clip(off.toString());
        long begin = exactLong(off.get(0), offsets + ": begin");
        long end = exactLong(off.get(1), offsets + ": end");
        if (end < begin) {
            throw new CheckpointException(offsets + ": end is before begin");
        }
        if (end > dataLen) {
            throw new CheckpointException(at + ": truncated or out-of-file offsets: tensor " + Text.quote(name) + " data_offsets ["
                    + begin + ", " + end + "] end beyond the " + dataLen + " data bytes the file holds");
        }
        long want;
        try {
            want = Math.multiplyExact(TensorInfo.numel(shape), dtype.size());
        } catch (ArithmeticException ex) {
            throw new CheckpointException(where + " shape " + Text.clip(sh.toString()) + " overflows (more than 2^63 bytes)");
        }
        if (end - begin != want) {
            throw new CheckpointException(where + " shape " + Text.clip(sh.toString()) + " x " + dtype + " needs " + want
                    + " bytes but data_offsets span " + (end - begin));
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static final BigInteger MAX_LONG = BigInteger.valueOf(Long.MAX_VALUE);

    /**
     * A JSON integer read exactly (never wrapped or rounded): a {@link CheckpointException} {@code what} plus the cause
     * for fractions, strings, negative numbers and anything above 2^63 - 1.
     */
    private static long exactLong(JsonNode n, String what) {
        if (n == null || !n.isIntegralNumber()) {
            throw new CheckpointException(what + " is not an integer");
        }
        BigInteger v = n.bigIntegerValue();
        if (v.signum() < 0) {
            throw new CheckpointException(what + " is negative (" + Text.clip(v.toString()) + ")");
        }
        if (v.compareTo(MAX_LONG) > 0) {
            throw new CheckpointException(what + " " + Text.clip(v.toString()) + " is larger than 2^63 - 1");
        }
        return v.longValueExact();
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int r = ch.read(buf, pos + buf.position());
            if (r < 0) {
                throw new IOException("unexpected end of file");
            }
        }
    }

    public Path path() {
        return path;
    }

    public long fileSize() {
        return fileSize;
    }

    /** Offset of the data buffer within the file (8 + header length). */
    public long dataStart() {
        return dataStart;
    }

    /** Tensors in data-offset order. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new CheckpointException(Text.path(path) + ": no tensor " + Text.quote(name));
        }
        return t;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * Maps the bytes of one tensor, read-only, into {@code arena}: the mapping lives until the arena closes. Use a
     * confined arena per tensor (or per layer) to keep resident memory bounded.
     */
    public MemorySegment map(String name, Arena arena) {
        TensorInfo t = info(name);
        if (t.byteSize() == 0) {
            return MemorySegment.ofArray(new byte[0]);
        }
        try {
            return channel.map(FileChannel.MapMode.READ_ONLY, dataStart + t.begin(), t.byteSize(), arena);
        } catch (IOException e) {
            throw new CheckpointException(Text.path(path) + ": cannot map tensor " + Text.quote(name) + " (" + Text.escape(e.toString()) + ")", e);
        }
    }

    /** Copies one tensor's bytes into a fresh heap array (for small tensors and tests). */
    public byte[] readBytes(String name) {
        try (Arena a = Arena.ofConfined()) {
            return map(name, a).toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /**
     * Copies one tensor's bytes to {@code out} at {@code position} inside the kernel (copy_file_range where available),
     * without passing through this process's memory. Safe to call from several threads on the same {@code out}: it
     * never touches the channels' positions.
     */
    public void transferTo(String name, FileChannel out, long position) throws IOException {
        TensorInfo t = info(name);
        long len = t.byteSize();
        // a private source channel: transferFrom reads from the source's own position, which must not be shared
        try (FileChannel src = FileChannel.open(path, StandardOpenOption.READ)) {
            src.position(dataStart + t.begin());
            long done = 0;
            while (done < len) {
                long n = out.transferFrom(src, position + done, len - done);
                if (n <= 0) {
                    throw new IOException(Text.path(path) + ": transfer of " + Text.quote(name) + " stalled at " + done + " of " + len + " bytes");
                }
                done += n;
            }
        }
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing was written through this channel
        }
    }
}
