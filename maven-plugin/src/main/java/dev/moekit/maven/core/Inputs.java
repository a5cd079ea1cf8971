package dev.moekit.maven.core;

import dev.moekit.pipeline.io.DataFiles;
import dev.moekit.pipeline.io.Fingerprint;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.SafetensorsFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What the goals read before any work, in Maven's JVM (headers and small files only): data files and their hashes,
 * checkpoint fingerprints and sizes.
 */
public final class Inputs {
    private Inputs() {}

    /**
     * The reference data folder when no data is given: {@code $MOEKIT_DATA}, else {@code <moekit.shared>/data}, else
     * {@code ../shared/data} from the project (the fork runs there, so it sees the same folder).
     */
    public static Path defaultDataDir(Map<String, String> env, String shared, Path basedir) {
        String d = env.get("MOEKIT_DATA");
        if (d != null && !d.isBlank()) {
            return basedir.resolve(d).toAbsolutePath().normalize();
        }
        return basedir.resolve(shared != null && !shared.isBlank() ? shared : "../shared").resolve("data").toAbsolutePath().normalize();
    }

    /**
     * Data files or globs as absolute patterns: relative ones resolve against {@code basedir}; none given means
     * {@code defaultGlob} in {@code defaultDir}.
     */
    public static List<String> globs(List<String> given, Path basedir, Path defaultDir, String defaultGlob) {
        if (given == null || given.isEmpty()) {
            return List.of(defaultDir.resolve(defaultGlob).toString());
        }
        return given.stream().filter(g -> g != null && !g.isBlank()).map(g -> basedir.resolve(g.trim()).toAbsolutePath().normalize().toString()).toList();
    }

    /** The files {@code globs} match, hashed; errors name the pattern ({@code what}: eval, calibration). */
    public static List<DataFiles.DataFile> resolve(List<String> globs, String what) throws TaskFailure {
        try {
            return DataFiles.resolve(globs, "*", what);
        } catch (IllegalArgumentException e) {
            throw new TaskFailure(e.getMessage());
        }
    }

    /** One hash over the files' paths and content hashes. */
    public static String hash(List<DataFiles.DataFile> files) {
        StringBuilder b = new StringBuilder();
        for (DataFiles.DataFile f : files) {
            b.append(f.path()).append(' ').append(f.sha256()).append('\n');
        }
        return Fingerprint.sha256(b.toString());
    }

    /** The checkpoint's fingerprint ({@link Fingerprint#of}: config, index, shard headers, sizes, mtimes). */
    public static String fingerprint(Path checkpoint) throws TaskFailure {
        checkCheckpoint(checkpoint, "checkpoint");
        try {
            return Fingerprint.of(checkpoint);
        } catch (RuntimeException e) {
            throw new TaskFailure(checkpoint + ": cannot read the checkpoint (" + e.getMessage() + ")");
        }
    }

    /** The fingerprint, or null when the folder is not there or is not a checkpoint. */
    public static String fingerprintOrNull(Path checkpoint) {
        if (!Files.isDirectory(checkpoint)) {
            return null;
        }
        try {
            return Fingerprint.of(checkpoint);
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** Bytes of the checkpoint's weight files (the shards as they are on disk, headers included). */
    public static long weightBytes(Path checkpoint) throws TaskFailure {
        checkCheckpoint(checkpoint, "checkpoint");
        try (Checkpoint c = Checkpoint.open(checkpoint)) {
            return c.shards().stream().mapToLong(SafetensorsFile::fileSize).sum();
        } catch (RuntimeException e) {
            throw new TaskFailure(checkpoint + ": cannot read the checkpoint (" + e.getMessage() + ")");
        }
    }

    /** Fails naming {@code what} when {@code dir} is not a folder. */
    public static void checkCheckpoint(Path dir, String what) throws TaskFailure {
        if (!Files.isDirectory(dir)) {
            throw new TaskFailure(what + " " + dir + " does not exist" + (Files.exists(dir) ? " as a folder" : ""));
        }
    }
}
