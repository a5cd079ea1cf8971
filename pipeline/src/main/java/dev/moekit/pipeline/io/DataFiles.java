package dev.moekit.pipeline.io;

import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.moekit.toolkit.io.Globs;
import dev.moekit.toolkit.io.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Text data files (calibration, evaluation) resolved from globs, each with its content hash, so provenance records
 * what was actually read and resume keys change when the data does.
 */
public final class DataFiles {
    /** One resolved file. */
    public record DataFile(Path path, long bytes, String sha256) {}

    private DataFiles() {}

    /**
     * The files {@code globs} match; when {@code globs} is empty, {@code defaultGlob} in the default data folder
     * ({@code $MOEKIT_DATA}, else {@code ../shared/data} beside the checkout). A missing default says what to set.
     *
     * @param what for messages: {@code calibration} or {@code eval}
     */
    public static List<DataFile> resolve(List<String> globs, String defaultGlob, String what) {
        List<String> g = globs;
        if (g.isEmpty()) {
            Path dir = Globs.defaultDataDir().toAbsolutePath().normalize();
            if (!Files.isDirectory(dir)) {
                throw new IllegalArgumentException(what + ": no data given and the default data folder " + dir + " does not exist;"
                        + " give the files (recipe '" + what + ".data' or the command's --data/--calibration option) or set $MOEKIT_DATA");
            }
            g = List.of(dir.resolve(defaultGlob).toString());
        }
        List<Path> files;
        try {
            files = Globs.expand(g);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(what + " data: " + e.getMessage());
        }
        return files.stream().map(p -> p.toAbsolutePath().normalize()).map(p -> {
            if (!Files.isRegularFile(p)) {
                throw new IllegalArgumentException(what + " data: " + p + " is not a regular file");
            }
            try {
                return new DataFile(p, Files.size(p), Fingerprint.content(p));
            } catch (java.io.IOException e) {
                throw new IllegalArgumentException(what + " data: " + p + ": cannot read (" + e.getMessage() + ")");
            }
        }).toList();
    }

    public static List<String> paths(List<DataFile> files) {
        return files.stream().map(f -> f.path().toString()).toList();
    }

    public static ArrayNode toJson(List<DataFile> files) {
        ArrayNode a = Json.PRETTY.createArrayNode();
        for (DataFile f : files) {
            a.addObject().put("path", f.path().toString()).put("bytes", f.bytes()).put("sha256", f.sha256());
        }
        return a;
    }
}
