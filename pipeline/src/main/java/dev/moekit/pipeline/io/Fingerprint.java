package dev.moekit.pipeline.io;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.SafetensorsFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The identity of a checkpoint for provenance and resume keys: SHA-256 over the content of config.json and the
 * index, and for every shard its name, size, header bytes (names, dtypes, shapes, offsets), modification time and
 * file key (inode). Rewriting a shard's weights in place changes its mtime (and usually its inode), so a resumed run
 * never reuses a stage computed from other weights; the weight bytes themselves are not hashed (hundreds of GB would
 * dominate a run). {@link #content} hashes every byte, for small inputs and tests.
 */
public final class Fingerprint {
    private Fingerprint() {}

    public static String of(Path dir) {
        try (Checkpoint c = Checkpoint.open(dir)) {
            MessageDigest md = sha();
            for (String f : new String[] {Checkpoint.CONFIG, Checkpoint.INDEX}) {
                Path p = c.dir().resolve(f);
                if (Files.isRegularFile(p)) {
                    md.update(f.getBytes(StandardCharsets.UTF_8));
                    md.update(Files.readAllBytes(p));
                }
            }
            for (SafetensorsFile s : c.shards()) {
                BasicFileAttributes a = Files.readAttributes(s.path(), BasicFileAttributes.class);
                md.update(s.path().getFileName().toString().getBytes(StandardCharsets.UTF_8));
                md.update(ByteBuffer.allocate(16).putLong(s.fileSize()).putLong(a.lastModifiedTime().toMillis()).array());
                md.update(String.valueOf(a.fileKey()).getBytes(StandardCharsets.UTF_8));
                try (FileChannel ch = FileChannel.open(s.path(), StandardOpenOption.READ)) {
                    ByteBuffer b = ByteBuffer.allocate((int) Math.min(s.dataStart(), 1 << 26));
                    ch.read(b, 0);
                    md.update(b.flip());
                }
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot fingerprint (" + e.getMessage() + ")", e);
        }
    }

    /** SHA-256 of a file's bytes. */
    public static String content(Path file) {
        MessageDigest md = sha();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocateDirect(1 << 20);
            while (ch.read(b) >= 0) {
                md.update(b.flip());
                b.clear();
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    public static String sha256(String text) {
        return HexFormat.of().formatHex(sha().digest(text.getBytes(StandardCharsets.UTF_8)));
    }

    private static MessageDigest sha() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
