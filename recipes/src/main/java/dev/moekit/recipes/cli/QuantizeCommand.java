package dev.moekit.recipes.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.pipeline.recipe.StageEntry;
import dev.moekit.toolkit.io.Json;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/** {@code moekit quantize}: a one-stage recipe around the {@code quantize} stage. */
final class QuantizeCommand implements Command {
    @Override
    public String name() {
        return "quantize";
    }

    @Override
    public String summary() {
        return "RTN/GPTQ weight quantization, mixed precision per module, packed for vLLM (compressed-tensors) or GPTQ";
    }

    @Override
    public String arguments() {
        return "<in> <out>";
    }

    @Override
    public Options options() {
        return Main.options(OneStepRecipe.with(
                Main.opt("method", "rtn|gptq", "quantizer (default rtn; gptq calibrates layer by layer)"),
                Main.opt("format", "FORMAT", "compressed-tensors (default, vLLM), gptq (GPTQModel dynamic), fake-quant (dequantized, for eval)"),
                Main.opt("bits", "B", "default bit width: 2 to 8 (default 4; the gptq format holds 2, 3, 4, 8)"),
                Main.opt("group-size", "G", "group size 32, 64, 128 (default) or 0 for per channel"),
                Main.flag("asym", "asymmetric grid (zero points) instead of symmetric"),
                Main.opt("scheme", "SCHEME", "the default scheme in one, instead of --bits/--group-size/--asym: e.g. int3/g64/asym, "
                        + "a k-quant with quantized sub-block scales (fake-quant only): q2_k, q3_k, q4_k, q5_k, q6_k, int2/g16/asym/k4, "
                        + "or a codebook of 2- or 4-weight vectors per tile of columns (GPTVQ, fake-quant only): int2/channel/vq2, int2/g128/vq2, int2/channel/vq4"),
                Main.flag("clip-search", "search each group's clipping range for the least rounding error (Hessian-weighted with gptq)"),
                Main.flag("refit", "gptq: refit each group's scale (and minimum) to GPTQ's codes for the least Hessian-weighted error"),
                Main.opt("gptq-device", "auto|host|runtime", "gptq: where Hessians and the column loop run (default auto: the --device GPU, else host; runtime: the --device, CPU included)"),
                Main.flag("importance", "rtn: weight that search by calibration activations' E[x^2] per input (llama.cpp imatrix; calibrates)"),
                Option.builder().longOpt("rule").hasArgs().argName("SELECTOR=BITS").desc("fixed bits for matching modules, first match wins, "
                        + "e.g. kind:attention=4 're:.*experts\\.0\\..*=8' (16 keeps a module unquantized)").get(),
                Main.opt("average-bits", "B", "budget solver: average stored bits per quantized weight, e.g. 3.0 or 2.5"),
                Main.opt("candidate-schemes", "LIST", "budget solver: comma-separated schemes it may pick from, e.g. "
                        + "int2/g64/asym,int3/g128/sym,int4/g128/sym,int8/g128/sym (default: 2, 3, 4, 8 bits at the default scheme)"),
                Main.opt("proxy", "PROXY", "budget solver's error proxy: output (default, measured on calibration text), imatrix, hessian, gptq, weight (no calibration)"),
                Main.opt("quantmoe", "HIGH/LOW", "QuantMoE-Bench heuristic instead of the solver, e.g. 4/2"),
                Main.opt("mixture", "HIGH", "llama.cpp-style mixture: attention V and FFN down projections at HIGH bits in about half the layers, e.g. 6")));
    }

    @Override
    public String footer() {
        return "Routers and shared-expert gates are never quantized; embeddings, norms and lm_head are kept by default.\n"
                + "Examples:\n  moekit quantize in out --bits 4\n"
                + "  moekit quantize in out --method gptq --rule kind:attention=4 --average-bits 3.0\n"
                + "  moekit quantize in out --format fake-quant --bits 3 --group-size 64 --eval\n"
                + "  moekit quantize in out --format fake-quant --scheme q4_k --importance --eval";
    }

    @Override
    public int run(CommandLine cl, PrintStream out) throws Exception {
        Path[] io = OneStepRecipe.inOut(cl);
        Path in = io[0];
        Path o = io[1];
        ObjectNode p = Json.PRETTY.createObjectNode();
        p.put("method", cl.getOptionValue("method", "rtn"));
        p.put("format", cl.getOptionValue("format", "compressed-tensors"));
        if (cl.hasOption("bits")) {
            p.put("bits", Main.intValue(cl, "bits", 0, Integer.MIN_VALUE, Integer.MAX_VALUE));
        }
        if (cl.hasOption("group-size")) {
            p.put("group_size", Main.intValue(cl, "group-size", 0, Integer.MIN_VALUE, Integer.MAX_VALUE));
        }
        if (cl.hasOption("asym")) {
            p.put("symmetric", false);
        }
        if (cl.hasOption("scheme")) {
            p.put("scheme", cl.getOptionValue("scheme"));
        }
        if (cl.hasOption("refit")) {
            p.put("refit", true);
        }
        if (cl.hasOption("clip-search")) {
            p.put("clip_search", true);
        }
        if (cl.hasOption("importance")) {
            p.put("importance", true);
        }
        if (cl.hasOption("gptq-device")) {
            p.put("gptq_device", cl.getOptionValue("gptq-device"));
        }
        if (cl.hasOption("rule")) {
            ArrayNode rules = p.putArray("rules");
            for (String r : cl.getOptionValues("rule")) {
                int eq = r.lastIndexOf('=');
                if (eq <= 0) {
                    throw new UsageException("--rule needs SELECTOR=BITS, got '" + r + "'");
                }
                ObjectNode rule = rules.addObject();
                rule.putArray("targets").add(r.substring(0, eq));
                try {
                    rule.put("bits", Integer.parseInt(r.substring(eq + 1).trim()));
                } catch (NumberFormatException e) {
                    throw new UsageException("--rule needs SELECTOR=BITS with integer bits, got '" + r + "'");
                }
            }
        }
        if (cl.hasOption("average-bits")) {
            p.put("average_bits", Main.doubleValue(cl, "average-bits"));
        }
        if (cl.hasOption("candidate-schemes")) {
            for (String s : cl.getOptionValue("candidate-schemes").split(",")) {
                p.withArray("candidate_schemes").add(s.trim());
            }
        }
        if (cl.hasOption("proxy")) {
            p.put("proxy", cl.getOptionValue("proxy"));
        }
        if (cl.hasOption("mixture")) {
            p.put("mixture", Main.intValue(cl, "mixture", 0, Integer.MIN_VALUE, Integer.MAX_VALUE));
        }
        if (cl.hasOption("quantmoe")) {
            p.put("quantmoe", cl.getOptionValue("quantmoe"));
        }
        return OneStepRecipe.run(cl, out, in, o, List.of(new StageEntry("quantize", p)));
    }
}
