package dev.moekit.maven;

import dev.moekit.maven.core.CompressTask;
import dev.moekit.maven.core.RecipeSource;
import dev.moekit.maven.core.TaskFailure;
import dev.moekit.maven.core.Zip;
import dev.moekit.pipeline.recipe.Recipe;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.inject.Inject;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;
import org.apache.maven.plugins.annotations.ResolutionScope;
import org.apache.maven.project.MavenProjectHelper;
import org.apache.maven.toolchain.ToolchainManager;

/**
 * Compresses a checkpoint with a recipe, as {@code moekit run} does, in a forked JVM. Incremental: when the resolved
 * recipe, the input's fingerprint, the data's hashes and moekit's version are those of the last run of this execution
 * and the output is still as that run left it, nothing runs.
 */
@Mojo(name = "compress", defaultPhase = LifecyclePhase.PACKAGE, threadSafe = true, requiresDependencyResolution = ResolutionScope.NONE)
public class CompressMojo extends AbstractMoekitMojo {
    /**
     * The recipe file (YAML or JSON: {@code stages}, and optionally {@code calibration}, {@code eval}, {@code seed},
     * {@code device}; see {@code docs/recipes.md}). Relative paths in it resolve against its folder. Set this or
     * {@code recipeInline}.
     */
    @Parameter(property = "moekit.recipe")
    private File recipe;

    /**
     * The recipe as inline YAML, with the same keys as a recipe file, e.g.
     * {@code stages: [{prune: {method: stun, experts: 0.25}}]}. Relative paths in it resolve against
     * {@code ${project.basedir}}. Set this or {@code recipe}.
     */
    @Parameter
    private String recipeInline;

    /** The checkpoint folder to compress; overrides the recipe's {@code model} (which is used when this is unset). */
    @Parameter(property = "moekit.input")
    private File input;

    /**
     * The output folder; overrides the recipe's {@code output}. Default
     * {@code ${project.build.directory}/moekit/<input folder name>-compressed}.
     */
    @Parameter(property = "moekit.output")
    private File output;

    /**
     * Replace an existing output folder that this execution did not write (a moekit output or a checkpoint folder; any
     * other folder is refused). An output this execution wrote earlier is always replaced when its inputs change.
     */
    @Parameter(property = "moekit.replace", defaultValue = "false")
    private boolean replace;

    /** Attach the output to the project as a zip (type {@code zip}), so that {@code install} and {@code deploy} publish it. */
    @Parameter(property = "moekit.attach", defaultValue = "false")
    private boolean attach;

    /** Classifier of the attached zip. */
    @Parameter(property = "moekit.classifier", defaultValue = "moekit")
    private String classifier;

    private final MavenProjectHelper projectHelper;

    @Inject
    public CompressMojo(ToolchainManager toolchains, MavenProjectHelper projectHelper) {
        super(toolchains);
        this.projectHelper = projectHelper;
    }

    @Override
    protected void run() throws TaskFailure, IOException, InterruptedException {
        Recipe r = RecipeSource.resolve(path(recipe), recipeInline, basedir(), path(input), path(output), work(), device, replace);
        CompressTask.Result res = CompressTask.run(r, recipe != null ? path(recipe).toString() : "<recipeInline>", state("compress"), forks(), dataDir(), log());
        if (attach) {
            Path zip = work().resolve(res.output().getFileName() + "-" + classifier + ".zip");
            if (res.ran() || !Files.isRegularFile(zip)) {
                getLog().info("moekit:compress zips " + res.output() + " into " + zip);
                Zip.folder(res.output(), zip);
            }
            projectHelper.attachArtifact(project, "zip", classifier, zip.toFile());
        }
    }
}
