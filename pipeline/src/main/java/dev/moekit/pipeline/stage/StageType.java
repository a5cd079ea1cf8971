package dev.moekit.pipeline.stage;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.toolkit.method.Method;
import dev.moekit.toolkit.method.MethodKind;
import java.util.Map;
import java.nio.file.Path;

/**
 * A recipe stage ({@code prune}, {@code sparsify}, {@code quantize}, {@code convert}, ...): a {@link Method} of kind
 * {@code stage} that is planned, then executed unit by unit, then committed; the runner ({@link
 * dev.moekit.pipeline.Pipeline}) drives the three steps, owns the work folders, resume and provenance.
 *
 * <ol>
 *   <li>{@link #plan}: metadata only (configs, tensor names and shapes, parameter counts; no weights, no
 *   calibration). Checks that the parameters fit the input (a sparsity that cannot be reached, a layer that would
 *   keep fewer experts than top-k) and lists the work units. Called once per stage for a dry run, chained through
 *   the planned output {@link Layout}s, and again on the real input just before execution.</li>
 *   <li>{@link #execute}: one unit, writing only inside its own folder. Units run in an order that respects
 *   {@link WorkUnit#after()}, possibly in other processes (batch jobs).</li>
 *   <li>{@link #commit}: assembles the units' results into the stage's output checkpoint folder.</li>
 * </ol>
 * {@code convert}, {@code prune} and {@code quantize} split by groups of decoder layers ({@link TensorUnits}), with
 * {@link WorkUnit#after()} edges where a unit needs another's result ({@link UnitContext#finished}); the others are
 * one unit, the shape of {@link SingleUnitStage}.
 */
public interface StageType<P extends Record> extends Method<P> {
    @SuppressWarnings({"unchecked", "rawtypes"})
    MethodKind<StageType<?>> KIND = new MethodKind<>("stage", (Class) StageType.class,
            "recipe stages: each reads the previous stage's checkpoint and writes a new one");

    @Override
    default MethodKind<?> kind() {
        return KIND;
    }

    /**
     * Further input checkpoints the parameters name (BTX/BAM experts), as written in the recipe; the runner resolves
     * them against the recipe's folder, fingerprints them and refuses outputs inside them. None by default.
     */
    default java.util.List<String> extraInputs(P params) {
        return java.util.List.of();
    }

    /** Plans the stage on {@code input} (metadata only); throws {@link IllegalArgumentException} naming what is wrong. */
    Plan plan(P params, PlanInput input, StageContext context);

    /** Runs one unit of {@code plan}; writes only into {@link UnitContext#dir()}; returns the unit's report. */
    JsonNode execute(P params, Plan plan, WorkUnit unit, UnitContext context) throws Exception;

    /**
     * Builds the stage's output checkpoint at {@link CommitContext#output()} (which does not exist yet) from the
     * finished units' folders; returns the stage report for the provenance.
     */
    JsonNode commit(P params, Plan plan, Map<String, UnitResult> units, CommitContext context) throws Exception;

    /** A finished unit: its folder and report. */
    record UnitResult(Path dir, JsonNode report) {}
}
