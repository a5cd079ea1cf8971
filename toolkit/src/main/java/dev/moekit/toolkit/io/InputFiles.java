package dev.moekit.toolkit.io;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Checks on input files made before they are opened: opening a FIFO blocks until a writer appears, and reading a
 * device never ends, so only regular files (symbolic links are followed by a stat, which never blocks) are read.
 */
final class InputFiles {
    /** Largest JSON file (config, index) read whole; HF indexes of the largest models are a few MB. */
    static final long MAX_JSON = 100L * 1024 * 1024;

    private InputFiles() {}

    /** The size of {@code p}; a {@link CheckpointException} naming it unless it is a regular file. Never opens it. */
    static long requireRegular(Path p) {
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(p, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(Text.path(p) + ": does not exist", e);
        } catch (IOException e) {
            throw new CheckpointException(Text.path(p) + ": cannot read its attributes (" + Text.escape(e.toString()) + ")", e);
        }
        if (a.isDirectory()) {
            throw new CheckpointException(Text.path(p) + ": is a folder, not a regular file");
        }
        if (!a.isRegularFile()) {
            throw new CheckpointException(Text.path(p) + ": is not a regular file (a FIFO, socket or device); refusing to read it");
        }
        return a.size();
    }

    /**
     * Parses a JSON file with {@link Json#STRICT} (duplicate keys and trailing content are errors) after checking that
     * it is a regular file of at most {@link #MAX_JSON} bytes.
     */
    static JsonNode readJson(Path p) {
        long size = requireRegular(p);
        if (size > MAX_JSON) {
            throw new CheckpointException(Text.path(p) + ": " + size + " bytes is larger than the " + MAX_JSON + " bytes a JSON file may have");
        }
        try (InputStream in = Files.newInputStream(p)) {
            JsonNode n = Json.STRICT.readTree(in.readNBytes((int) MAX_JSON + 1));
            if (n == null || n.isMissingNode()) {
                throw new CheckpointException(Text.path(p) + ": empty, not JSON");
            }
            return n;
        } catch (JacksonException e) {
            throw new CheckpointException(Text.path(p) + ": not valid JSON: " + Text.escape(e.getOriginalMessage()));
        } catch (IOException e) {
            throw new CheckpointException(Text.path(p) + ": cannot read (" + Text.escape(e.toString()) + ")", e);
        }
    }
}
