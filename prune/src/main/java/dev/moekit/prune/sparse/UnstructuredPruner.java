package dev.moekit.prune.sparse;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.prune.stats.ActivationNorms;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.model.ModelSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * STUN stage 2: Wanda or OWL unstructured (or N:M) pruning of every Linear of every decoder layer, sequentially: layer
 * l is calibrated on inputs from the already pruned layers 0..l-1 (see {@link SequentialCalibration}), then its
 * pruned weights are handed back before layer l+1's inputs are computed. OWL first makes one dense pass to measure
 * each layer's outlier ratio. Routed experts use statistics of their routed tokens only; Linears without tokens follow
 * {@link EmptyExpertPolicy}. Shapes never change: the output is the same dense checkpoint with zeros, so the report
 * gives nominal sparsity and real bytes separately. The output carries {@value #PROVENANCE}.
 */
public final class UnstructuredPruner {
    public static final String PROVENANCE = "unstructured_pruning.json";

    private UnstructuredPruner() {}

    public static SparsityReport run(Checkpoint in, ModelSpec spec, Path out, SparsityOptions o, SequentialCalibration calib,
                                     CheckpointWriter.Options writer) {
        List<List<DecoderLinears.Linear>> linears = new ArrayList<>();
        for (int l = 0; l < spec.layers(); l++) {
            linears.add(DecoderLinears.of(in, spec, l));
        }
        double[] lod = new double[spec.layers()];
        java.util.Arrays.fill(lod, Double.NaN);
        double[] targets = new double[spec.layers()];
        java.util.Arrays.fill(targets, o.sparsity());
        if (o.method() == SparsityMethod.OWL) {
            lod = outlierRatios(in, linears, o, calib);
            targets = Owl.layerSparsities(lod, o.sparsity(), o.owlLambda());
        }
        List<TensorSpec> plan = in.names().stream().map(n -> TensorSpec.of(in.info(n))).toList();
        List<LayerSparsity> layers = new ArrayList<>();
        try (CheckpointWriter w = CheckpointWriter.create(out, plan, writer, in.dir())) {
            Set<String> written = new HashSet<>();
            try (SequentialCalibration.Pass pass = calib.open()) {
                for (int l = 0; l < spec.layers(); l++) {
                    layers.add(pruneLayer(in, l, linears.get(l), targets[l], lod[l], o, pass, w, written));
                }
            }
            for (String n : in.names()) {
                if (!written.contains(n)) {
                    w.copy(n, in.shard(n), n);
                }
            }
            w.copyOtherFiles(in);
            SparsityReport r = new SparsityReport(out, o, layers, layers.stream().mapToLong(LayerSparsity::params).sum(),
                    layers.stream().mapToLong(LayerSparsity::zeros).sum(), in.totalBytes(), in.totalBytes());
            w.writeJson(PROVENANCE, provenance(in, r));
            w.commit(in.config());
            return r;
        }
    }

    private static double[] outlierRatios(Checkpoint in, List<List<DecoderLinears.Linear>> linears, SparsityOptions o,
                                          SequentialCalibration calib) {
        double[] lod = new double[linears.size()];
        try (SequentialCalibration.Pass pass = calib.open()) {
            for (int l = 0; l < linears.size(); l++) {
                Map<LinearKey, ActivationNorms> norms = pass.observe(l);
                Owl.Outliers acc = new Owl.Outliers(o.owlM());
                for (int round = 0; round < 2; round++) {
                    for (DecoderLinears.Linear lin : linears.get(l)) {
                        ActivationNorms n = norms.get(lin.key());
                        if (!DecoderLinears.inScope(lin, o) || n == null || n.empty()) {
                            continue;
                        }
                        double[] scale = n.scale();
                        float[] wt = in.floats(lin.name());
                        for (int i = 0; i < wt.length; i++) {
                            float s = WandaMask.score(wt[i], scale, i % lin.in());
                            if (round == 0) {
                                acc.addForMean(s);
                            } else {
                                acc.addForCount(s);
                            }
                        }
                    }
                    if (round == 0) {
                        acc.fixMean();
                    }
                }
                lod[l] = acc.ratio();
                pass.advance(l);
            }
        }
        return lod;
    }

    private static LayerSparsity pruneLayer(Checkpoint in, int layer, List<DecoderLinears.Linear> linears, double target,
                                            double lod, SparsityOptions o, SequentialCalibration.Pass pass,
                                            CheckpointWriter w, Set<String> written) {
        Map<LinearKey, ActivationNorms> norms = pass.observe(layer);
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
                    pass.replace(layer, lin.key(), wt);
                }
            }
            zeros += countZeros(wt);
        }
        pass.advance(layer);
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

    private static ObjectNode provenance(Checkpoint in, SparsityReport r) {
        ObjectNode root = Json.PRETTY.createObjectNode();
        root.put("stage", "unstructured_pruning");
        root.put("input", in.dir().toString());
        root.set("options", Json.PRETTY.valueToTree(r.options()));
        root.put("denominator", "all Linear weights of decoder layers (attention, dense MLP, router, routed and shared experts)");
        root.put("linear_params", r.linearParams());
        root.put("zeros", r.zeros());
        root.put("nominal_sparsity", r.nominalSparsity());
        root.put("bytes_in", r.bytesIn());
        root.put("bytes_out", r.bytesOut());
        ArrayNode layers = root.putArray("layers");
        for (LayerSparsity l : r.layers()) {
            ObjectNode n = layers.addObject();
            n.put("layer", l.layer());
            n.put("target", l.target());
            if (!Double.isNaN(l.outlierRatio())) {
                n.put("outlier_ratio", l.outlierRatio());
            }
            n.put("sparsity", l.sparsity());
            ArrayNode s = n.putArray("dense_no_tokens");
            l.skipped().forEach(k -> s.add(k.toString()));
            ArrayNode m = n.putArray("magnitude_no_tokens");
            l.magnitude().forEach(k -> m.add(k.toString()));
        }
        return root;
    }
}
