package dev.moekit.maven.core;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.maven.report.HtmlReport;
import dev.moekit.pipeline.Version;
import dev.moekit.pipeline.io.DataFiles;
import dev.moekit.pipeline.recipe.Devices;
import dev.moekit.pipeline.recipe.EvalSettings;
import dev.moekit.toolkit.io.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The work of {@code moekit:evaluate} (and of {@code moekit:check} when the report is missing): perplexity, KL and
 * top-1 of the output against the input with {@code moekit eval --json} in the fork, then the report
 * {@code <output name>.eval.json} (the evaluation, sizes and the key it was made under) and
 * {@code <output name>.eval.html} with its PNG charts. The report is up to date when its key matches: the settings,
 * both checkpoints' fingerprints, the data's hashes and moekit's version.
 */
public final class EvaluateTask {
    /**
     * What to evaluate.
     *
     * @param output    the evaluated (compressed) checkpoint
     * @param input     the reference (uncompressed) checkpoint
     * @param data      data files or globs, absolute
     * @param windows   windows per file
     * @param window    tokens per window
     * @param device    cpu or gpu:N
     * @param reportDir where the report goes
     */
    public record Settings(Path output, Path input, List<String> data, int windows, int window, String device, Path reportDir) {
        public Settings {
            data = List.copyOf(data);
            try {
                new EvalSettings(data, windows, window, true, null, null, null);
                device = Devices.check(device);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(e.getMessage().replace("eval.", ""), e);
            }
        }

        /** The report JSON of this output. */
        public Path reportJson() {
            return reportDir.resolve(output.getFileName() + ".eval.json");
        }
    }

    /** The report: its file and content, and whether the evaluation ran now. */
    public record Report(Path json, Path html, JsonNode content, boolean ran) {
        /** The {@code EvalResult} JSON inside. */
        public JsonNode eval() {
            return content.path("eval");
        }
    }

    private EvaluateTask() {}

    /** The key: settings, output and input fingerprints, the data's hashes, the version. */
    public static UpToDate.Key key(Settings s, List<DataFiles.DataFile> files) throws TaskFailure {
        Map<String, String> parts = new LinkedHashMap<>();
        parts.put("settings", "windows=" + s.windows() + " window=" + s.window() + " device=" + s.device() + " data=" + s.data());
        parts.put("output", Inputs.fingerprint(s.output()));
        parts.put("input", Inputs.fingerprint(s.input()));
        parts.put("data", Inputs.hash(files));
        parts.put("version", Version.VERSION);
        return new UpToDate.Key(parts);
    }

    /** The report if it exists and was made under the current key, else null. */
    public static Report current(Settings s, UpToDate.Key key) {
        Path json = s.reportJson();
        if (!Files.isRegularFile(json)) {
            return null;
        }
        try {
            JsonNode n = Json.STRICT.readTree(json.toFile());
            return key.hash().equals(n.path("key").asText()) ? new Report(json, html(s), n, false) : null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /**
     * The report of {@code s}: the existing one when up to date, else a new evaluation.
     *
     * @param goal for log lines ({@code evaluate}, or {@code check} when it evaluates itself)
     */
    public static Report run(Settings s, UpToDate state, ForkSource forks, BuildLog log, String goal) throws TaskFailure, IOException, InterruptedException {
        Inputs.checkCheckpoint(s.output(), "output");
        Inputs.checkCheckpoint(s.input(), "input");
        List<DataFiles.DataFile> files = Inputs.resolve(s.data(), "eval");
        UpToDate.Key key = key(s, files);
        Report existing = current(s, key);
        UpToDate.State last = state.read();
        if (existing != null) {
            String since = existing.content().path("generated").asText();
            log.info(goal.equals("evaluate") ? "moekit:evaluate is up to date: " + key.names() + " unchanged since " + since + " (report " + existing.json() + ")"
                    : "moekit:" + goal + " reads the evaluation report " + existing.json() + " (up to date: " + key.names() + " unchanged since " + since + ")");
            if (last == null || state.whyRun(last, key, null, null) != null) {
                state.write(key, existing.json(), null);
            }
            return existing;
        }
        log.info("moekit:" + goal + " evaluates " + s.output() + " against " + s.input() + ": "
                + (Files.exists(s.reportJson()) ? "the report " + s.reportJson() + " is out of date" : "no report yet"));
        Files.createDirectories(s.reportDir());
        Path raw = s.reportDir().resolve(s.output().getFileName() + ".eval.raw.json");
        Files.deleteIfExists(raw);
        List<String> args = new ArrayList<>(List.of("eval", s.output().toString(), "--ref", s.input().toString(), "--windows",
                String.valueOf(s.windows()), "--window", String.valueOf(s.window()), "--device", s.device(), "--json", raw.toString(), "--data"));
        files.forEach(f -> args.add(f.path().toString()));
        Fork.Result res = forks.fork().run(args);
        if (!res.ok()) {
            throw new TaskFailure("moekit:" + goal + " failed to evaluate " + s.output() + ":\n" + res.failure());
        }
        JsonNode eval = Json.STRICT.readTree(raw.toFile());
        Files.delete(raw);
        ObjectNode n = Json.PRETTY.createObjectNode();
        n.put("report", "moekit evaluate");
        n.put("moekit_version", Version.VERSION);
        n.put("generated", Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString());
        n.put("key", key.hash());
        n.putObject("output").put("path", s.output().toString()).put("weight_bytes", Inputs.weightBytes(s.output()));
        n.putObject("input").put("path", s.input().toString()).put("weight_bytes", Inputs.weightBytes(s.input()));
        n.set("data", DataFiles.toJson(files));
        n.set("eval", eval);
        Path json = s.reportJson();
        Path tmp = json.resolveSibling(json.getFileName() + ".tmp");
        Json.PRETTY.writeValue(tmp.toFile(), n);
        Path html = html(s);
        HtmlReport.write(n, html);
        Files.move(tmp, json, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        state.write(key, json, null);
        log.info("moekit:" + goal + " wrote " + json + " and " + html);
        return new Report(json, html, n, true);
    }

    private static Path html(Settings s) {
        return s.reportDir().resolve(s.output().getFileName() + ".eval.html");
    }
}
