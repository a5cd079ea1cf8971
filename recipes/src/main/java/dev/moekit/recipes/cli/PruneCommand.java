package dev.moekit.recipes.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.pipeline.recipe.StageEntry;
import dev.moekit.toolkit.io.Json;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/**
 * {@code moekit prune}: expert pruning, optionally followed by unstructured pruning; a one-line recipe (stages
 * {@code prune} and {@code sparsify}), run by the recipe runner, so it resumes and writes provenance the same way.
 */
final class PruneCommand implements Command {
    @Override
    public String name() {
        return "prune";
    }

    @Override
    public String summary() {
        return "remove experts (STUN or a baseline), optionally then Wanda/OWL to a total sparsity";
    }

    @Override
    public String arguments() {
        return "<in> <out>";
    }

    @Override
    public Options options() {
        return Main.options(OneStepRecipe.with(
                Main.opt("method", "NAME", "stun (default), frequency, weighted_frequency, ean, reap, random, naee"),
                Main.opt("experts", "R", "fraction of routed experts to remove, e.g. 0.25"),
                Main.opt("keep", "N", "experts to keep per layer (uniform) or in total (global), instead of --experts"),
                Main.opt("allocation", "uniform|global", "same count per layer (default; loads in stock transformers) or STUN's global threshold"),
                Main.opt("distance", "router_weight|coactivation|mixed", "STUN distance (default router_weight: no calibration)"),
                Main.opt("mix-weight", "L", "lambda of the mixed STUN distance (default 1)"),
                Main.opt("then", "wanda|owl", "then prune the remaining weights unstructured"),
                Main.opt("sparsity", "S", "with --then: TOTAL sparsity of decoder Linear weights against the input, e.g. 0.4"),
                Main.opt("nm", "N:M", "with --then wanda: semi-structured N:M instead of --sparsity, e.g. 2:4")));
    }

    @Override
    public String footer() {
        return "Examples:\n  moekit prune in out --method stun --experts 0.25\n"
                + "  moekit prune in out --method reap --experts 0.5 --eval\n"
                + "  moekit prune in out --method stun --experts 0.25 --then owl --sparsity 0.4";
    }

    @Override
    public int run(CommandLine cl, PrintStream out) throws Exception {
        Path[] io = OneStepRecipe.inOut(cl);
        Path in = io[0];
        Path o = io[1];
        List<StageEntry> stages = new ArrayList<>();
        ObjectNode p = Json.PRETTY.createObjectNode();
        p.put("method", cl.getOptionValue("method", "stun"));
        if (cl.hasOption("experts")) {
            p.put("experts", Main.doubleValue(cl, "experts"));
        }
        if (cl.hasOption("keep")) {
            p.put("keep", Main.intValue(cl, "keep", 0, Integer.MIN_VALUE, Integer.MAX_VALUE));
        }
        copy(cl, p, "allocation", "allocation");
        copy(cl, p, "distance", "distance");
        if (cl.hasOption("mix-weight")) {
            p.put("mix_weight", Main.doubleValue(cl, "mix-weight"));
        }
        stages.add(new StageEntry("prune", p));
        if (cl.hasOption("then")) {
            ObjectNode s = Json.PRETTY.createObjectNode();
            s.put("method", cl.getOptionValue("then"));
            if (cl.hasOption("nm")) {
                s.put("nm", cl.getOptionValue("nm"));
            } else if (cl.hasOption("sparsity")) {
                s.put("total_sparsity", Main.doubleValue(cl, "sparsity"));
            } else {
                throw new UsageException("--then needs --sparsity (total) or --nm");
            }
            stages.add(new StageEntry("sparsify", s));
        } else if (cl.hasOption("sparsity") || cl.hasOption("nm")) {
            throw new UsageException("--sparsity and --nm need --then wanda|owl");
        }
        return OneStepRecipe.run(cl, out, in, o, stages);
    }

    private static void copy(CommandLine cl, ObjectNode p, String opt, String key) {
        if (cl.hasOption(opt)) {
            p.put(key, cl.getOptionValue(opt));
        }
    }
}
