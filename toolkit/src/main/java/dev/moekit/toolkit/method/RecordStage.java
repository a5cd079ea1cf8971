package dev.moekit.toolkit.method;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;

/**
 * The usual shape of a {@link StageProvider}: parameters bound to a record {@code P} (validated at recipe load, before
 * any work), and one method that applies them. Subclasses give a name, a summary and {@link #apply}.
 */
public abstract class RecordStage<P extends Record> implements StageProvider {
    private final String name;
    private final String summary;
    private final Class<P> type;

    protected RecordStage(String name, String summary, Class<P> type) {
        this.name = name;
        this.summary = summary;
        this.type = type;
    }

    /** Runs the stage with bound parameters; see {@link Stage#apply}. */
    protected abstract JsonNode apply(P params, Path input, Path output, StageContext context) throws Exception;

    /** Checks that need more than the record's own constructor; called once at recipe load. */
    protected void validate(P params) {}

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final String summary() {
        return summary;
    }

    @Override
    public final Class<? extends Record> parameters() {
        return type;
    }

    @Override
    public final Stage create(JsonNode params) {
        P p = Params.bind(name, params, type);
        validate(p);
        return new Stage() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public JsonNode apply(Path input, Path output, StageContext context) throws Exception {
                return RecordStage.this.apply(p, input, output, context);
            }
        };
    }
}
