package dev.moekit.toolkit.model;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.TensorInfo;

/**
 * Checks the counts a config states against the tensors a checkpoint holds, at parse time: per MoE layer the
 * number of routed experts (per-expert tensors, the fused tensor's first dimension, the router's rows) and the
 * expert width; per dense layer the MLP's presence and width. Shapes of everything else are {@link SpecChecker}'s job.
 */
final class TensorCounts {
    private TensorCounts() {}

    static void check(ModelSpec spec, Checkpoint c, ConfigReader cfg) {
        for (LayerSpec ls : spec.layerSpecs()) {
            if (ls.moe()) {
                checkMoe(spec, c, cfg, ls);
            } else {
                checkDense(spec, c, cfg, ls);
            }
        }
    }

    private static void checkMoe(ModelSpec spec, Checkpoint c, ConfigReader cfg, LayerSpec ls) {
        int l = ls.index();
        String key = cfg.keyOf("num_experts");
        String router = require(spec, c, Role.ROUTER, l, cfg.where() + " makes layer " + l + " a MoE layer");
        long rows = c.info(router).dim(0);
        if (spec.fusedExperts()) {
            String gu = require(spec, c, Role.EXPERTS_GATE_UP, l, cfg.where() + " makes layer " + l + " a MoE layer");
            TensorInfo t = c.info(gu);
            if (t.rank() != 3 || t.dim(0) != ls.experts()) {
                throw new CheckpointException(cfg.where() + ": " + key + " says " + ls.experts() + " experts for layer " + l
                        + " but tensor '" + gu + "' has shape " + t.shapeString());
            }
            if (t.dim(1) != 2L * ls.expertFfn()) {
                throw new CheckpointException(cfg.where() + ": " + cfg.keyOf("expert_ffn") + " says " + ls.expertFfn()
                        + " but tensor '" + gu + "' has shape " + t.shapeString() + " (expected [E, 2*ffn, hidden])");
            }
        } else {
            int held = 0;
            while (c.has(spec.name(Role.EXPERT_UP, l, held))) {
                held++;
            }
            if (held != ls.experts()) {
                String probe = spec.name(Role.EXPERT_UP, l, Math.min(held, ls.experts()));
                throw new CheckpointException(cfg.where() + ": " + key + " says " + ls.experts() + " experts for layer " + l
                        + " but the checkpoint holds " + held + " (tensor '" + probe + "' "
                        + (held < ls.experts() ? "is missing)" : "exists)"));
            }
            String up0 = spec.name(Role.EXPERT_UP, l, 0);
            if (c.info(up0).dim(0) != ls.expertFfn()) {
                throw new CheckpointException(cfg.where() + ": " + cfg.keyOf("expert_ffn") + " says " + ls.expertFfn()
                        + " but tensor '" + up0 + "' has shape " + c.info(up0).shapeString());
            }
        }
        if (rows != ls.experts()) {
            throw new CheckpointException(cfg.where() + ": " + key + " says " + ls.experts() + " experts for layer " + l
                    + " but router tensor '" + router + "' has " + rows + " rows");
        }
        if (ls.sharedExperts() > 0) {
            String up = require(spec, c, Role.SHARED_UP, l, cfg.where() + " declares shared experts");
            if (c.info(up).dim(0) != ls.sharedFfn()) {
                throw new CheckpointException(cfg.where() + ": shared expert width " + ls.sharedFfn() + " disagrees with tensor '"
                        + up + "' of shape " + c.info(up).shapeString());
            }
        }
    }

    private static void checkDense(ModelSpec spec, Checkpoint c, ConfigReader cfg, LayerSpec ls) {
        if (!spec.family().has(Role.MLP_UP)) {
            return;
        }
        String up = require(spec, c, Role.MLP_UP, ls.index(), cfg.where() + " makes layer " + ls.index() + " dense");
        if (c.info(up).dim(0) != ls.ffn()) {
            throw new CheckpointException(cfg.where() + ": " + cfg.keyOf("ffn") + " says " + ls.ffn() + " but tensor '" + up
                    + "' has shape " + c.info(up).shapeString());
        }
    }

    private static String require(ModelSpec spec, Checkpoint c, Role role, int layer, String why) {
        String n = spec.name(role, layer);
        if (!c.has(n)) {
            throw new CheckpointException(why + " but tensor '" + n + "' is missing");
        }
        return n;
    }
}
