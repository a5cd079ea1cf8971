package dev.moekit.toolkit.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.stream.Stream;

/** Paths of the shared reference checkpoints, and copies of them with an edited config (shards linked, not copied). */
final class RefModels {
    private RefModels() {}

    static Path model(String name) {
        return Path.of(System.getProperty("moekit.shared", "../../shared")).resolve("models").resolve(name);
    }

    /** Folders of linked copies, removed when the test JVM exits (links only: the shared models are never touched). */
    private static final java.util.List<Path> MADE = new java.util.concurrent.CopyOnWriteArrayList<>();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> MADE.forEach(d -> {
            try {
                dev.moekit.toolkit.io.FileTrees.delete(d); // does not follow the links
            } catch (IOException ignored) {
                // a temporary folder
            }
        })));
    }

    /**
     * A folder whose shards link to {@code model}'s and whose config.json is edited by {@code edit}. It lives outside
     * the test's {@code tmp} (JUnit warns about every link it deletes there) and is removed at exit.
     */
    static Path withConfig(String model, Path tmp, Consumer<ObjectNode> edit) {
        Path src = model(model);
        Path base;
        try {
            base = Files.createTempDirectory("moekit-ref-edit");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        MADE.add(base);
        Path dst = base.resolve(model + "-edited");
        for (int i = 2; Files.exists(dst, java.nio.file.LinkOption.NOFOLLOW_LINKS); i++) {
            dst = tmp.resolve(model + "-edited-" + i); // several edited copies in one test
        }
        try {
            Files.createDirectories(dst);
            try (Stream<Path> s = Files.list(src)) {
                for (Path p : s.filter(Files::isRegularFile).toList()) {
                    if (!p.getFileName().toString().equals(Checkpoint.CONFIG)) {
                        Files.createSymbolicLink(dst.resolve(p.getFileName()), p.toAbsolutePath());
                    }
                }
            }
            ObjectNode cfg = (ObjectNode) Json.STRICT.readTree(src.resolve(Checkpoint.CONFIG).toFile());
            edit.accept(cfg);
            Json.PRETTY.writeValue(dst.resolve(Checkpoint.CONFIG).toFile(), cfg);
            return dst;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
