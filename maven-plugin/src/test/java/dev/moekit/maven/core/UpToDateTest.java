package dev.moekit.maven.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.pipeline.Version;
import dev.moekit.pipeline.recipe.Recipe;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The up-to-date key of compress (recipe, input, data, version) and the state file's verdicts. */
class UpToDateTest {
    static final Path MODEL = Path.of(System.getProperty("moekit.shared", "../../shared"), "models", "mixtral-tiny").toAbsolutePath().normalize();

    @TempDir
    Path tmp;

    Recipe recipe(String yaml, boolean replace) throws TaskFailure {
        return RecipeSource.resolve(null, yaml, tmp, MODEL, null, tmp.resolve("target/moekit"), null, replace);
    }

    static UpToDate.Key key(String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return new UpToDate.Key(m);
    }

    @Test
    void compressKeyHasRecipeInputDataAndVersion() throws Exception {
        Path cal = Files.writeString(tmp.resolve("cal.txt"), "some calibration text");
        String yaml = "calibration: {data: [cal.txt]}\nstages: [{prune: {method: stun, experts: 0.25}}]";
        UpToDate.Key k = CompressTask.key(recipe(yaml, false), tmp.resolve("none"));
        assertEquals(java.util.List.of("recipe", "input", "data", "version"), java.util.List.copyOf(k.parts().keySet()));
        assertEquals(Version.VERSION, k.parts().get("version"));
        assertEquals(k, CompressTask.key(recipe(yaml, false), tmp.resolve("none")), "the same recipe, input and data give the same key");
        assertEquals(k.hash(), CompressTask.key(recipe(yaml, true), tmp.resolve("none")).hash(), "replace changes no result");
        assertEquals(k.hash(), CompressTask.key(recipe("# a comment\n" + yaml.replace("{method: stun, experts: 0.25}", "{experts: 0.25, method: stun}")
                .replace("0.25", "0.250"), false), tmp.resolve("none")).hash(), "the resolved recipe counts, not its spelling");

        UpToDate.Key other = CompressTask.key(recipe(yaml.replace("0.25", "0.5"), false), tmp.resolve("none"));
        assertNotEquals(k.parts().get("recipe"), other.parts().get("recipe"));
        assertEquals(k.parts().get("input"), other.parts().get("input"));

        Files.writeString(cal, "other calibration text");
        UpToDate.Key data = CompressTask.key(recipe(yaml, false), tmp.resolve("none"));
        assertNotEquals(k.parts().get("data"), data.parts().get("data"));
        assertEquals(k.parts().get("recipe"), data.parts().get("recipe"));
    }

    @Test
    void stateSaysWhyAGoalRunsOrThatItIsUpToDate() throws Exception {
        UpToDate u = new UpToDate(tmp, "compress", "default");
        Path out = Files.createDirectories(tmp.resolve("out"));
        UpToDate.Key k = key("recipe", "r1", "input", "i1", "data", "d1", "version", "v1");
        assertTrue(u.whyRun(u.read(), k, out, "f1").startsWith("no earlier run recorded in " + tmp.resolve("compress-default.json")));
        u.write(k, out, "f1");
        UpToDate.State s = u.read();
        assertNull(u.whyRun(s, k, out, "f1"));
        assertTrue(u.upToDateMessage(s, k).matches("moekit:compress is up to date: recipe, input, data and version unchanged since \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ"),
                u.upToDateMessage(s, k));
        assertEquals("recipe changed since the last run (" + s.finished() + ")", u.whyRun(s, key("recipe", "r2", "input", "i1", "data", "d1", "version", "v1"), out, "f1"));
        assertEquals("input, data and version changed since the last run (" + s.finished() + ")",
                u.whyRun(s, key("recipe", "r1", "input", "i2", "data", "d2", "version", "v2"), out, "f1"));
        assertEquals(out + " no longer exists", u.whyRun(s, k, out, null));
        assertEquals(out + " was modified after the last run (" + s.finished() + ")", u.whyRun(s, k, out, "f2"));
        assertEquals("the output moved from " + out + " to " + tmp.resolve("elsewhere"), u.whyRun(s, k, tmp.resolve("elsewhere"), "f1"));
    }

    @Test
    void aStateFileOfAnotherExecutionIsAnotherFile() throws Exception {
        UpToDate a = new UpToDate(tmp, "compress", "a");
        a.write(key("recipe", "r"), null, null);
        assertNull(new UpToDate(tmp, "compress", "b").read());
        assertTrue(Files.isRegularFile(tmp.resolve("compress-a.json")));
    }

    @Test
    void unreadableStateMeansRun() throws Exception {
        Files.writeString(tmp.resolve("evaluate-x.json"), "{ not json");
        assertNull(new UpToDate(tmp, "evaluate", "x").read());
    }
}
