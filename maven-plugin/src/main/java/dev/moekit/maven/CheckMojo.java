package dev.moekit.maven;

import dev.moekit.maven.core.CheckTask;
import dev.moekit.maven.core.TaskFailure;
import dev.moekit.maven.gate.Limits;
import java.io.IOException;
import javax.inject.Inject;
import org.apache.maven.plugins.annotations.LifecyclePhase;
import org.apache.maven.plugins.annotations.Mojo;
import org.apache.maven.plugins.annotations.Parameter;
import org.apache.maven.plugins.annotations.ResolutionScope;
import org.apache.maven.toolchain.ToolchainManager;

/**
 * Quality gates on the output: each set rule is checked and reported with the measured value and the limit; a
 * violated rule fails the build (or, with {@code haltOnFailure=false}, is logged as a warning). The perplexity, KL
 * and top-1 rules read the report {@code evaluate} wrote, and evaluate first when it is missing or out of date.
 */
@Mojo(name = "check", defaultPhase = LifecyclePhase.VERIFY, threadSafe = true, requiresDependencyResolution = ResolutionScope.NONE)
public class CheckMojo extends AbstractEvaluatingMojo {
    /** Per data file (domain): output perplexity / input perplexity must be at most this, e.g. {@code 1.10}. */
    @Parameter(property = "moekit.maxPerplexityRatio")
    private Double maxPerplexityRatio;

    /** Mean KL divergence of the output from the input over all scored positions (nats) must be at most this. */
    @Parameter(property = "moekit.maxMeanKl")
    private Double maxMeanKl;

    /** The 99th percentile of the KL divergence over all scored positions (nats) must be at most this. */
    @Parameter(property = "moekit.maxP99Kl")
    private Double maxP99Kl;

    /** Top-1 agreement with the input over all scored positions (a fraction, 0.9 = 90%) must be at least this. */
    @Parameter(property = "moekit.minTop1")
    private Double minTop1;

    /** The output's weight files (its {@code *.safetensors} shards) must be at most this many bytes. */
    @Parameter(property = "moekit.maxOutputBytes")
    private Long maxOutputBytes;

    /** Input weight bytes / output weight bytes must be at least this, e.g. {@code 1.2}. */
    @Parameter(property = "moekit.minCompressionRatio")
    private Double minCompressionRatio;

    /**
     * Every expert must have received at least this many calibration tokens, as the {@code coverage} of the stage
     * reports in the output's {@code moekit_provenance.json} records; fails as "not measured" when no stage calibrated.
     */
    @Parameter(property = "moekit.minCalibrationTokens")
    private Long minCalibrationTokens;

    /**
     * Inference engines must be able to load the output: routers unquantized and one bit width per fused expert
     * block (all routed experts of a layer), read from {@code quantization_config} in the output's
     * {@code config.json}.
     */
    @Parameter(property = "moekit.engineCompatible", defaultValue = "false")
    private boolean engineCompatible;

    /** Fail the build when a rule is violated; {@code false} logs the violations as warnings and goes on. */
    @Parameter(property = "moekit.haltOnFailure", defaultValue = "true")
    private boolean haltOnFailure;

    @Inject
    public CheckMojo(ToolchainManager toolchains) {
        super(toolchains);
    }

    @Override
    protected void run() throws TaskFailure, IOException, InterruptedException {
        Limits limits = new Limits(maxPerplexityRatio, maxMeanKl, maxP99Kl, minTop1, maxOutputBytes, minCompressionRatio, minCalibrationTokens,
                engineCompatible);
        CheckTask.run(limits, outputPath(), inputPath(), evaluation(), state("evaluate"), forks(), haltOnFailure,
                work().resolve("check-" + mojoExecution.getExecutionId() + ".json"), log());
    }
}
