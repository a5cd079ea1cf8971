package dev.moekit.pipeline.io;

import dev.moekit.toolkit.io.CheckpointException;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An exclusive lock on an output path, held from before the first byte of a run is written until its output is in
 * place: a file {@code <out>.lock} beside the output, locked with {@link FileChannel#tryLock()} and holding the
 * holder's pid and host. A second writer is refused with who holds it; a lock left by a dead process is free (the OS
 * drops the lock with its holder) and is taken over. Works across processes and hosts on filesystems with POSIX locks.
 */
public final class OutputLock implements AutoCloseable {
    private final Path file;
    private final FileChannel channel;
    private final FileLock lock;

    private OutputLock(Path file, FileChannel channel, FileLock lock) {
        this.file = file;
        this.channel = channel;
        this.lock = lock;
    }

    /** The lock file of {@code output}. */
    public static Path lockFile(Path output) {
        return output.resolveSibling(output.getFileName() + ".lock");
    }

    /** Takes the lock of {@code output} or fails naming the holder. */
    public static OutputLock acquire(Path output) {
        Path file = lockFile(output);
        for (int attempt = 0; attempt < 10; attempt++) {
            FileChannel ch = null;
            try {
                Files.createDirectories(file.getParent());
                ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
                FileLock l;
                try {
                    l = ch.tryLock();
                } catch (OverlappingFileLockException e) {
                    l = null;
                }
                if (l == null) {
                    String holder = read(ch);
                    ch.close();
                    throw new CheckpointException(output + ": another moekit run is writing this output (" + (holder.isBlank() ? "unknown holder" : holder)
                            + "; lock " + file + "); wait for it, or give another output");
                }
                // the holder before us may have deleted the file after we opened it: only a lock on the file that is at
                // the path now counts, so write our token through the locked channel and read it back through the path
                String token = "pid " + ProcessHandle.current().pid() + " on " + host() + " (" + java.util.UUID.randomUUID() + ")\n";
                ch.truncate(0);
                ch.write(ByteBuffer.wrap(token.getBytes(StandardCharsets.UTF_8)), 0);
                ch.force(false);
                if (!token.equals(Files.readString(file, StandardCharsets.UTF_8))) {
                    l.release();
                    ch.close();
                    continue;
                }
                return new OutputLock(file, ch, l);
            } catch (NoSuchFileException e) {
                closeQuietly(ch); // deleted between open and check: try again
            } catch (IOException e) {
                closeQuietly(ch);
                throw new CheckpointException(file + ": cannot take the output lock (" + e.getMessage() + ")", e);
            }
        }
        throw new CheckpointException(file + ": cannot take the output lock (it keeps being replaced)");
    }

    private static String read(FileChannel ch) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(256);
        ch.read(b, 0);
        return new String(b.array(), 0, b.position(), StandardCharsets.UTF_8).strip().replaceAll("\\p{Cntrl}", "?");
    }

    private static String host() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "unknown host";
        }
    }

    private static void closeQuietly(FileChannel ch) {
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // closing a channel we no longer use
            }
        }
    }

    @Override
    public synchronized void close() {
        if (!channel.isOpen()) {
            return;
        }
        try {
            Files.deleteIfExists(file);
            lock.release();
            channel.close();
        } catch (IOException e) {
            // the lock goes with the channel; a left-over file is harmless (free locks are taken over)
        }
    }
}
