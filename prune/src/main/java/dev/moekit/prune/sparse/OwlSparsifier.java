package dev.moekit.prune.sparse;

import dev.moekit.prune.stats.ActivationNorms;
import dev.moekit.toolkit.method.Doc;
import java.util.Map;

/**
 * Sparsifier {@code owl} (Yin et al., arXiv 2310.05175; STUN's copy): one dense calibration pass measures each
 * decoder layer's outlier ratio over its Wanda scores, and layers with more outliers get lower sparsity, the targets
 * averaging the stage's sparsity (see {@link Owl}, including how the spread shrinks for targets near 0 or 1).
 */
public final class OwlSparsifier implements Sparsifier<OwlSparsifier.Parameters> {
    /**
     * @param owlM      outlier multiple M: a score is an outlier above M times the layer's mean score (default 5, the
     *                  README runs' value; the reference's argparse default is 3)
     * @param owlLambda spread lambda: layer targets within about [S - lambda, S + lambda] (default 0.08)
     */
    public record Parameters(@Doc("outlier multiple M: scores above M x the layer mean are outliers") Double owlM,
                             @Doc("spread lambda of the layer targets around the stage sparsity") Double owlLambda) {
        public Parameters {
            owlM = owlM == null ? 5.0 : owlM;
            owlLambda = owlLambda == null ? 0.08 : owlLambda;
            if (!(owlM > 0) || !(owlLambda >= 0 && owlLambda < 0.5)) {
                throw new IllegalArgumentException("OWL needs owl_m > 0 and owl_lambda in [0, 0.5), got " + owlM + " and " + owlLambda);
            }
        }
    }

    @Override
    public String name() {
        return "owl";
    }

    @Override
    public String summary() {
        return "OWL: per-layer sparsity from the layerwise outlier ratio (one dense pass), then Wanda masks";
    }

    @Override
    public String reference() {
        return "https://arxiv.org/abs/2310.05175";
    }

    @Override
    public Class<Parameters> parameters() {
        return Parameters.class;
    }

    @Override
    public Calibration calibration() {
        return Calibration.REQUIRED;
    }

    @Override
    public Targets targets(Parameters p, double sparsity, SparsifyInput input) {
        double[] lod = outlierRatios(p, input);
        return new Targets(Owl.layerSparsities(lod, sparsity, p.owlLambda()), lod);
    }

    /** LOD of every layer over the Wanda scores of its in-scope Linears, from the dense model. */
    private static double[] outlierRatios(Parameters p, SparsifyInput input) {
        double[] lod = new double[input.layers()];
        input.densePass((layer, norms) -> lod[layer] = outlierRatio(p, input, layer, norms));
        return lod;
    }

    private static double outlierRatio(Parameters p, SparsifyInput input, int layer, Map<LinearKey, ActivationNorms> norms) {
        Owl.Outliers acc = new Owl.Outliers(p.owlM());
        for (int round = 0; round < 2; round++) {
            for (DecoderLinears.Linear lin : input.linears(layer)) {
                ActivationNorms n = norms.get(lin.key());
                if (!input.inScope(lin) || n == null || n.empty()) {
                    continue;
                }
                double[] scale = n.scale();
                float[] wt = input.checkpoint().floats(lin.name());
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
        return acc.ratio();
    }
}
