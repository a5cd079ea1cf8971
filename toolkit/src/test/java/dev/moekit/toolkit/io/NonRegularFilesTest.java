package dev.moekit.toolkit.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** A FIFO (or folder) where a shard, index or config belongs is refused by name, never opened (which would block). */
class NonRegularFilesTest {
    private static final Duration LIMIT = Duration.ofSeconds(10);

    @TempDir
    Path tmp;

    static void mkfifo(Path p) throws IOException, InterruptedException {
        Process pr = new ProcessBuilder("mkfifo", p.toString()).inheritIO().start();
        assertEquals(0, pr.waitFor(), "mkfifo " + p);
        assertTrue(Files.exists(p) && !Files.isRegularFile(p));
    }

    /** {@code model}'s files linked into a new folder, except {@code fifo}, which becomes a FIFO. */
    private Path linkedCopy(String model, String fifo) throws IOException, InterruptedException {
        Path src = CheckpointTest.SHARED.resolve("models").resolve(model);
        Path dst = tmp.resolve(model + "-fifo");
        Files.createDirectories(dst);
        try (Stream<Path> s = Files.list(src)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                if (!p.getFileName().toString().equals(fifo)) {
                    Files.createSymbolicLink(dst.resolve(p.getFileName()), p.toAbsolutePath());
                }
            }
        }
        mkfifo(dst.resolve(fifo));
        return dst;
    }

    private static CheckpointException refused(Path fifo, Executable open) {
        CheckpointException e = assertTimeoutPreemptively(LIMIT, () -> assertThrows(CheckpointException.class, open));
        assertTrue(e.getMessage().startsWith(fifo.toString() + ": is not a regular file"), e.getMessage());
        assertTrue(e.getMessage().indexOf('\n') < 0, e.getMessage());
        return e;
    }

    @Test
    void fifoShardOpenedDirectly() throws Exception {
        Path f = tmp.resolve("x.safetensors");
        mkfifo(f);
        refused(f, () -> SafetensorsFile.open(f).close());
        refused(f, () -> Checkpoint.open(f).close());
    }

    @Test
    void symlinkToFifoIsFollowedByStatOnly() throws Exception {
        Path f = tmp.resolve("fifo");
        mkfifo(f);
        Path link = Files.createSymbolicLink(tmp.resolve("link.safetensors"), f);
        refused(link, () -> SafetensorsFile.open(link).close());
    }

    @Test
    void fifoSingleFileCheckpoint() throws Exception {
        Path dir = linkedCopy("llama-tiny-seed", Checkpoint.SINGLE);
        refused(dir.resolve(Checkpoint.SINGLE), () -> Checkpoint.open(dir).close());
    }

    @Test
    void fifoAsTheOnlyUnindexedShard() throws Exception {
        Path dir = tmp.resolve("unindexed");
        Files.createDirectories(dir);
        mkfifo(dir.resolve("weights.safetensors"));
        refused(dir.resolve("weights.safetensors"), () -> Checkpoint.open(dir).close());
    }

    @Test
    void fifoShardListedByTheIndex() throws Exception {
        Path dir = linkedCopy("mixtral-tiny", "model-00003-of-00005.safetensors");
        refused(dir.resolve("model-00003-of-00005.safetensors"), () -> Checkpoint.open(dir).close());
    }

    @Test
    void fifoIndex() throws Exception {
        Path dir = linkedCopy("mixtral-tiny", Checkpoint.INDEX);
        refused(dir.resolve(Checkpoint.INDEX), () -> Checkpoint.open(dir).close());
    }

    @Test
    void fifoConfig() throws Exception {
        Path dir = linkedCopy("mixtral-tiny", Checkpoint.CONFIG);
        try (Checkpoint c = assertTimeoutPreemptively(LIMIT, () -> Checkpoint.open(dir))) {
            assertTrue(c.hasConfig());
            refused(dir.resolve(Checkpoint.CONFIG), c::config);
        }
    }

    @Test
    void folderWhereTheConfigBelongs() throws Exception {
        Path dir = linkedCopy("mixtral-tiny", Checkpoint.CONFIG);
        Files.delete(dir.resolve(Checkpoint.CONFIG));
        Files.createDirectory(dir.resolve(Checkpoint.CONFIG));
        try (Checkpoint c = Checkpoint.open(dir)) {
            CheckpointException e = assertThrows(CheckpointException.class, c::config);
            assertEquals(dir.resolve(Checkpoint.CONFIG) + ": is a folder, not a regular file", e.getMessage());
        }
    }
}
