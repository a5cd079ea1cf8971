package dev.moekit.recipes.run;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.SafetensorsFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * A cheap identity of a checkpoint for provenance and resume: SHA-256 over config.json, the index and every shard's
 * size and header (names, dtypes, shapes, offsets). It changes when any tensor is added, removed, reshaped or moved,
 * or the config changes; it does not read the weight bytes (hashing hundreds of GB would dominate a run).
 */
final class Fingerprint {
    private Fingerprint() {}

    static String of(Path dir) {
        try (Checkpoint c = Checkpoint.open(dir)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (String f : new String[] {Checkpoint.CONFIG, Checkpoint.INDEX}) {
                Path p = c.dir().resolve(f);
                if (Files.isRegularFile(p)) {
                    md.update(Files.readAllBytes(p));
                }
            }
            for (SafetensorsFile s : c.shards()) {
                md.update(s.path().getFileName().toString().getBytes());
                md.update(ByteBuffer.allocate(8).putLong(s.fileSize()).array());
                try (FileChannel ch = FileChannel.open(s.path(), StandardOpenOption.READ)) {
                    ByteBuffer b = ByteBuffer.allocate((int) Math.min(s.dataStart(), 1 << 26));
                    ch.read(b, 0);
                    md.update(b.flip());
                }
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot fingerprint", e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes()));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
