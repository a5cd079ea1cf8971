package dev.moekit.prune.expert;

import dev.moekit.toolkit.method.Method;
import dev.moekit.toolkit.method.MethodKind;
import java.util.List;

/**
 * Plugin kind {@code expert-pruner}: decides, per MoE layer, which routed experts survive (and, for clustering
 * methods, which removed experts each survivor stands for). Writing the output (tensors, router rows, config) is the
 * same for every method ({@link ExpertPruning}); a method only selects.
 *
 * <p>Adding one is one class implementing this interface (or extending
 * {@link dev.moekit.prune.expert.score.ScoringPruner} for a per-expert score), one line in
 * {@code META-INF/services/dev.moekit.toolkit.method.Method}, and nothing else: the {@code prune} stage finds it by
 * name and binds its parameter keys from the stage's keys, and the contract test runs it on the reference model.
 *
 * @param <P> the method's parameter record (keys beside the stage's own in a {@code prune:} entry)
 */
public interface ExpertPruner<P extends Record> extends Method<P> {
    @SuppressWarnings({"unchecked", "rawtypes"})
    MethodKind<ExpertPruner<?>> KIND = new MethodKind<>("expert-pruner", (Class) ExpertPruner.class,
            "remove whole routed experts: each method decides per MoE layer which experts survive");

    @Override
    default MethodKind<?> kind() {
        return KIND;
    }

    /**
     * Chooses the kept experts of every layer in {@link Selection#layers()}: exactly {@link Selection#keep} of them per
     * layer when uniform, or {@link Selection#target()} in total when {@link Selection#global()}.
     */
    Selected select(P params, Selection selection);

    /** MoE-block input rows per layer the calibration pass must keep for this method (NAEE); 0 for none. */
    default int blockSamples(P params) {
        return 0;
    }

    /** Whether the method can spread the budget unevenly over layers ({@code allocation: global}); STUN only. */
    default boolean allocatesGlobally() {
        return false;
    }

    /**
     * What a method selected.
     *
     * @param layers per MoE layer, in layer order
     * @param exact  whether the method met the budget exactly (the planner checks the totals again)
     * @param notes    facts for the report (thresholds found, fallbacks)
     * @param warnings what the output's user must know about its quality (the stage also emits them as warnings)
     */
    record Selected(List<LayerResult> layers, boolean exact, List<String> notes, List<String> warnings) {
        public Selected {
            layers = List.copyOf(layers);
            notes = List.copyOf(notes);
            warnings = List.copyOf(warnings);
        }

        /** A selection without warnings. */
        public Selected(List<LayerResult> layers, boolean exact, List<String> notes) {
            this(layers, exact, notes, List.of());
        }
    }
}
