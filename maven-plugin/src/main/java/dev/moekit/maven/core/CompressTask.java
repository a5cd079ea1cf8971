package dev.moekit.maven.core;

import dev.moekit.pipeline.Version;
import dev.moekit.pipeline.io.DataFiles;
import dev.moekit.pipeline.recipe.Recipe;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The work of {@code moekit:compress}: skips when up to date, else runs the recipe with {@code moekit run} in the fork
 * and records the state. The key is the resolved recipe, the input's fingerprint, the calibration and evaluation data's
 * hashes and moekit's version; the output must still be there as the last run left it.
 */
public final class CompressTask {
    /** The output and whether the recipe ran (false: up to date). */
    public record Result(Path output, boolean ran) {}

    private CompressTask() {}

    /** The up-to-date key of {@code r}; {@code dataDir} is the default data folder. */
    public static UpToDate.Key key(Recipe r, Path dataDir) throws TaskFailure, IOException {
        Inputs.checkCheckpoint(r.model(), "input");
        Map<String, String> parts = new LinkedHashMap<>();
        parts.put("recipe", dev.moekit.pipeline.io.Fingerprint.sha256(RecipeSource.canonical(r)));
        parts.put("input", Inputs.fingerprint(r.model()));
        List<String> data = new ArrayList<>();
        data.add("calibration " + dataHash(r.calibration().data(), dataDir, "*.valid.txt", "calibration"));
        if (r.eval() != null) {
            data.add("eval " + dataHash(r.eval().data(), dataDir, "*.test.txt", "eval"));
        }
        parts.put("data", String.join(", ", data));
        parts.put("version", Version.VERSION);
        return new UpToDate.Key(parts);
    }

    /**
     * The hash of the files {@code globs} name (or of the default files when none are named and the default folder
     * exists). A pattern that matches nothing is recorded as such: the pipeline decides whether the data is needed.
     */
    private static String dataHash(List<String> globs, Path dataDir, String defaultGlob, String what) {
        if (globs.isEmpty() && !Files.isDirectory(dataDir)) {
            return "none";
        }
        try {
            List<DataFiles.DataFile> files = Inputs.resolve(globs.isEmpty() ? List.of(dataDir.resolve(defaultGlob).toString()) : globs, what);
            return Inputs.hash(files);
        } catch (TaskFailure e) {
            return "unresolved (" + e.getMessage() + ")";
        }
    }

    /**
     * Runs {@code r} unless up to date.
     *
     * @param source  where the recipe came from, for messages (its file, or {@code <recipeInline>})
     * @param state   this execution's state file
     * @param dataDir the default data folder
     */
    public static Result run(Recipe r, String source, UpToDate state, ForkSource forks, Path dataDir, BuildLog log) throws TaskFailure, IOException, InterruptedException {
        UpToDate.Key key = key(r, dataDir);
        Path output = r.output();
        UpToDate.State last = state.read();
        String why = state.whyRun(last, key, output, Inputs.fingerprintOrNull(output));
        if (why == null) {
            log.info(state.upToDateMessage(last, key));
            return new Result(output, false);
        }
        log.info("moekit:compress runs: " + why);
        // an output this execution wrote earlier is the build's own product: it is replaced without asking
        boolean ours = last != null && output.toString().equals(last.product()) && Files.isDirectory(output);
        Recipe run = ours && !r.replace() ? r.withOutput(output, true) : r;
        Path recipeFile = state.file().resolveSibling(state.file().getFileName().toString().replace(".json", ".recipe.json"));
        Files.createDirectories(recipeFile.getParent());
        Files.writeString(recipeFile, RecipeSource.text(run), StandardCharsets.UTF_8);
        Fork.Result res = forks.fork().run(List.of("run", recipeFile.toString()));
        if (!res.ok()) {
            throw new TaskFailure("moekit:compress failed (recipe " + source + ", resolved into " + recipeFile + "):\n" + res.failure());
        }
        if (!Files.isDirectory(output)) {
            throw new TaskFailure("moekit:compress: the run ended without writing " + output);
        }
        state.write(key, output, Inputs.fingerprint(output));
        return new Result(output, true);
    }
}
