package dev.moekit.prune.sparse;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.moekit.eval.CalibrationObserver;
import dev.moekit.eval.runtime.LayerWeights;
import dev.moekit.prune.stats.ActivationNorms;
import dev.moekit.toolkit.model.Role;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * A calibration observer that sums, for every Linear of the layer being observed, its inputs' squares per channel
 * (routed experts see only their routed rows), and hands the layer's {@link ActivationNorms} to {@link #done} when the
 * layer has seen every batch. The shared-expert gate reads the same input as the router and reuses its statistics;
 * Linears the runtime does not report (multi-head latent attention) are absent. Calibration windows are full length,
 * so every row is a real token.
 */
abstract class LinearInputs implements CalibrationObserver {
    private static final Set<Role> OBSERVED = Set.of(Role.Q, Role.K, Role.V, Role.O, Role.MLP_GATE, Role.MLP_UP,
            Role.MLP_DOWN, Role.ROUTER, Role.EXPERT_GATE, Role.EXPERT_UP, Role.EXPERT_DOWN, Role.SHARED_GATE,
            Role.SHARED_UP, Role.SHARED_DOWN);

    private final Map<LinearKey, ActivationNorms.Builder> sums = new HashMap<>();
    private int layer = -1;

    /** Layer {@code layer} has been observed on every batch: its statistics, and its runtime weights (editable). */
    abstract void done(int layer, Map<LinearKey, ActivationNorms> norms, LayerWeights weights);

    @Override
    public Set<Role> linearInputs() {
        return OBSERVED;
    }

    @Override
    public void linearInput(int l, Role role, int expert, NDArray input) {
        if (l != layer) {
            sums.clear();
            layer = l;
        }
        long rows = input.getShape().get(0);
        float[] s = input.toType(DataType.FLOAT32, false).square().sum(new int[] {0}).toFloatArray();
        sums.computeIfAbsent(new LinearKey(role, expert), k -> new ActivationNorms.Builder(s.length)).addSums(s, rows);
    }

    @Override
    public final void layerDone(int l, LayerWeights weights) {
        Map<LinearKey, ActivationNorms> out = new HashMap<>();
        if (l == layer) {
            sums.forEach((k, b) -> out.put(k, b.build()));
        }
        ActivationNorms router = out.get(LinearKey.of(Role.ROUTER));
        if (router != null) {
            out.put(LinearKey.of(Role.SHARED_EXPERT_GATE), router);
        }
        sums.clear();
        layer = -1;
        done(l, out, weights);
    }
}
