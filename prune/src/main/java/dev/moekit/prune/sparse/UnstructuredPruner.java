package dev.moekit.prune.sparse;

import dev.moekit.eval.runtime.LayerWeights;
import dev.moekit.prune.calib.CalibratedModel;
import dev.moekit.prune.stats.ActivationNorms;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.model.ModelSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * STUN stage 2: Wanda masks on every Linear of every decoder layer at the per-layer sparsity a {@link Sparsifier}
 * sets (Wanda: uniform; OWL: from outlier ratios), or N:M. Sequential through eval's calibration
 * ({@link CalibratedModel#run} in sequential mode): layer l is observed on inputs from the already pruned layers
 * 0..l-1, its Linears are pruned, written, and replaced in the runtime's copy of the layer before layer l+1's inputs
 * are computed. Routed experts use statistics of their routed tokens only; Linears without tokens follow
 * {@link EmptyExpertPolicy}. Shapes never change: the output is the same dense checkpoint with zeros, so the report
 * gives nominal sparsity and real bytes separately.
 */
public final class UnstructuredPruner {
    private UnstructuredPruner() {}

    public static SparsityReport run(Checkpoint in, ModelSpec spec, Path out, BoundSparsifier<?> method, SparsityOptions o,
                                     CalibratedModel calib, CheckpointWriter.Options writer) {
        if (o.nmN() > 0 && !method.supportsNm()) {
            throw new IllegalArgumentException("unstructured pruning: " + method.name() + " does not prune N:M patterns"
                    + " (its layerwise ratios do not apply to N:M sparsity); use wanda");
        }
        List<List<DecoderLinears.Linear>> linears = new ArrayList<>();
        for (int l = 0; l < spec.layers(); l++) {
            linears.add(DecoderLinears.of(in, spec, l));
        }
        Sparsifier.Targets t = o.nmN() > 0 ? Sparsifier.Targets.uniform(spec.layers(), o.sparsity())
                : method.targets(o.sparsity(), new SparsifyInput(in, spec, o, linears, calib));
        if (t.sparsity().length != spec.layers()) {
            throw new IllegalStateException("sparsifier '" + method.name() + "' gave " + t.sparsity().length + " layer targets for "
                    + spec.layers() + " layers");
        }
        double[] targets = t.sparsity();
        double[] lod = t.outlierRatios();
        List<TensorSpec> plan = in.names().stream().map(n -> TensorSpec.of(in.info(n))).toList();
        LayerSparsity[] layers = new LayerSparsity[spec.layers()];
        try (CheckpointWriter w = CheckpointWriter.create(out, plan, writer, in.dir())) {
            Set<String> written = new HashSet<>();
            calib.run(new LinearInputs() {
                @Override
                void done(int layer, Map<LinearKey, ActivationNorms> norms, LayerWeights weights) {
                    layers[layer] = pruneLayer(in, layer, linears.get(layer), targets[layer], lod[layer], o, norms, weights, w, written);
                }
            }, true, false);
            for (String n : in.names()) {
                if (!written.contains(n)) {
                    w.copy(n, in.shard(n), n);
                }
            }
            w.copyOtherFiles(in);
            List<LayerSparsity> ls = Arrays.asList(layers);
            SparsityReport r = new SparsityReport(out, method.name(), method.paramsJson(), o, ls,
                    ls.stream().mapToLong(LayerSparsity::params).sum(), ls.stream().mapToLong(LayerSparsity::zeros).sum(),
                    in.totalBytes(), in.totalBytes());
            w.commit(in.config());
            return r;
        }
    }

    private static LayerSparsity pruneLayer(Checkpoint in, int layer, List<DecoderLinears.Linear> linears, double target,
                                            double lod, SparsityOptions o, Map<LinearKey, ActivationNorms> norms,
                                            LayerWeights weights, CheckpointWriter w, Set<String> written) {
        long params = 0;
        long zeros = 0;
        List<LinearKey> skipped = new ArrayList<>();
        List<LinearKey> magnitude = new ArrayList<>();
        for (DecoderLinears.Linear lin : linears) {
            params += lin.params();
            float[] wt = in.floats(lin.name());
            if (DecoderLinears.inScope(lin, o)) {
                ActivationNorms n = norms.get(lin.key());
                boolean empty = n == null || n.empty();
                if (empty && o.emptyExperts() == EmptyExpertPolicy.SKIP_DENSE) {
                    skipped.add(lin.key());
                } else {
                    if (empty) {
                        magnitude.add(lin.key());
                    }
                    double[] scale = empty ? null : n.scale();
                    if (o.nmN() > 0) {
                        WandaMask.pruneNm(wt, lin.out(), lin.in(), scale, o.nmN(), o.nmM());
                    } else {
                        WandaMask.pruneRows(wt, lin.out(), lin.in(), scale, target);
                    }
                    w.write(lin.name(), wt);
                    written.add(lin.name());
                    weights.replace(lin.key().role(), lin.key().expert(), wt);
                }
            }
            zeros += countZeros(wt);
        }
        return new LayerSparsity(layer, target, lod, params, zeros, skipped, magnitude);
    }

    private static long countZeros(float[] w) {
        long z = 0;
        for (float v : w) {
            if (v == 0f) {
                z++;
            }
        }
        return z;
    }
}
