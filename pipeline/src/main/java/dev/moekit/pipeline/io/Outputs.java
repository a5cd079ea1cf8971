package dev.moekit.pipeline.io;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.FileTrees;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Optional;

/**
 * The rules every command and recipe applies to its output folder, so that no input is ever written and no output
 * is ever half there:
 * <ul>
 *   <li>{@link #checkSeparate}: inputs and output compared by their real paths (symbolic links resolved), so an output
 *   inside an input (or containing one) is refused however it is reached.</li>
 *   <li>{@link #checkReplaceable}: {@code replace} only replaces what moekit wrote (its provenance file is there) or
 *   a checkpoint folder; a plain file, a link, or any other folder is refused.</li>
 *   <li>{@link #publish}: the finished folder takes the output's name atomically; an existing output is swapped with
 *   {@code renameat2(RENAME_EXCHANGE)} so the name always holds a complete output, old or new. Where the
 *   filesystem cannot exchange, the old output is renamed aside first, and {@link #recover} (run under the output
 *   lock before every write) puts an aside back if a run died between the two renames, and removes asides of dead
 *   runs.</li>
 * </ul>
 */
public final class Outputs {
    public static final String PROVENANCE = "moekit_provenance.json";
    private static final String ASIDE = ".replaced-";

    private Outputs() {}

    /** {@code p} with every existing ancestor's links resolved (p itself need not exist). */
    public static Path real(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        Path existing = abs;
        while (existing != null && !Files.exists(existing, LinkOption.NOFOLLOW_LINKS)) {
            existing = existing.getParent();
        }
        if (existing == null) {
            return abs;
        }
        try {
            Path r = existing.toRealPath();
            return r.resolve(existing.relativize(abs)).normalize();
        } catch (IOException e) {
            throw new CheckpointException(p + ": cannot resolve the real path (" + e.getMessage() + ")", e);
        }
    }

    /** Refuses an output that is inside, or contains, any input (real paths). */
    public static void checkSeparate(Path output, List<Path> inputs) {
        Path out = real(output);
        for (Path in : inputs) {
            Path i = real(in);
            if (out.startsWith(i) || i.startsWith(out)) {
                throw new CheckpointException(output + ": output path " + (out.startsWith(i) ? "is inside" : "contains") + " the input " + in
                        + (out.equals(output.toAbsolutePath().normalize()) && i.equals(in.toAbsolutePath().normalize()) ? "" : " (real paths " + out + " and " + i + ")"));
            }
        }
    }

    /** Whether {@code dir} holds an output moekit wrote or a checkpoint folder (what {@code replace} may delete). */
    public static void checkReplaceable(Path output) {
        if (Files.isSymbolicLink(output)) {
            throw new CheckpointException(output + ": output is a symbolic link; give the folder it points to, or another output");
        }
        if (!Files.exists(output, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (!Files.isDirectory(output, LinkOption.NOFOLLOW_LINKS)) {
            throw new CheckpointException(output + ": exists and is not a folder; replace only replaces a checkpoint folder or an earlier moekit output");
        }
        boolean ours = Files.isRegularFile(output.resolve(PROVENANCE), LinkOption.NOFOLLOW_LINKS);
        boolean checkpoint = Files.isRegularFile(output.resolve(Checkpoint.CONFIG), LinkOption.NOFOLLOW_LINKS)
                && (Files.isRegularFile(output.resolve(Checkpoint.INDEX), LinkOption.NOFOLLOW_LINKS)
                || Files.isRegularFile(output.resolve(Checkpoint.SINGLE), LinkOption.NOFOLLOW_LINKS));
        if (!ours && !checkpoint) {
            throw new CheckpointException(output + ": exists but is neither a moekit output (no " + PROVENANCE + ") nor a checkpoint folder"
                    + " (config.json and safetensors); refusing to replace it");
        }
    }

    /** Refuses an existing output unless {@code replace}; then checks it may be replaced. */
    public static void checkWritable(Path output, boolean replace) {
        if (Files.exists(output, LinkOption.NOFOLLOW_LINKS)) {
            if (!replace) {
                throw new CheckpointException(output + ": output already exists; set 'replace: true' (or --replace) to replace it");
            }
            checkReplaceable(output);
        }
    }

    /**
     * Moves the complete folder {@code finished} to {@code target} (same filesystem). Call under the output's lock; the
     * existence check happens here, at commit: an output that appeared meanwhile is refused unless {@code replace}.
     */
    public static void publish(Path finished, Path target, boolean replace) throws IOException {
        if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            Files.move(finished, target, StandardCopyOption.ATOMIC_MOVE);
            return;
        }
        checkWritable(target, replace);
        if (exchange(finished, target)) {
            FileTrees.delete(finished); // now holds the old output
            return;
        }
        Path aside = target.resolveSibling(target.getFileName() + ASIDE + ProcessHandle.current().pid());
        Files.move(target, aside, StandardCopyOption.ATOMIC_MOVE);
        Files.move(finished, target, StandardCopyOption.ATOMIC_MOVE);
        FileTrees.delete(aside);
    }

    /**
     * Repairs what a run killed between the two renames of a non-atomic replace left: restores the aside copy when the
     * output is missing, deletes asides of runs that are no longer alive. Call under the output's lock.
     */
    public static List<String> recover(Path target) throws IOException {
        Path parent = target.toAbsolutePath().getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            return List.of();
        }
        java.util.ArrayList<String> done = new java.util.ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(parent, target.getFileName() + ASIDE + "*")) {
            for (Path aside : ds) {
                String pid = aside.getFileName().toString().substring((target.getFileName() + ASIDE).length());
                boolean alive = pid.matches("\\d+") && ProcessHandle.of(Long.parseLong(pid)).map(ProcessHandle::isAlive).orElse(false)
                        && Long.parseLong(pid) != ProcessHandle.current().pid();
                if (alive) {
                    continue;
                }
                if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                    Files.move(aside, target, StandardCopyOption.ATOMIC_MOVE);
                    done.add("restored " + target + " from " + aside.getFileName() + ", left by a run stopped while replacing it");
                } else {
                    FileTrees.delete(aside);
                    done.add("removed " + aside.getFileName() + ", left by a run stopped while replacing " + target.getFileName());
                }
            }
        }
        return done;
    }

    private static final int AT_FDCWD = -100;
    private static final int RENAME_EXCHANGE = 2;
    private static final Optional<MethodHandle> RENAMEAT2 = lookup();

    private static Optional<MethodHandle> lookup() {
        try {
            Linker l = Linker.nativeLinker();
            return l.defaultLookup().find("renameat2").map(f -> l.downcallHandle(f, FunctionDescriptor.of(ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT)));
        } catch (RuntimeException | LinkageError e) {
            return Optional.empty();
        }
    }

    /** Atomically exchanges two paths; false where the platform or filesystem cannot. */
    static boolean exchange(Path a, Path b) {
        if (RENAMEAT2.isEmpty()) {
            return false;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pa = arena.allocateFrom(a.toAbsolutePath().toString());
            MemorySegment pb = arena.allocateFrom(b.toAbsolutePath().toString());
            return (int) RENAMEAT2.get().invokeExact(AT_FDCWD, pa, AT_FDCWD, pb, RENAME_EXCHANGE) == 0;
        } catch (Throwable t) {
            return false;
        }
    }
}
