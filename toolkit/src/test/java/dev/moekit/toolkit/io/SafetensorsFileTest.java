package dev.moekit.toolkit.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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
}
