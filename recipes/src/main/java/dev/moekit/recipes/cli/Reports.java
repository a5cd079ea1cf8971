package dev.moekit.recipes.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.pipeline.Pipeline;
import java.io.PrintStream;
import java.util.Locale;

/** What the CLI prints after a run: each stage's summary line, then the evaluation table. */
final class Reports {
    private Reports() {}

    static void print(Pipeline.Result res, PrintStream out) {
        for (JsonNode s : res.provenance().path("stages")) {
            JsonNode summary = s.path("report").path("summary");
            out.printf(Locale.ROOT, "moekit: %s%s%s%n", s.path("stage").asText(), s.path("reused").asBoolean() ? " (reused)" : "",
                    summary.isTextual() ? ": " + summary.asText() : String.format(Locale.ROOT, " done in %.1f s", s.path("seconds").asDouble()));
        }
        if (res.eval() != null) {
            out.print(res.eval().table());
        }
    }
}
