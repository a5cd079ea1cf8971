package dev.moekit.maven.core;

import dev.moekit.pipeline.Version;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The work of {@code moekit:verify-checkpoint}: {@code moekit verify} in the fork (structure against the family
 * description, then a NaN/Inf scan). Up to date when the checkpoint's fingerprint, the settings and moekit's version
 * are those of the last clean run.
 */
public final class VerifyTask {
    private VerifyTask() {}

    public static boolean run(Path checkpoint, boolean scan, UpToDate state, ForkSource forks, BuildLog log) throws TaskFailure, IOException, InterruptedException {
        Map<String, String> parts = new LinkedHashMap<>();
        parts.put("settings", scan ? "scan" : "no-scan");
        parts.put("checkpoint", Inputs.fingerprint(checkpoint));
        parts.put("version", Version.VERSION);
        UpToDate.Key key = new UpToDate.Key(parts);
        UpToDate.State last = state.read();
        String why = state.whyRun(last, key, null, null);
        if (why == null) {
            log.info(state.upToDateMessage(last, key));
            return false;
        }
        log.info("moekit:verify-checkpoint checks " + checkpoint + ": " + why);
        List<String> args = new ArrayList<>(List.of("verify", checkpoint.toString()));
        if (!scan) {
            args.add("--no-scan");
        }
        Fork.Result res = forks.fork().run(args);
        if (!res.ok()) {
            throw new TaskFailure("moekit:verify-checkpoint: " + checkpoint + " failed the structural check:\n"
                    + (res.errors().isEmpty() ? String.join("\n", res.tail()) : res.failure()));
        }
        state.write(key, null, null);
        return true;
    }
}
