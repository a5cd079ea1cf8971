package dev.moekit.maven;

import dev.moekit.maven.core.EvaluateTask;
import dev.moekit.maven.core.Inputs;
import dev.moekit.maven.core.TaskFailure;
import java.io.File;
import java.nio.file.Path;
import java.util.List;
import org.apache.maven.plugins.annotations.Parameter;
import org.apache.maven.toolchain.ToolchainManager;

/** The parameters of the goals that evaluate the output against the input: {@code evaluate} and {@code check}. */
abstract class AbstractEvaluatingMojo extends AbstractMoekitMojo {
    /** The uncompressed checkpoint the output is compared with (the same {@code <input>} as {@code compress}). */
    @Parameter(property = "moekit.input")
    protected File input;

    /**
     * The compressed checkpoint to evaluate; default {@code ${project.build.directory}/moekit/<input folder
     * name>-compressed}, where {@code compress} writes by default.
     */
    @Parameter(property = "moekit.output")
    protected File output;

    /**
     * Text files to evaluate on, one domain per file; globs allowed ({@code data/*.test.txt}), relative paths resolve
     * against the project. Default: {@code *.test.txt} in the reference data folder ({@code $MOEKIT_DATA}, else
     * {@code <moekit.shared>/data}).
     */
    @Parameter
    protected List<String> data;

    /** Windows evaluated per data file (the first ones of each file). */
    @Parameter(property = "moekit.windows", defaultValue = "32")
    protected int windows;

    /** Tokens per window, the bos token included. */
    @Parameter(property = "moekit.window", defaultValue = "256")
    protected int window;

    AbstractEvaluatingMojo(ToolchainManager toolchains) {
        super(toolchains);
    }

    protected Path inputPath() {
        return path(input);
    }

    protected Path outputPath() throws TaskFailure {
        if (output != null) {
            return path(output);
        }
        if (input == null) {
            throw new TaskFailure("moekit:" + goal() + ": set <output> (the checkpoint to check) or <input> (then the output is "
                    + work() + "/<input folder name>-compressed)");
        }
        return work().resolve(inputPath().getFileName() + "-compressed");
    }

    /** The evaluation settings, or null when no input is set. */
    protected EvaluateTask.Settings evaluation() throws TaskFailure {
        if (input == null) {
            return null;
        }
        List<String> globs = Inputs.globs(data, basedir(), dataDir(), "*.test.txt");
        return new EvaluateTask.Settings(outputPath(), inputPath(), globs, windows, window, device == null ? "cpu" : device, work());
    }
}
