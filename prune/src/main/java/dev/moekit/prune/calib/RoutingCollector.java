package dev.moekit.prune.calib;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.moekit.eval.CalibrationObserver;
import dev.moekit.prune.stats.MoeBlockSamples;
import dev.moekit.prune.stats.RoutingStats;
import dev.moekit.toolkit.model.LayerSpec;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * Fills {@link RoutingStats} from the runtime's hooks with the model's own routing: per real token, the chosen experts
 * and applied gate weights from the router hook, and ||f_j(x)||_2 of each chosen expert's output (before gating) from
 * the expert hook. Optionally keeps up to {@code maxSamples} MoE-block inputs (the router's input) per layer for NAEE.
 */
final class RoutingCollector implements CalibrationObserver {
    private final ModelSpec spec;
    private final Map<Integer, RoutingStats.Accumulator> acc = new HashMap<>();
    private final Map<Integer, float[]> samples = new HashMap<>();
    private final Map<Integer, Integer> sampleRows = new HashMap<>();
    private final int maxSamples;
    private boolean[] real;          // [N] of the current step
    private long[] idx;              // [N * k] chosen experts of the current layer step
    private float[] gates;           // [N * k]
    private float[][] norms;         // [E][N] output norms of the current layer step, NaN where unseen

    RoutingCollector(ModelSpec spec, int maxSamples) {
        this.spec = spec;
        this.maxSamples = maxSamples;
        for (int l = 0; l < spec.layers(); l++) {
            LayerSpec ls = spec.layer(l);
            if (ls.moe() && ls.experts() > 0) {
                acc.put(l, RoutingStats.accumulator(l, ls.experts(), ls.topK()));
            }
        }
    }

    @Override
    public boolean observes(int layer) {
        return acc.containsKey(layer);
    }

    @Override
    public Set<Role> linearInputs() {
        return maxSamples > 0 ? Set.of(Role.ROUTER) : Set.of();
    }

    @Override
    public void tokenMask(NDArray mask) {
        real = mask.toBooleanArray();
    }

    @Override
    public void router(int layer, RouterOutput r) {
        idx = r.topIndices().toType(DataType.INT64, false).toLongArray();
        gates = r.topWeights().toType(DataType.FLOAT32, false).toFloatArray();
        norms = new float[spec.layer(layer).experts()][real.length];
        for (float[] n : norms) {
            Arrays.fill(n, Float.NaN);
        }
    }

    @Override
    public void expert(int layer, int expert, NDArray tokens, NDArray input, NDArray output) {
        long[] rows = tokens.toType(DataType.INT64, false).toLongArray();
        float[] n = output.toType(DataType.FLOAT32, false).square().sum(new int[] {1}).sqrt().toFloatArray();
        for (int i = 0; i < rows.length; i++) {
            norms[expert][(int) rows[i]] = n[i];
        }
    }

    @Override
    public void linearInput(int layer, Role role, int expert, NDArray input) {
        if (role != Role.ROUTER || maxSamples <= 0) {
            return;
        }
        int h = spec.hidden();
        float[] x = input.toType(DataType.FLOAT32, false).toFloatArray();
        int have = sampleRows.getOrDefault(layer, 0);
        float[] buf = samples.computeIfAbsent(layer, k -> new float[maxSamples * h]);
        for (int t = 0; t < x.length / h && have < maxSamples; t++) {
            if (real[t]) {
                System.arraycopy(x, t * h, buf, have * h, h);
                have++;
            }
        }
        sampleRows.put(layer, have);
    }

    @Override
    public void layerOutput(int layer, NDArray hidden) {
        int k = spec.layer(layer).topK();
        RoutingStats.Accumulator a = acc.get(layer);
        int[] chosen = new int[k];
        double[] g = new double[k];
        double[] n = new double[k];
        for (int t = 0; t < real.length; t++) {
            if (!real[t]) {
                continue;
            }
            boolean allNorms = true;
            for (int j = 0; j < k; j++) {
                chosen[j] = (int) idx[t * k + j];
                g[j] = gates[t * k + j];
                n[j] = norms[chosen[j]][t];
                allNorms &= !Float.isNaN((float) n[j]);
            }
            a.add(chosen, g, allNorms ? n : null);
        }
        idx = null;
        gates = null;
        norms = null;
    }

    Map<Integer, RoutingStats> stats() {
        Map<Integer, RoutingStats> m = new HashMap<>();
        acc.forEach((l, a) -> m.put(l, a.build()));
        return m;
    }

    Map<Integer, MoeBlockSamples> samples() {
        Map<Integer, MoeBlockSamples> m = new HashMap<>();
        samples.forEach((l, buf) -> m.put(l, new MoeBlockSamples(l, spec.hidden(),
                Arrays.copyOf(buf, sampleRows.get(l) * spec.hidden()), null)));
        return m;
    }
}
