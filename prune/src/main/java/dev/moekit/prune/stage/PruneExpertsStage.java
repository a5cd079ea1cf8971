package dev.moekit.prune.stage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.eval.Progress;
import dev.moekit.prune.calib.RuntimeStats;
import dev.moekit.prune.expert.Allocation;
import dev.moekit.prune.expert.DistanceMode;
import dev.moekit.prune.expert.ExpertMethod;
import dev.moekit.prune.expert.ExpertPruneOptions;
import dev.moekit.prune.expert.ExpertPruneReport;
import dev.moekit.prune.expert.ExpertPruner;
import dev.moekit.prune.expert.Representative;
import dev.moekit.prune.expert.ThresholdSearch;
import dev.moekit.prune.expert.TopKGuard;
import dev.moekit.prune.stats.StatsSource;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.RecordStage;
import dev.moekit.toolkit.method.StageContext;
import java.nio.file.Path;

/**
 * Recipe stage {@code prune}: remove whole experts by STUN clustering or a baseline criterion, uniformly per layer by
 * default. Calibration runs only when the method needs statistics (router-weight STUN and random need none).
 *
 * <pre>{@code
 * stages:
 *   - prune: {method: stun, experts: 0.25}             # remove 25% of the routed experts in every layer
 *   - prune: {method: reap, experts: 0.5}
 *   - prune: {method: stun, experts: 0.25, allocation: global, distance: mixed, mix_weight: 1.0}
 * }</pre>
 */
public final class PruneExpertsStage extends RecordStage<PruneExpertsStage.Parameters> {
    /**
     * @param method              stun (default), frequency, weighted_frequency, ean, reap, random, naee
     * @param experts             fraction of routed experts to remove, in [0, 1) (or give {@code keep})
     * @param keep                experts kept per layer (uniform) or in total (global), instead of {@code experts}
     * @param allocation          uniform (default: loads in stock transformers) or global (STUN: one threshold, per-layer counts)
     * @param distance            STUN distance: router_weight (default, no calibration), coactivation, mixed
     * @param divideByNorm        STUN router distance divided by the router's Frobenius norm (default true, as the reference)
     * @param mixWeight           lambda of the mixed distance (default 1)
     * @param maxPrunePerLayer    STUN's per-layer cap on removed experts (default 0: E - top_k)
     * @param search              global threshold search: bisection (default) or step (the reference's doubling/halving)
     * @param representative      nearest_to_mean (default), average, average_small_clusters, average_few_clusters
     * @param representativeParam kappa or cluster count of the averaging variants
     * @param topKGuard           what happens when a layer would keep fewer than top-k experts: error (default) or keep_top_k
     * @param naeeSamples         MoE-block input rows kept per layer for NAEE (default 2048)
     * @param naeeMaxCombinations NAEE refuses layers with more candidate kept sets (default 10000)
     */
    public record Parameters(ExpertMethod method, Double experts, Integer keep, Allocation allocation, DistanceMode distance,
                             Boolean divideByNorm, Double mixWeight, Integer maxPrunePerLayer, ThresholdSearch search,
                             Representative representative, Integer representativeParam, TopKGuard topKGuard,
                             Integer naeeSamples, Long naeeMaxCombinations) {
        public Parameters {
            method = method == null ? ExpertMethod.STUN : method;
            if ((experts == null) == (keep == null)) {
                throw new IllegalArgumentException("give exactly one of 'experts' (fraction removed) or 'keep'");
            }
            naeeSamples = naeeSamples == null ? 2048 : naeeSamples;
        }

        ExpertPruneOptions options(long seed) {
            ExpertPruneOptions.Builder b = ExpertPruneOptions.builder().optMethod(method).optSeed(seed);
            if (experts != null) {
                b.setPruneRatio(experts);
            } else {
                b.setKeep(keep);
            }
            if (allocation != null) {
                b.optAllocation(allocation);
            }
            if (distance != null) {
                b.optDistance(distance);
            }
            if (divideByNorm != null) {
                b.optDivideByNorm(divideByNorm);
            }
            if (mixWeight != null) {
                b.optMixWeight(mixWeight);
            }
            if (maxPrunePerLayer != null) {
                b.optMaxPrunePerLayer(maxPrunePerLayer);
            }
            if (search != null) {
                b.optSearch(search);
            }
            if (representative != null) {
                b.optRepresentative(representative, representativeParam == null ? 0 : representativeParam);
            }
            if (topKGuard != null) {
                b.optTopKGuard(topKGuard);
            }
            if (naeeMaxCombinations != null) {
                b.optNaeeMaxCombinations(naeeMaxCombinations);
            }
            return b.build();
        }
    }

    public PruneExpertsStage() {
        super("prune", "remove whole experts: STUN clustering or frequency, weighted_frequency, ean, reap, random, naee", Parameters.class);
    }

    @Override
    protected void validate(Parameters p) {
        p.options(0);
    }

    @Override
    protected JsonNode apply(Parameters p, Path input, Path output, StageContext ctx) {
        ExpertPruneOptions o = p.options(ctx.seed());
        StatsSource stats = StatsSource.NONE;
        ObjectNode rep = Json.PRETTY.createObjectNode();
        if (o.needsCalibration()) {
            try (CalibratedModel cm = CalibratedModel.open(input, ctx)) {
                int samples = o.method() == ExpertMethod.NAEE ? p.naeeSamples() : 0;
                RuntimeStats.Result r = RuntimeStats.collect(cm.model(), cm.batches(), cm.options(), samples, Progress.NONE);
                stats = r.stats();
                rep.set("coverage", r.coverage().toJson());
                if (r.coverage().flaggedCount() > 0) {
                    ctx.info(r.coverage().flaggedCount() + " expert(s) got fewer than " + r.coverage().threshold()
                            + " calibration tokens (see coverage in the provenance)");
                }
            }
        }
        try (Checkpoint in = Checkpoint.open(input)) {
            ExpertPruneReport r = ExpertPruner.run(in, output, o, stats);
            rep.put("method", o.method().key());
            rep.put("experts_before", r.expertsBefore());
            rep.put("experts_after", r.expertsAfter());
            rep.put("details", ExpertPruner.PROVENANCE);
            ctx.info(String.format("kept %d of %d routed experts (%s)", r.expertsAfter(), r.expertsBefore(), o.method().key()));
        }
        return rep;
    }
}
