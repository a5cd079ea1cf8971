package dev.moekit.toolkit.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class SafetensorsFileTest {
    @TempDir
    Path dir;

    private CheckpointException bad(String header, long declared, byte[] data) throws IOException {
        Path f = RawSafetensors.write(dir.resolve("bad.safetensors"), header, declared, data);
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafetensorsFile.open(f).close());
        assertTrue(e.getMessage().startsWith(f.toString()), "message names the file: " + e.getMessage());
        assertTrue(e.getMessage().indexOf('\n') < 0, "one line: " + e.getMessage());
        return e;
    }

    private CheckpointException bad(String header, byte[] data) throws IOException {
        return bad(header, header.length(), data);
    }

    @Test
    void readsEveryDtypeWithShapesAndOffsets() throws IOException {
        StringBuilder h = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\",\"k\":\"v\"}");
        long off = 0;
        for (DType t : DType.values()) {
            long len = 6L * t.size();
            h.append(",\"t_").append(t).append("\":{\"dtype\":\"").append(t).append("\",\"shape\":[2,3],\"data_offsets\":[")
                    .append(off).append(',').append(off + len).append("]}");
            off += len;
        }
        h.append(",\"scalar\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[").append(off).append(',').append(off + 4).append("]}");
        h.append(",\"empty\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[").append(off + 4).append(',').append(off + 4).append("]}}");
        byte[] data = new byte[(int) off + 4];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) i;
        }
        Path f = RawSafetensors.write(dir.resolve("all.safetensors"), h.toString(), data);
        try (SafetensorsFile s = SafetensorsFile.open(f)) {
            assertEquals("v", s.metadata().get("k"));
            assertEquals(DType.values().length + 2, s.tensors().size());
            TensorInfo bf = s.info("t_BF16");
            assertEquals(DType.BF16, bf.dtype());
            assertArrayEquals(new long[] {2, 3}, bf.shape());
            assertEquals(12, bf.byteSize());
            byte[] got = s.readBytes("t_BF16");
            for (int i = 0; i < got.length; i++) {
                assertEquals((byte) (bf.begin() + i), got[i]);
            }
            assertEquals(1, s.info("scalar").numel());
            assertEquals(0, s.readBytes("empty").length);
        }
    }

    @Test
    void truncatedShard() throws IOException {
        String h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}";
        CheckpointException e = bad(h, new byte[10]);
        assertTrue(e.getMessage().contains("'a'") && e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void fileShorterThanLengthPrefix() throws IOException {
        Path f = dir.resolve("tiny.safetensors");
        Files.write(f, new byte[] {1, 2, 3});
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafetensorsFile.open(f));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void headerLengthBeyondFile() throws IOException {
        String h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        CheckpointException e = bad(h, 1_000_000, new byte[4]);
        assertTrue(e.getMessage().contains("beyond the end of the file"), e.getMessage());
    }

    @Test
    void headerNotJson() throws IOException {
        CheckpointException e = bad("{\"a\": oops}", new byte[0]);
        assertTrue(e.getMessage().contains("not JSON"), e.getMessage());
        CheckpointException e2 = bad("[1,2,3]   ", new byte[0]);
        assertTrue(e2.getMessage().contains("not JSON"), e2.getMessage());
    }

    @Test
    void duplicateTensorNames() throws IOException {
        String h = "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}";
        CheckpointException e = bad(h, new byte[2]);
        assertTrue(e.getMessage().contains("a"), e.getMessage());
    }

    @Test
    void unknownDtype() throws IOException {
        String h = "{\"w\":{\"dtype\":\"F4_E2M1\",\"shape\":[2],\"data_offsets\":[0,1]}}";
        CheckpointException e = bad(h, new byte[1]);
        assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("unknown dtype 'F4_E2M1'"), e.getMessage());
    }

    @Test
    void shapeTimesDtypeSizeMustMatchByteRange() throws IOException {
        String h = "{\"w\":{\"dtype\":\"BF16\",\"shape\":[3,3],\"data_offsets\":[0,16]}}";
        CheckpointException e = bad(h, new byte[16]);
        assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("needs 18 bytes"), e.getMessage());
    }

    @Test
    void overlappingOffsets() throws IOException {
        String h = "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]}}";
        CheckpointException e = bad(h, new byte[6]);
        assertTrue(e.getMessage().contains("'b'") && e.getMessage().contains("overlap"), e.getMessage());
    }

    @Test
    void holeBetweenTensors() throws IOException {
        String h = "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[4,6]}}";
        CheckpointException e = bad(h, new byte[6]);
        assertTrue(e.getMessage().contains("'b'") && e.getMessage().contains("hole"), e.getMessage());
    }

    @Test
    void offsetsOutOfFile() throws IOException {
        String h = "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},\"b\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[2,10]}}";
        CheckpointException e = bad(h, new byte[4]);
        assertTrue(e.getMessage().contains("'b'") && e.getMessage().contains("out-of-file"), e.getMessage());
    }

    @Test
    void negativeOrReversedOffsets() throws IOException {
        String h = "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}";
        CheckpointException e = bad(h, new byte[4]);
        assertTrue(e.getMessage().contains("'a'"), e.getMessage());
    }

    @Test
    void trailingBytes() throws IOException {
        String h = "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}";
        CheckpointException e = bad(h, new byte[5]);
        assertTrue(e.getMessage().contains("trailing"), e.getMessage());
    }

    @Test
    void readsTheReferenceShards() {
        Path model = Path.of(System.getProperty("moekit.shared", "../shared"), "models", "mixtral-tiny", "model-00001-of-00005.safetensors");
        try (SafetensorsFile s = SafetensorsFile.open(model)) {
            assertEquals("pt", s.metadata().get("format"));
            assertEquals(0, s.dataStart() % 8, "HF pads headers to 8 bytes");
            TensorInfo emb = s.info("model.embed_tokens.weight");
            assertEquals(DType.BF16, emb.dtype());
            assertArrayEquals(new long[] {8192, 256}, emb.shape());
        }
    }

    /** Offsets are exact integers: 2^64 + 4 is not 4, 2^63 is not negative, 1.5 and "4" are not numbers of bytes. */
    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {
        "0; 18446744073709551620; larger than 2^63 - 1",
        "18446744073709551616; 18446744073709551620; larger than 2^63 - 1",
        "0; 18446744073709551615; larger than 2^63 - 1",
        "9223372036854775808; 9223372036854775812; larger than 2^63 - 1",
        "-4; 0; negative",
        "0; 1.5; not an integer",
        "0; 4.0; not an integer",
        "0; 4e0; not an integer",
        "0; '\"4\"'; not an integer",
        "0; true; not an integer",
        "0; null; not an integer"})
    void offsetsAreExactNonNegativeIntegers(String begin, String end, String cause) throws IOException {
        String h = "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[" + begin + "," + end + "]}}";
        CheckpointException e = bad(h, new byte[4]);
        assertTrue(e.getMessage().contains("tensor 'a' has invalid data_offsets") && e.getMessage().contains(cause), e.getMessage());
    }

    @Test
    void offsetsBeyondTheFileAreRefusedPerTensor() throws IOException {
        String h = "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[9223372036854775807,9223372036854775807]}}";
        CheckpointException e = bad(h, new byte[0]);
        assertTrue(e.getMessage().contains("'a'") && e.getMessage().contains("out-of-file"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"[18446744073709551620]", "[9223372036854775808]", "[-1]", "[1.5]", "[\"4\"]", "[4294967296,4294967296]",
        "[3037000500,3037000500]", "[true]"})
    void shapeDimensionsAreExactAndTheirProductFits(String shape) throws IOException {
        String h = "{\"a\":{\"dtype\":\"U8\",\"shape\":" + shape + ",\"data_offsets\":[0,4]}}";
        CheckpointException e = bad(h, new byte[4]);
        assertTrue(e.getMessage().contains("tensor 'a'") && e.getMessage().contains("shape"), e.getMessage());
    }

    @Test
    void headerMustBeUtf8() throws IOException {
        byte[] h = "{\"a?\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}".getBytes(StandardCharsets.US_ASCII);
        h[3] = (byte) 0xff; // not UTF-8: the old reader turned it into U+FFFD and accepted the name
        Path f = RawSafetensors.write(dir.resolve("latin1.safetensors"), h, new byte[1]);
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafetensorsFile.open(f));
        assertTrue(e.getMessage().startsWith(f + ": header is not valid UTF-8"), e.getMessage());
    }

    /** Names from the file are escaped in messages: no terminal escape, bidi override or line break reaches the user. */
    @Test
    void tensorNamesInMessagesAreEscaped() throws IOException {
        String h = "{\"\\u001b[31mred\\u202e\\n\":{\"dtype\":\"Q8\",\"shape\":[1],\"data_offsets\":[0,1]}}";
        CheckpointException e = bad(h, new byte[1]);
        assertTrue(e.getMessage().contains("tensor '\\u001b[31mred\\u202e\\u000a'"), e.getMessage());
        assertTrue(e.getMessage().chars().noneMatch(ch -> ch == 0x1b || ch == 0x202e || ch == '\n'), e.getMessage());
        String dtype = "{\"a\":{\"dtype\":\"F32\\u001b]0;title\\u0007\",\"shape\":[1],\"data_offsets\":[0,1]}}";
        CheckpointException d = bad(dtype, new byte[1]);
        assertTrue(d.getMessage().contains("unknown dtype 'F32\\u001b]0;title\\u0007'"), d.getMessage());
        String meta = "{\"__metadata__\":{\"\\u009bkey\":1}}";
        CheckpointException m = bad(meta, new byte[0]);
        assertTrue(m.getMessage().contains("__metadata__ key '\\u009bkey' is not a string"), m.getMessage());
    }

    @Test
    void longNamesAreCut() throws IOException {
        String name = "x".repeat(10_000);
        String h = "{\"" + name + "\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,1]}}";
        CheckpointException e = bad(h, new byte[1]);
        assertTrue(e.getMessage().contains("...(10000 chars)'") && e.getMessage().length() < 1000, e.getMessage());
    }

    /** The declared header length is checked against the limit and the file before anything of that size is allocated. */
    @Test
    void headerLengthIsBoundedBeforeAllocation() throws IOException {
        Path f = dir.resolve("sparse.safetensors");
        try (var raf = new java.io.RandomAccessFile(f.toFile(), "rw")) {
            raf.write(java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(SafetensorsFile.MAX_HEADER + 1).array());
            raf.setLength(SafetensorsFile.MAX_HEADER * 2); // sparse: no disk used
        }
        var mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long before = mx.getCurrentThreadAllocatedBytes();
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafetensorsFile.open(f));
        long allocated = mx.getCurrentThreadAllocatedBytes() - before;
        assertTrue(e.getMessage().contains("header length " + (SafetensorsFile.MAX_HEADER + 1) + " is invalid"), e.getMessage());
        assertTrue(allocated < 4 << 20, "allocated " + allocated + " bytes");
        CheckpointException neg = bad("{}", -1, new byte[0]);
        assertTrue(neg.getMessage().contains("header length 18446744073709551615 is invalid"), neg.getMessage());
    }
}
