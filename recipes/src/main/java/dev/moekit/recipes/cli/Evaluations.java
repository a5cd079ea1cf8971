package dev.moekit.recipes.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.recipes.run.Evaluation;
import java.io.PrintStream;

/** Bridges the recipe runner and the CLI to the eval module. */
final class Evaluations {
    private Evaluations() {}

    static Evaluation forCli(PrintStream out) {
        return null; // wired to the eval module's evaluator
    }

    static void printTable(JsonNode eval, PrintStream out) {
        out.println(eval.toPrettyString());
    }
}
