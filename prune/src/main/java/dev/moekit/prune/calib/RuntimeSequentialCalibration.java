package dev.moekit.prune.calib;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.ForwardObserver;
import dev.moekit.eval.runtime.TokenBatch;
import dev.moekit.prune.sparse.LinearKey;
import dev.moekit.prune.sparse.SequentialCalibration;
import dev.moekit.prune.stats.ActivationNorms;
import dev.moekit.toolkit.model.Role;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@link SequentialCalibration} on the eval runtime: a {@link dev.moekit.eval.runtime.Pass} observes layer l (per-Linear input sums of squares;
 * routed experts see only their routed rows), the pruner replaces weights in the runtime's copy of the layer, then
 * the pass advances through the edited layer. The shared-expert gate reads the same input as the router and reuses its
 * statistics; Linears the runtime does not report (multi-head latent attention) come back absent. Calibration windows
 * are full length, so every row is a real token.
 */
public final class RuntimeSequentialCalibration implements SequentialCalibration {
    private static final Set<Role> OBSERVED = Set.of(Role.Q, Role.K, Role.V, Role.O, Role.MLP_GATE, Role.MLP_UP,
            Role.MLP_DOWN, Role.ROUTER, Role.EXPERT_GATE, Role.EXPERT_UP, Role.EXPERT_DOWN, Role.SHARED_GATE,
            Role.SHARED_UP, Role.SHARED_DOWN);

    private final CausalLm model;
    private final List<TokenBatch> batches;

    public RuntimeSequentialCalibration(CausalLm model, List<TokenBatch> batches) {
        this.model = model;
        this.batches = List.copyOf(batches);
    }

    @Override
    public SequentialCalibration.Pass open() {
        dev.moekit.eval.runtime.Pass pass = model.begin(batches);
        return new SequentialCalibration.Pass() {
            @Override
            public Map<LinearKey, ActivationNorms> observe(int layer) {
                check(pass, layer);
                Map<LinearKey, ActivationNorms.Builder> sums = new HashMap<>();
                pass.observe(new ForwardObserver() {
                    @Override
                    public boolean observes(int l) {
                        return l == layer;
                    }

                    @Override
                    public Set<Role> linearInputs() {
                        return OBSERVED;
                    }

                    @Override
                    public void linearInput(int l, Role role, int expert, NDArray input) {
                        long rows = input.getShape().get(0);
                        float[] s = input.toType(DataType.FLOAT32, false).square().sum(new int[] {0}).toFloatArray();
                        sums.computeIfAbsent(new LinearKey(role, expert), k -> new ActivationNorms.Builder(s.length)).addSums(s, rows);
                    }
                });
                Map<LinearKey, ActivationNorms> out = new HashMap<>();
                sums.forEach((k, b) -> out.put(k, b.build()));
                ActivationNorms router = out.get(LinearKey.of(Role.ROUTER));
                if (router != null) {
                    out.put(LinearKey.of(Role.SHARED_EXPERT_GATE), router);
                }
                return out;
            }

            @Override
            public void replace(int layer, LinearKey key, float[] weight) {
                check(pass, layer);
                pass.layer().replace(key.role(), key.expert(), weight);
            }

            @Override
            public void advance(int layer) {
                check(pass, layer);
                pass.advance(ForwardObserver.NONE);
            }

            @Override
            public void close() {
                pass.close();
            }
        };
    }

    private static void check(dev.moekit.eval.runtime.Pass pass, int layer) {
        if (pass.nextLayer() != layer) {
            throw new IllegalStateException("calibration pass is at layer " + pass.nextLayer() + ", asked for " + layer);
        }
    }
}
