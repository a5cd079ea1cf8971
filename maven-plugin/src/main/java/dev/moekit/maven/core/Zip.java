package dev.moekit.maven.core;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.Deflater;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/** The build artifact of a checkpoint folder: a zip with the folder's name as its top entry, entries in name order. */
public final class Zip {
    /** Entry times are fixed so that the same checkpoint gives the same bytes (1 January 2000). */
    static final long TIME = 946_684_800_000L;

    private Zip() {}

    /** Zips {@code dir} into {@code zip} (written next to it first, then moved into place). */
    public static void folder(Path dir, Path zip) throws IOException {
        Files.createDirectories(zip.toAbsolutePath().getParent());
        Path tmp = zip.resolveSibling(zip.getFileName() + ".tmp");
        List<Path> files;
        try (Stream<Path> s = Files.walk(dir)) {
            files = s.filter(Files::isRegularFile).sorted().toList();
        }
        String top = dir.getFileName().toString();
        try (OutputStream os = Files.newOutputStream(tmp); ZipOutputStream z = new ZipOutputStream(os)) {
            z.setLevel(Deflater.BEST_SPEED); // weights barely compress; the config and tokenizer do
            for (Path f : files) {
                ZipEntry e = new ZipEntry(top + "/" + dir.relativize(f).toString().replace('\\', '/'));
                e.setTime(TIME);
                z.putNextEntry(e);
                Files.copy(f, z);
                z.closeEntry();
            }
        }
        Files.move(tmp, zip, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
