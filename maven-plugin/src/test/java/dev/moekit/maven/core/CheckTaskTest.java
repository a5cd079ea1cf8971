package dev.moekit.maven.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.maven.gate.Limits;
import dev.moekit.maven.gate.Outcome;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** haltOnFailure as jacoco's check has it, on rules that need no evaluation (sizes, coverage) of the reference model. */
class CheckTaskTest {
    static final Path MODEL = UpToDateTest.MODEL;

    @TempDir
    Path tmp;

    final List<String> warnings = new ArrayList<>();
    final BuildLog log = new BuildLog() {
        @Override
        public void info(String m) {}

        @Override
        public void warn(String m) {
            warnings.add(m);
        }

        @Override
        public void error(String m) {}

        @Override
        public void debug(String m) {}
    };

    static final ForkSource NO_FORK = () -> {
        throw new AssertionError("these rules need no fork");
    };

    @Test
    void violationsFailTheBuildOrBecomeWarnings() throws Exception {
        Limits l = new Limits(null, null, null, null, 1_000_000L, 1.5, null, true);
        TaskFailure e = assertThrows(TaskFailure.class, () -> CheckTask.run(l, MODEL, MODEL, null, null, NO_FORK, true, tmp.resolve("check.json"), log));
        assertEquals("""
                moekit:check: 2 of 3 quality gate(s) failed:
                  maxOutputBytes: output weight files 48,550,512 bytes (48.6 MB) are above the limit 1,000,000 bytes
                  minCompressionRatio: compression ratio 1 (input 48,550,512 / output 48,550,512 weight bytes) is below the limit 1.5""", e.getMessage());
        assertTrue(Files.readString(tmp.resolve("check.json")).contains("\"status\" : \"violated\""));

        List<Outcome> o = CheckTask.run(l, MODEL, MODEL, null, null, NO_FORK, false, tmp.resolve("check.json"), log);
        assertEquals(3, o.size());
        assertEquals(List.of("FAILED: " + o.get(0).message(), "FAILED: " + o.get(1).message(),
                "moekit:check: 2 of 3 quality gate(s) failed; the build goes on (haltOnFailure is false)"), warnings);
    }

    @Test
    void evaluationRulesNeedTheInput() {
        Limits l = new Limits(1.1, null, null, null, null, null, null, false);
        TaskFailure e = assertThrows(TaskFailure.class, () -> CheckTask.run(l, MODEL, null, null, null, NO_FORK, true, tmp.resolve("c.json"), log));
        assertEquals("moekit:check: the perplexity, KL and top-1 rules compare with the input checkpoint: set <input>", e.getMessage());
    }

    @Test
    void noRulesIsAWarningNotAFailure() throws Exception {
        assertEquals(List.of(), CheckTask.run(new Limits(null, null, null, null, null, null, null, false), MODEL, MODEL, null, null, NO_FORK, true,
                tmp.resolve("c.json"), log));
        assertTrue(warnings.get(0).startsWith("moekit:check has no rules set"));
    }
}
