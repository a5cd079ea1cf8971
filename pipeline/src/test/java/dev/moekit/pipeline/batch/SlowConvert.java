package dev.moekit.pipeline.batch;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.pipeline.stage.CommitContext;
import dev.moekit.pipeline.stage.Plan;
import dev.moekit.pipeline.stage.PlanInput;
import dev.moekit.pipeline.stage.StageContext;
import dev.moekit.pipeline.stage.StageType;
import dev.moekit.pipeline.stage.UnitContext;
import dev.moekit.pipeline.stage.WorkUnit;
import dev.moekit.pipeline.stages.ConvertStage;
import dev.moekit.toolkit.method.Doc;
import dev.moekit.toolkit.method.Params;
import java.util.Map;

/**
 * Test stage {@code slow_convert}: {@code convert} whose units sleep first, so tests can kill a worker mid-unit.
 * Registered only on the test class path.
 */
public final class SlowConvert implements StageType<SlowConvert.Parameters> {
    public record Parameters(@Doc("target dtype") String dtype, @Doc("milliseconds each unit sleeps") Integer sleepMs,
                             @Doc("unit layers-01-01 fails while this file exists") String failWhile) {
        public Parameters {
            sleepMs = sleepMs == null ? 0 : sleepMs;
        }

        ConvertStage.Parameters convert() {
            return new ConvertStage.Parameters(dtype, null, 1, 1);
        }
    }

    private final ConvertStage convert = new ConvertStage();

    @Override
    public String name() {
        return "slow_convert";
    }

    @Override
    public String summary() {
        return "convert with sleeping units (tests only)";
    }

    @Override
    public String reference() {
        return "";
    }

    @Override
    public Class<Parameters> parameters() {
        return Parameters.class;
    }

    @Override
    public Calibration calibration() {
        return Calibration.NONE;
    }

    @Override
    public Parameters bind(JsonNode params) {
        return Params.bind(name(), params, Parameters.class);
    }

    @Override
    public Plan plan(Parameters p, PlanInput in, StageContext ctx) {
        Plan c = convert.plan(p.convert(), in, ctx);
        return new Plan(name(), c.output(), c.bytesIn(), false, c.units(), c.notes(), c.details());
    }

    @Override
    public JsonNode execute(Parameters p, Plan plan, WorkUnit unit, UnitContext ctx) throws Exception {
        Thread.sleep(p.sleepMs());
        if (p.failWhile() != null && unit.id().equals("layers-01-01") && java.nio.file.Files.exists(java.nio.file.Path.of(p.failWhile()))) {
            throw new IllegalStateException("told to fail while " + p.failWhile() + " exists");
        }
        return convert.execute(p.convert(), plan, unit, ctx);
    }

    @Override
    public JsonNode commit(Parameters p, Plan plan, Map<String, UnitResult> units, CommitContext ctx) throws Exception {
        return convert.commit(p.convert(), plan, units, ctx);
    }
}
