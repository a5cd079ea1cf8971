package dev.moekit.pipeline.recipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RecipeTest {
    @TempDir
    Path dir;

    private Recipe read(String yaml) throws Exception {
        Path p = dir.resolve("r.yaml");
        Files.writeString(p, yaml);
        return Recipe.read(p);
    }

    private String fails(String yaml) {
        return assertThrows(IllegalArgumentException.class, () -> read(yaml)).getMessage();
    }

    @Test
    void relativePathsResolveAgainstTheRecipesFolder() throws Exception {
        Path sub = Files.createDirectories(dir.resolve("recipes"));
        Path p = sub.resolve("r.yaml");
        Files.writeString(p, "model: ../models/m\noutput: out/x\ncalibration: {data: ['../data/*.txt']}\nstages: [convert]\neval: {data: [t.txt]}\n");
        Recipe r = Recipe.read(p);
        assertEquals(dir.resolve("models/m").toAbsolutePath().normalize(), r.model());
        assertEquals(sub.resolve("out/x").toAbsolutePath().normalize(), r.output());
        assertEquals(List.of(dir.resolve("data/*.txt").toAbsolutePath().normalize().toString()), r.calibration().data());
        assertEquals(List.of(sub.resolve("t.txt").toAbsolutePath().normalize().toString()), r.eval().data());
    }

    @Test
    void duplicateKeysAreRefused() {
        String m = fails("model: a\noutput: x\noutput: y\nstages: [convert]\n");
        assertTrue(m.contains("duplicate key") && m.contains("output"), m);
        assertTrue(fails("model: a\noutput: x\nstages:\n  - convert: {dtype: fp16, dtype: fp32}\n").contains("dtype"));
    }

    @Test
    void anchorsAndAliasesResolve() throws Exception {
        Recipe r = read("model: a\noutput: x\ncalibration: {windows: &w 4}\nstages:\n  - convert: &c {dtype: fp16}\n  - convert: *c\neval: {windows: *w}\n");
        assertEquals(4, r.calibration().windows());
        assertEquals(4, r.eval().windows());
        assertEquals(r.stages().get(0).params(), r.stages().get(1).params());
        assertEquals("fp16", r.stages().get(1).params().get("dtype").asText());
    }

    @Test
    void hugeNestedAndExplodingDocumentsAreRefusedQuickly() throws Exception {
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
            Path big = dir.resolve("big.yaml");
            Files.writeString(big, "model: a\noutput: x\nstages: [convert]\nseed: \"" + "9".repeat(50 * 1024 * 1024) + "\"\n");
            String m = assertThrows(IllegalArgumentException.class, () -> Recipe.read(big)).getMessage();
            assertTrue(m.contains("bytes") && m.contains(big.toString()), m);
            String longValue = fails("model: a\noutput: x\nstages: [convert]\ndevice: \"" + "g".repeat(100_000) + "\"\n");
            assertTrue(longValue.contains("characters long"), longValue);
            String deep = fails("model: a\noutput: x\nstages: [convert]\neval: " + "[".repeat(200) + "]".repeat(200) + "\n");
            assertTrue(deep.toLowerCase().contains("nesting depth"), deep);
            StringBuilder bomb = new StringBuilder("a: &a [x, x, x, x, x, x, x, x, x]\n");
            for (char c = 'b'; c <= 'k'; c++) {
                char p = (char) (c - 1);
                bomb.append(c).append(": &").append(c).append(" [*").append(p).append(", *").append(p).append(", *").append(p)
                        .append(", *").append(p).append(", *").append(p).append(", *").append(p).append(", *").append(p).append("]\n");
            }
            assertTrue(fails(bomb.toString()).toLowerCase().contains("alias"));
        });
    }

    @Test
    void wrongTypesAndRangesAreNamed() {
        assertTrue(fails("model: a\noutput: x\nseed: abc\nstages: [convert]\n").contains("'seed' must be an integer"));
        assertTrue(fails("model: a\noutput: x\nseed: 1.5\nstages: [convert]\n").contains("'seed' must be an integer"));
        assertTrue(fails("model: a\noutput: x\nreplace: yes please\nstages: [convert]\n").contains("'replace' must be true or false"));
        assertTrue(fails("model: [a]\noutput: x\nstages: [convert]\n").contains("'model' must be non-empty text"));
        assertTrue(fails("model: a\noutput: x\ncalibration: {windows: -3}\nstages: [convert]\n").contains("windows"));
        assertTrue(fails("model: a\noutput: x\ncalibration: {windows: abc}\nstages: [convert]\n").contains("windows"));
        assertTrue(fails("model: a\noutput: x\nstages: [convert]\neval: {dtype: bf16}\n").contains("eval.dtype"));
        assertTrue(fails("model: a\noutput: x\nstages: [convert]\nwhen: 2024-01-01\n").contains("'when'"));
        assertTrue(fails("model: a\noutput: x\nstages: []\n").contains("no stages"));
        assertTrue(fails("model: a\noutpt: x\nstages: [convert]\n").contains("did you mean 'output'"));
        assertTrue(fails("model: a\noutput: x\nstages: [convert]\neval: {windowz: 2}\n").contains("did you mean 'windows'"));
    }

    @Test
    void controlCharactersInValuesAreEscapedInMessages() {
        String m = fails("model: a\noutput: x\nseed: \"\\e[31mred\"\nstages: [convert]\n");
        assertTrue(!m.contains("\u001b") && m.toLowerCase().contains("\\u001b"), m);
    }

    @Test
    void aRecipeThatIsNotAFileIsRefused() throws Exception {
        Files.createDirectories(dir.resolve("d.yaml"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Recipe.read(dir.resolve("d.yaml"))).getMessage().contains("not a regular file"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Recipe.read(dir.resolve("none.yaml"))).getMessage().contains("not found"));
    }
}
