package dev.moekit.maven.core;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.maven.gate.EngineCompatibility;
import dev.moekit.maven.gate.Gates;
import dev.moekit.maven.gate.Limits;
import dev.moekit.maven.gate.Outcome;
import dev.moekit.pipeline.io.Outputs;
import dev.moekit.toolkit.io.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;

/**
 * The work of {@code moekit:check}: measures what the set rules need (the evaluation report, evaluated now when it is
 * missing or out of date; sizes; the provenance's coverage; the quantization config), applies the rules, logs every
 * outcome, records them in {@code check-<executionId>.json}, and fails (or, without {@code haltOnFailure}, warns)
 * naming each violated rule with its value and limit.
 */
public final class CheckTask {
    private CheckTask() {}

    /**
     * Checks {@code output}.
     *
     * @param eval      how to evaluate when the rules need it and the report is missing (null when no input is set)
     * @param evalState the state file evaluating records into
     * @param results   where the outcomes are recorded
     */
    public static List<Outcome> run(Limits limits, Path output, Path input, EvaluateTask.Settings eval, UpToDate evalState, ForkSource forks,
                                    boolean haltOnFailure, Path results, BuildLog log) throws TaskFailure, IOException, InterruptedException {
        if (!limits.any()) {
            log.warn("moekit:check has no rules set (maxPerplexityRatio, maxMeanKl, maxP99Kl, minTop1, maxOutputBytes, minCompressionRatio,"
                    + " minCalibrationTokens, engineCompatible): nothing to check");
            return List.of();
        }
        Inputs.checkCheckpoint(output, "output");
        JsonNode evalJson = null;
        if (limits.needsEvaluation()) {
            if (eval == null) {
                throw new TaskFailure("moekit:check: the perplexity, KL and top-1 rules compare with the input checkpoint: set <input>");
            }
            evalJson = EvaluateTask.run(eval, evalState, forks, log, "check").eval();
        }
        Long outBytes = limits.maxOutputBytes() != null || limits.minCompressionRatio() != null ? Inputs.weightBytes(output) : null;
        Long inBytes = null;
        if (limits.minCompressionRatio() != null) {
            if (input == null) {
                throw new TaskFailure("moekit:check: minCompressionRatio compares with the input checkpoint: set <input>");
            }
            inBytes = Inputs.weightBytes(input);
        }
        Path provFile = output.resolve(Outputs.PROVENANCE);
        JsonNode prov = null;
        if (limits.minCalibrationTokens() != null && Files.isRegularFile(provFile)) {
            try {
                prov = Json.STRICT.readTree(provFile.toFile());
            } catch (IOException e) {
                throw new TaskFailure(provFile + ": cannot read (" + e.getMessage() + ")");
            }
        }
        EngineCompatibility.Result engine = null;
        if (limits.engineCompatible()) {
            try {
                engine = EngineCompatibility.check(output);
            } catch (RuntimeException e) {
                log.warn("moekit:check: cannot read " + output + " for engineCompatible: " + e.getMessage());
            }
        }
        List<Outcome> outcomes = Gates.check(limits, new Gates.Measured(evalJson, inBytes, outBytes, prov, provFile.toString(), engine));
        long failed = outcomes.stream().filter(Outcome::failed).count();
        for (Outcome o : outcomes) {
            if (!o.failed()) {
                log.info("passed: " + o.message());
            } else if (haltOnFailure) {
                log.error("FAILED: " + o.message());
            } else {
                log.warn("FAILED: " + o.message());
            }
        }
        record(outcomes, output, results);
        if (failed > 0) {
            if (haltOnFailure) {
                throw new TaskFailure(Gates.failure(outcomes));
            }
            log.warn("moekit:check: " + failed + " of " + outcomes.size() + " quality gate(s) failed; the build goes on (haltOnFailure is false)");
        } else {
            log.info("moekit:check: all " + outcomes.size() + " quality gate(s) passed for " + output);
        }
        return outcomes;
    }

    private static void record(List<Outcome> outcomes, Path output, Path file) throws IOException {
        ObjectNode n = Json.PRETTY.createObjectNode();
        n.put("output", output.toString());
        n.put("checked", Instant.now().toString());
        var a = n.putArray("outcomes");
        outcomes.forEach(o -> a.addObject().put("rule", o.rule()).put("status", o.status().name().toLowerCase(java.util.Locale.ROOT)).put("message", o.message()));
        Files.createDirectories(file.getParent());
        Json.PRETTY.writeValue(file.toFile(), n);
    }
}
