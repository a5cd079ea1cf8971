package dev.moekit.recipes.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.eval.EvalOptions;
import dev.moekit.eval.EvalResult;
import dev.moekit.recipes.run.Evaluation;
import dev.moekit.toolkit.io.Globs;
import java.io.PrintStream;
import java.util.List;

/** Bridges the recipe runner to the eval module. */
final class Evaluations {
    private Evaluations() {}

    static Evaluation forCli(PrintStream out) {
        return (model, reference, s, device, log) -> {
            List<String> data = s.data().isEmpty() ? List.of(Globs.defaultDataDir().resolve("*.test.txt").toString()) : s.data();
            EvalOptions o = EvalOptions.of(Globs.expand(data)).withWindows(s.window(), s.windows())
                    .withRuntime(EvalCommand.runtime(device, "fp32", false, 8));
            if (reference != null) {
                o = o.withReference(reference);
            }
            EvalResult r = EvalInput.evaluate(model, o, log);
            out.print(r.table());
            return r.toJson();
        };
    }
}
