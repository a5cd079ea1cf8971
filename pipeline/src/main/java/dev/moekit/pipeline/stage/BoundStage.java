package dev.moekit.pipeline.stage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.method.Params;
import java.nio.file.Path;
import java.util.Map;

/**
 * A stage type with its bound, validated parameters: what the runner holds for each recipe entry.
 *
 * @param type   the stage plugin
 * @param params the validated parameter record
 */
public record BoundStage<P extends Record>(StageType<P> type, P params) {
    /** Binds {@code raw} (may be null) to {@code type}'s record: unknown keys, wrong types and ranges fail here. */
    public static <P extends Record> BoundStage<P> bind(StageType<P> type, JsonNode raw) {
        try {
            return new BoundStage<>(type, type.bind(raw));
        } catch (ParameterException e) {
            throw e;
        } catch (IllegalArgumentException e) {
            throw new ParameterException(e.getMessage(), e);
        }
    }

    public String name() {
        return type.name();
    }

    /** The parameters with defaults resolved, for provenance and resume keys. */
    public ObjectNode resolved() {
        return Params.toJson(params);
    }

    public boolean needsCalibration() {
        return type.needsCalibration(params);
    }

    public Plan plan(PlanInput input, StageContext ctx) {
        return type.plan(params, input, ctx);
    }

    public JsonNode execute(Plan plan, WorkUnit unit, UnitContext ctx) throws Exception {
        return type.execute(params, plan, unit, ctx);
    }

    public JsonNode commit(Plan plan, Map<String, StageType.UnitResult> units, CommitContext ctx) throws Exception {
        return type.commit(params, plan, units, ctx);
    }
}
