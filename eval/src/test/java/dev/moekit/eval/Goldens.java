package dev.moekit.eval;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.io.SafetensorsFile;
import dev.moekit.toolkit.io.TensorInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** The shared reference models and their HF goldens (see /work/shared/README.md). */
final class Goldens {
    static final List<String> DOMAINS = List.of("python", "kernel", "dict", "misc");

    private Goldens() {}

    static Path shared() {
        return Path.of(System.getProperty("moekit.shared", "../shared"));
    }

    static Path model(String name) {
        return shared().resolve("models").resolve(name);
    }

    static Path data(String file) {
        return shared().resolve("data").resolve(file);
    }

    /** Every reference model folder name. */
    static Stream<String> models() {
        try (Stream<Path> s = Files.list(shared().resolve("models"))) {
            return s.filter(p -> Files.isDirectory(p.resolve("golden"))).map(p -> p.getFileName().toString())
                    .sorted().toList().stream();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** An integer tensor (I32 or I64) of a golden file as int[]. */
    static int[] ints(Path file, String name) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            TensorInfo t = f.info(name);
            ByteBuffer b = ByteBuffer.wrap(f.readBytes(name)).order(ByteOrder.LITTLE_ENDIAN);
            int[] out = new int[Math.toIntExact(t.numel())];
            for (int i = 0; i < out.length; i++) {
                out[i] = t.dtype() == DType.I64 ? Math.toIntExact(b.getLong()) : b.getInt();
            }
            return out;
        }
    }

    static long[] shape(Path file, String name) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            return f.info(name).shape();
        }
    }

    static boolean has(Path file, String name) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            return f.tensors().containsKey(name);
        }
    }

    static float[] floats(Path file, String name) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            ByteBuffer b = ByteBuffer.wrap(f.readBytes(name)).order(ByteOrder.LITTLE_ENDIAN);
            float[] out = new float[b.remaining() / 4];
            b.asFloatBuffer().get(out);
            return out;
        }
    }

    /** Windows {@code [32][256]} of a domain from {@code golden/ppl_windows.safetensors}. */
    static int[][] windows(String model, String domain) {
        Path file = model(model).resolve("golden/ppl_windows.safetensors");
        int[] flat = ints(file, domain);
        long[] s = shape(file, domain);
        int[][] out = new int[(int) s[0]][(int) s[1]];
        for (int w = 0; w < out.length; w++) {
            System.arraycopy(flat, w * out[0].length, out[w], 0, out[0].length);
        }
        return out;
    }

    /** Golden perplexity of a domain from {@code golden/ppl.json}. */
    static double ppl(String model, String domain) {
        try {
            JsonNode n = Json.STRICT.readTree(model(model).resolve("golden/ppl.json").toFile());
            return n.get(domain).get("ppl").asDouble();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
