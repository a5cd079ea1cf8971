package dev.moekit.toolkit.io;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** Expands file arguments that may hold a glob in their last component ({@code ../shared/data/*.test.txt}). */
public final class Globs {
    private Globs() {}

    /** Files matching each pattern, sorted per pattern; a pattern matching nothing is an error naming it. */
    public static List<Path> expand(List<String> patterns) {
        List<Path> out = new ArrayList<>();
        for (String p : patterns) {
            Path path = Path.of(p);
            String last = path.getFileName() == null ? "" : path.getFileName().toString();
            if (!last.contains("*") && !last.contains("?") && !last.contains("[")) {
                if (!Files.isRegularFile(path)) {
                    throw new IllegalArgumentException(p + ": file not found");
                }
                out.add(path);
                continue;
            }
            Path dir = path.getParent() == null ? Path.of(".") : path.getParent();
            PathMatcher m = FileSystems.getDefault().getPathMatcher("glob:" + last);
            try (Stream<Path> s = Files.list(dir)) {
                List<Path> found = s.filter(f -> Files.isRegularFile(f) && m.matches(f.getFileName())).sorted().toList();
                if (found.isEmpty()) {
                    throw new IllegalArgumentException(p + ": no file matches");
                }
                out.addAll(found);
            } catch (IOException e) {
                throw new IllegalArgumentException(p + ": cannot list " + dir + " (" + e.getMessage() + ")");
            }
        }
        return out;
    }

    /**
     * Where the reference data lives when no data is given: {@code $MOEKIT_DATA}, else {@code ../shared/data} from the
     * current directory (the layout of a checkout beside the shared reference assets).
     */
    public static Path defaultDataDir() {
        String env = System.getenv("MOEKIT_DATA");
        return env != null && !env.isBlank() ? Path.of(env) : Path.of(System.getProperty("moekit.shared", "../shared"), "data");
    }
}
