package dev.moekit.eval;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Tokenization under the evaluation protocol (design.md): the whole text in one piece without special tokens, bos
 * prepended, cut into non-overlapping windows of {@code window} tokens from the start, the first {@code count} kept.
 * Uses the model folder's own {@code tokenizer.json} through DJL's HuggingFace tokenizer, offline.
 */
public final class TextWindows implements AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;
    private final int bos;

    private TextWindows(HuggingFaceTokenizer tokenizer, int bos) {
        this.tokenizer = tokenizer;
        this.bos = bos;
    }

    /** Opens {@code dir/tokenizer.json}; bos is {@code bos_token_id} of config.json, else tokenizer_config's bos. */
    public static TextWindows open(Path dir) {
        Path json = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(json)) {
            throw new CheckpointException(json + ": tokenizer.json is missing (the evaluator needs the model's tokenizer)");
        }
        HuggingFaceTokenizer tok;
        try {
            tok = HuggingFaceTokenizer.newInstance(dir, Map.of("addSpecialTokens", "false", "truncation", "false",
                    "padding", "false", "modelMaxLength", Integer.toString(Integer.MAX_VALUE)));
        } catch (IOException e) {
            throw new UncheckedIOException(json + ": cannot load tokenizer", e);
        }
        try {
            return new TextWindows(tok, bosId(dir, tok));
        } catch (RuntimeException e) {
            tok.close();
            throw e;
        }
    }

    public int bos() {
        return bos;
    }

    /** The token ids of {@code text}, without special tokens. */
    public int[] encode(String text) {
        long[] ids = tokenizer.encode(text).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    /**
     * The protocol windows of {@code text}: {@code [bos] + encode(text)} cut into windows of {@code window} tokens;
     * returns the first {@code count} (fewer if the text is short; a trailing partial window is dropped).
     */
    public int[][] windows(String text, int window, int count) {
        if (window < 2 || count < 1) {
            throw new IllegalArgumentException("window must be >= 2 and count >= 1, got " + window + ", " + count);
        }
        int[] ids = encode(text);
        int total = ids.length + 1;
        int n = Math.min(count, total / window);
        int[][] out = new int[n][window];
        for (int w = 0; w < n; w++) {
            for (int i = 0; i < window; i++) {
                int pos = w * window + i;
                out[w][i] = pos == 0 ? bos : ids[pos - 1];
            }
        }
        return out;
    }

    /** {@link #windows(String, int, int)} of a UTF-8 file; fails if it yields no full window. */
    public int[][] windows(Path file, int window, int count) {
        try {
            int[][] w = windows(Files.readString(file), window, count);
            if (w.length == 0) {
                throw new IllegalArgumentException(file + ": too short for one window of " + window + " tokens");
            }
            return w;
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read", e);
        }
    }

    private static int bosId(Path dir, HuggingFaceTokenizer tok) {
        JsonNode config = readJson(dir.resolve("config.json"));
        if (config != null && config.path("bos_token_id").isInt()) {
            return config.get("bos_token_id").asInt();
        }
        JsonNode tc = readJson(dir.resolve("tokenizer_config.json"));
        JsonNode bos = tc == null ? null : tc.get("bos_token");
        String token = bos == null ? null : bos.isObject() ? bos.path("content").asText(null) : bos.asText(null);
        if (token != null) {
            long[] ids = tok.encode(token).getIds();
            if (ids.length == 1) {
                return Math.toIntExact(ids[0]);
            }
        }
        throw new CheckpointException(dir + ": no bos_token_id in config.json nor a single-token bos_token in "
                + "tokenizer_config.json");
    }

    private static JsonNode readJson(Path file) {
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try {
            return Json.STRICT.readTree(file.toFile());
        } catch (IOException e) {
            throw new CheckpointException(file + ": not valid JSON: " + e.getMessage());
        }
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
