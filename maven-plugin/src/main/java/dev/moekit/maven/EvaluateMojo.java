package dev.moekit.maven;

import dev.moekit.maven.core.EvaluateTask;
import dev.moekit.maven.core.TaskFailure;
import java.io.IOException;
import javax.inject.Inject;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.ResolutionScope;
import org.apache.maven.toolchain.ToolchainManager;

/**
 * Evaluates the output against the input ({@code moekit eval --json} in a forked JVM): perplexity per data file, KL
 * divergence and top-1 agreement. Writes {@code <workDirectory>/<output name>.eval.json} and a readable
 * {@code .eval.html} page with tables, per-domain perplexity bars and an expert-usage heatmap per layer (PNG).
 * Incremental: skipped while the settings, both checkpoints, the data and moekit's version are unchanged.
 */
@Mojo(name = "evaluate", defaultPhase = LifecyclePhase.VERIFY, threadSafe = true, requiresDependencyResolution = ResolutionScope.NONE)
public class EvaluateMojo extends AbstractEvaluatingMojo {
    @Inject
    public EvaluateMojo(ToolchainManager toolchains) {
        super(toolchains);
    }

    @Override
    protected void run() throws TaskFailure, IOException, InterruptedException {
        EvaluateTask.Settings s = evaluation();
        if (s == null) {
            throw new TaskFailure("moekit:evaluate compares the output with the input checkpoint: set <input>");
        }
        EvaluateTask.run(s, state("evaluate"), forks(), log(), "evaluate");
    }
}
