package dev.moekit.maven;

import dev.moekit.maven.core.TaskFailure;
import dev.moekit.maven.core.VerifyTask;
import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import javax.inject.Inject;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;
import org.apache.maven.plugins.annotations.ResolutionScope;
import org.apache.maven.toolchain.ToolchainManager;

/**
 * The structural check of {@code moekit verify} as a build step, in a forked JVM: every tensor the family description
 * declares is present with the expected shape and dtype, nothing unexpected, config and index agree, and (unless
 * {@code scan} is false) no weight is NaN or Inf. Incremental: skipped while the checkpoint is unchanged.
 */
@Mojo(name = "verify-checkpoint", defaultPhase = LifecyclePhase.VERIFY, threadSafe = true, requiresDependencyResolution = ResolutionScope.NONE)
public class VerifyCheckpointMojo extends AbstractMoekitMojo {
    /**
     * The checkpoint to check; default the output of {@code compress}:
     * {@code ${project.build.directory}/moekit/<input folder name>-compressed}.
     */
    @Parameter(property = "moekit.output")
    private File output;

    /** The input of {@code compress}, used only to find the default output. */
    @Parameter(property = "moekit.input")
    private File input;

    /** Scan every weight for NaN/Inf (reads all weights); {@code false} checks the structure only. */
    @Parameter(property = "moekit.scan", defaultValue = "true")
    private boolean scan;

    @Inject
    public VerifyCheckpointMojo(ToolchainManager toolchains) {
        super(toolchains);
    }

    @Override
    protected void run() throws TaskFailure, IOException, InterruptedException {
        if (output == null && input == null) {
            throw new TaskFailure("moekit:verify-checkpoint: set <output> (the checkpoint to check) or <input> (then the output is "
                    + work() + "/<input folder name>-compressed)");
        }
        Path checkpoint = output != null ? path(output) : work().resolve(path(input).getFileName() + "-compressed");
        VerifyTask.run(checkpoint, scan, state("verify-checkpoint"), forks(), log());
    }
}
