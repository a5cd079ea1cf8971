package dev.moekit.pipeline.stage;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.model.TensorFacts;
import dev.moekit.toolkit.model.TensorLayout;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The structure of a checkpoint without its weights: config, every tensor's name, dtype and shape, and the storage
 * facts that go with them. A real checkpoint has one ({@link #of}); a stage's plan states the one it will write, so the
 * next stage can be planned (and its parameters checked) before anything runs.
 *
 * @param config  config.json as it will be written
 * @param tensors every tensor, in output order
 * @param facts   expert layout, optional roles present, floating dtype
 * @param exact   false when the real output may differ in detail (e.g. STUN's global allocation decides per-layer
 *                counts from the weights; the totals are right)
 */
public record Layout(ObjectNode config, List<TensorSpec> tensors, TensorFacts facts, boolean exact) {
    public Layout {
        config = config.deepCopy();
        tensors = List.copyOf(tensors);
    }

    /** The layout of an existing checkpoint. */
    public static Layout of(Checkpoint c) {
        ModelSpec s = ModelSpec.of(c);
        return new Layout(c.config(), c.names().stream().map(n -> TensorSpec.of(c.info(n))).toList(),
                new TensorFacts(s.fusedExperts(), s.present(), s.dtype()), true);
    }

    /** The model structure (family, layers, experts per layer...) this layout describes. */
    public ModelSpec spec() {
        return ModelSpec.fromConfig(config, facts);
    }

    /** Total tensor bytes. */
    public long bytes() {
        return tensors.stream().mapToLong(TensorSpec::byteSize).sum();
    }

    /** Same tensors, another config. */
    public Layout withConfig(ObjectNode c) {
        return new Layout(c, tensors, facts, exact);
    }

    /** Same config, other tensors. */
    public Layout withTensors(List<TensorSpec> t) {
        return new Layout(config, t, facts, exact);
    }

    /** Marked as an estimate. */
    public Layout estimated() {
        return new Layout(config, tensors, facts, false);
    }

    /** Parameters (elements) of the tensors the family declares for these role kinds. */
    public long params(Set<Role.Kind> kinds) {
        Map<String, Role.Kind> byName = new HashMap<>();
        TensorLayout.expected(spec()).forEach(p -> byName.put(p.name(), p.role().kind()));
        long n = 0;
        for (TensorSpec t : tensors) {
            Role.Kind k = byName.get(t.name());
            if (k != null && kinds.contains(k)) {
                n += t.numel();
            }
        }
        return n;
    }

    /** Decoder Linear parameters: attention, dense MLPs, routers, routed and shared experts. */
    public long linearParams() {
        return params(EnumSet.of(Role.Kind.ATTENTION, Role.Kind.DENSE_MLP, Role.Kind.ROUTER, Role.Kind.ROUTED_EXPERT, Role.Kind.SHARED_EXPERT));
    }
}
