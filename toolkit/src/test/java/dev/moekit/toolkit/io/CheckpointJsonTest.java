package dev.moekit.toolkit.io;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The JSON files of a checkpoint (config.json, the index): strict, typed, and named with the key at fault. */
class CheckpointJsonTest {
    @TempDir
    Path tmp;

    /** mixtral-tiny with every file linked, except {@code file}, written with {@code text}. */
    private Path withFile(String file, String text) throws IOException {
        Path src = CheckpointTest.MIXTRAL;
        Path dst = tmp.resolve("m");
        Files.createDirectories(dst);
        try (Stream<Path> s = Files.list(src)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                if (!p.getFileName().toString().equals(file)) {
                    Files.createSymbolicLink(dst.resolve(p.getFileName()), p.toAbsolutePath());
                }
            }
        }
        Files.writeString(dst.resolve(file), text);
        return dst;
    }

    private static String ref(String file) throws IOException {
        return Files.readString(CheckpointTest.MIXTRAL.resolve(file));
    }

    private static void oneLineNaming(CheckpointException e, Path file, String... parts) {
        assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
        assertTrue(e.getMessage().indexOf('\n') < 0, e.getMessage());
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "'" + p + "' in: " + e.getMessage());
        }
    }

    @Test
    void duplicateConfigKeyIsRejectedByName() throws IOException {
        Path dir = withFile(Checkpoint.CONFIG, ref(Checkpoint.CONFIG).replace("\"hidden_size\": 256,", "\"hidden_size\": 256, \"hidden_size\": 4096,"));
        try (Checkpoint c = Checkpoint.open(dir)) {
            CheckpointException e = assertThrows(CheckpointException.class, c::config);
            oneLineNaming(e, dir.resolve(Checkpoint.CONFIG), "not valid JSON", "Duplicate", "hidden_size");
        }
    }

    @Test
    void duplicateNestedConfigKeyIsRejectedByName() throws IOException {
        Path dir = withFile(Checkpoint.CONFIG, ref(Checkpoint.CONFIG).replace("\"rope_type\": \"default\"",
                "\"rope_type\": \"default\", \"rope_theta\": 1.0"));
        try (Checkpoint c = Checkpoint.open(dir)) {
            CheckpointException e = assertThrows(CheckpointException.class, c::config);
            oneLineNaming(e, dir.resolve(Checkpoint.CONFIG), "Duplicate", "rope_theta");
        }
    }

    @Test
    void duplicateIndexEntryIsRejectedByName() throws IOException {
        String idx = ref(Checkpoint.INDEX).replace("\"weight_map\": {", "\"weight_map\": {\n    \"model.norm.weight\": \"model-00001-of-00005.safetensors\",");
        Path dir = withFile(Checkpoint.INDEX, idx);
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(dir));
        oneLineNaming(e, dir.resolve(Checkpoint.INDEX), "Duplicate", "model.norm.weight");
        Path dir2 = tmp.resolve("m2");
        Files.move(dir, dir2);
        Files.writeString(dir2.resolve(Checkpoint.INDEX), ref(Checkpoint.INDEX).replaceFirst("\\{", "{\"metadata\": {},"));
        CheckpointException m = assertThrows(CheckpointException.class, () -> Checkpoint.open(dir2));
        oneLineNaming(m, dir2.resolve(Checkpoint.INDEX), "Duplicate", "metadata");
    }

    @Test
    void weightMapValuesMustBeFileNames() throws IOException {
        Path dir = withFile(Checkpoint.INDEX, ref(Checkpoint.INDEX).replace("\"model.norm.weight\": \"model-00005-of-00005.safetensors\"",
                "\"model.norm.weight\": 5"));
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(dir));
        oneLineNaming(e, dir.resolve(Checkpoint.INDEX), "weight_map entry of tensor 'model.norm.weight' is 5, not a shard file name");
    }

    @Test
    void indexMetadataMustBeAnObject() throws IOException {
        String idx = ref(Checkpoint.INDEX);
        int a = idx.indexOf("\"metadata\"");
        int b = idx.indexOf('}', a);
        Path dir = withFile(Checkpoint.INDEX, idx.substring(0, a) + "\"metadata\": [1]" + idx.substring(b + 1));
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(dir));
        oneLineNaming(e, dir.resolve(Checkpoint.INDEX), "metadata is not an object");
    }

    @Test
    void indexNamesAreEscaped() throws IOException {
        String idx = ref(Checkpoint.INDEX).replace("\"model.norm.weight\": \"model-00005-of-00005.safetensors\"",
                "\"model.norm.weight\": \"model-00005-of-00005.safetensors\", \"evil\\u001b[2J\": \"model-00005-of-00005.safetensors\"");
        Path dir = withFile(Checkpoint.INDEX, idx);
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(dir));
        oneLineNaming(e, dir.resolve(Checkpoint.INDEX), "tensor 'evil\\u001b[2J'");
        assertTrue(e.getMessage().indexOf(0x1b) < 0, e.getMessage());
    }

    @Test
    void emptyAndNonObjectJson() throws IOException {
        Path dir = withFile(Checkpoint.INDEX, "");
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.open(dir));
        oneLineNaming(e, dir.resolve(Checkpoint.INDEX), "empty");
        Files.writeString(dir.resolve(Checkpoint.INDEX), "[1, 2]");
        CheckpointException arr = assertThrows(CheckpointException.class, () -> Checkpoint.open(dir));
        oneLineNaming(arr, dir.resolve(Checkpoint.INDEX), "not a JSON object");
    }
}
