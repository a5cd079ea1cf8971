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
            String head = String.format(Locale.ROOT, "moekit: %s%s", s.path("stage").asText(), s.path("reused").asBoolean() ? " (reused)" : "");
            if (summary.isTextual()) {
                out.println(head + ": " + summary.asText());
            } else if (summary.isArray() && !summary.isEmpty()) {
                out.printf(Locale.ROOT, "%s done in %.1f s%n", head, s.path("seconds").asDouble());
                summary.forEach(l -> out.println("  " + Main.safe(l.asText())));
            } else {
                out.printf(Locale.ROOT, "%s done in %.1f s%n", head, s.path("seconds").asDouble());
            }
        }
        if (res.eval() != null) {
            out.print(res.eval().table());
        }
    }
}
