package dev.moekit.pipeline.stage;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.toolkit.method.Params;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;

/**
 * A stage that runs as one unit writing one checkpoint: subclasses give a name, a summary, a reference, a parameter
 * record, a {@link #planOutput plan} and {@link #run}. The unit writes its checkpoint to {@code <unit>/checkpoint};
 * commit moves it to the stage output.
 */
public abstract class SingleUnitStage<P extends Record> implements StageType<P> {
    /** The unit's id. */
    public static final String UNIT = "all";
    private static final String CHECKPOINT = "checkpoint";

    private final String name;
    private final String summary;
    private final String reference;
    private final Class<P> type;
    private final Calibration calibration;

    protected SingleUnitStage(String name, String summary, String reference, Class<P> type, Calibration calibration) {
        this.name = name;
        this.summary = summary;
        this.reference = reference;
        this.type = type;
        this.calibration = calibration;
    }

    /** The planned output and settings; see {@link StageType#plan}. */
    protected abstract Planned planOutput(P params, PlanInput input, StageContext context);

    /** Runs the stage: reads {@code input}, writes a checkpoint to {@code output}; returns the report. */
    protected abstract JsonNode run(P params, Plan plan, Path input, List<Path> extra, Path output, StageContext context) throws Exception;

    /** What {@link #planOutput} returns. */
    public record Planned(Layout output, boolean calibrates, List<String> notes, JsonNode details) {
        public Planned {
            notes = List.copyOf(notes);
        }
    }

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final String summary() {
        return summary;
    }

    @Override
    public final String reference() {
        return reference;
    }

    @Override
    public final Class<P> parameters() {
        return type;
    }

    @Override
    public final Calibration calibration() {
        return calibration;
    }

    @Override
    public P bind(JsonNode params) {
        return Params.bind(name, params, type);
    }

    @Override
    public final Plan plan(P params, PlanInput input, StageContext context) {
        Planned p = planOutput(params, input, context);
        long in = input.layout().bytes();
        WorkUnit u = new WorkUnit(UNIT, name + " of the whole checkpoint", in, p.output().bytes(), in, List.of(), null);
        return new Plan(name, p.output(), in, p.calibrates(), List.of(u), p.notes(), p.details());
    }

    @Override
    public final JsonNode execute(P params, Plan plan, WorkUnit unit, UnitContext ctx) throws Exception {
        return run(params, plan, ctx.input(), ctx.extra(), ctx.dir().resolve(CHECKPOINT), ctx.stage());
    }

    @Override
    public final JsonNode commit(P params, Plan plan, Map<String, UnitResult> units, CommitContext context) throws Exception {
        UnitResult r = units.get(UNIT);
        Files.move(r.dir().resolve(CHECKPOINT), context.output(), StandardCopyOption.ATOMIC_MOVE);
        return r.report();
    }
}
