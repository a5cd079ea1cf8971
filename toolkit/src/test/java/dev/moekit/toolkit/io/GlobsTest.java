package dev.moekit.toolkit.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class GlobsTest {
    static final Path DATA = Path.of(System.getProperty("moekit.shared", "../shared"), "data");

    @Test
    void expandsGlobsInTheLastComponentSorted() {
        List<Path> test = Globs.expand(List.of(DATA.resolve("*.test.txt").toString()));
        assertEquals(List.of("dict.test.txt", "kernel.test.txt", "misc.test.txt", "python.test.txt"),
                test.stream().map(p -> p.getFileName().toString()).toList());
        List<Path> mixed = Globs.expand(List.of(DATA.resolve("python.valid.txt").toString(), DATA.resolve("k*.test.txt").toString()));
        assertEquals(2, mixed.size());
    }

    @Test
    void namesWhatMatchesNothing() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Globs.expand(List.of(DATA.resolve("*.nope").toString())));
        assertTrue(e.getMessage().contains("*.nope"), e.getMessage());
        IllegalArgumentException f = assertThrows(IllegalArgumentException.class, () -> Globs.expand(List.of(DATA.resolve("missing.txt").toString())));
        assertTrue(f.getMessage().contains("missing.txt"), f.getMessage());
    }
}
