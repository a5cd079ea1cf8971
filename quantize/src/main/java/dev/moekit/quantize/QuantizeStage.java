package dev.moekit.quantize;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.eval.CalibrationOptions;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.method.RecordStage;
import dev.moekit.toolkit.method.StageContext;
import dev.moekit.toolkit.select.Selector;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Recipe stage {@code quantize}: RTN or GPTQ weight quantization with per-module bits, written as fake-quant,
 * compressed-tensors {@code pack-quantized} or GPTQ. Example:
 * <pre>
 * - quantize: {method: gptq, format: compressed-tensors, bits: 4, group_size: 128,
 *              rules: [{targets: ["kind:attention"], bits: 4}], average_bits: 3.0}
 * </pre>
 */
public final class QuantizeStage extends RecordStage<QuantizeStage.Parameters> {
    /**
     * One fixed-bits rule.
     *
     * @param targets selector entries (exact names, {@code re:}, {@code kind:}, {@code role:})
     * @param ignore  selector entries excluded from the rule
     * @param bits    2, 3, 4, 8 or 16 (keep)
     */
    public record Rule(List<String> targets, List<String> ignore, int bits) {
        public Rule {
            targets = targets == null ? List.of() : List.copyOf(targets);
            ignore = ignore == null ? List.of() : List.copyOf(ignore);
        }
    }

    /**
     * @param method            rtn (default) or gptq
     * @param format            fake-quant, compressed-tensors (default) or gptq
     * @param bits              default bits (4)
     * @param groupSize         group size, 0 per channel (128)
     * @param symmetric         symmetric grid (true)
     * @param targets           modules considered (default attention, dense MLPs, routed and shared experts)
     * @param ignore            modules excluded
     * @param rules             fixed bits by selector, first match wins
     * @param averageBits       budget: average stored bits per quantized weight; null = no solver
     * @param candidateBits     widths the solver may use ([2, 3, 4, 8])
     * @param quantmoe          QuantMoE-Bench heuristic instead of the solver: "high/low", e.g. "4/2"
     * @param uniformExpertBits one scheme for all experts of a layer (default: on for packed formats)
     * @param dampPercent       GPTQ damping (0.01)
     * @param actOrder          GPTQ activation order (false)
     * @param minTokens         GPTQ falls back to RTN below this many calibration tokens (128)
     * @param maxShardBytes     output shard size (5e9)
     */
    public record Parameters(String method, String format, Integer bits, Integer groupSize, Boolean symmetric,
                             List<String> targets, List<String> ignore, List<Rule> rules, Double averageBits,
                             List<Integer> candidateBits, String quantmoe, Boolean uniformExpertBits, Double dampPercent,
                             Boolean actOrder, Long minTokens, Long maxShardBytes) {
        public Parameters {
            // validated by QuantizeStage.validate once bound: options() reads the fields, which a compact
            // constructor assigns only after its body
        }

        QuantOptions options() {
            Format f = switch (format == null ? "compressed-tensors" : format.toLowerCase(Locale.ROOT)) {
                case "fake-quant", "fake_quant", "fake" -> Format.FAKE_QUANT;
                case "compressed-tensors", "compressed_tensors" -> Format.COMPRESSED_TENSORS;
                case "gptq" -> Format.GPTQ;
                default -> throw new IllegalArgumentException("quantize.format: '" + format + "' (expected fake-quant, compressed-tensors or gptq)");
            };
            Method m = switch (method == null ? "rtn" : method.toLowerCase(Locale.ROOT)) {
                case "rtn" -> Method.RTN;
                case "gptq" -> Method.GPTQ;
                default -> throw new IllegalArgumentException("quantize.method: '" + method + "' (expected rtn or gptq)");
            };
            QuantOptions o = QuantOptions.defaults(f).withMethod(m)
                    .withScheme(new QuantScheme(bits == null ? 4 : bits, groupSize == null ? 128 : groupSize, symmetric == null || symmetric))
                    .withSelector(new Selector(targets == null ? QuantOptions.DEFAULT_TARGETS : targets, ignore == null ? List.of() : ignore))
                    .withRules(rules == null ? List.of() : rules.stream().map(r -> new BitRule(new Selector(r.targets(), r.ignore()), r.bits())).toList())
                    .withUniformExpertBits(uniformExpertBits == null ? f.packed() : uniformExpertBits)
                    .withGptq(new QuantOptions.GptqOptions(dampPercent == null ? 0.01 : dampPercent, actOrder != null && actOrder, 128,
                            minTokens == null ? 128 : minTokens))
                    .withWriter(CheckpointWriter.Options.defaults().withMaxShardSize(maxShardBytes == null ? CheckpointWriter.DEFAULT_MAX_SHARD : maxShardBytes));
            if (averageBits != null && quantmoe != null) {
                throw new IllegalArgumentException("quantize: give average_bits (solver) or quantmoe (heuristic), not both");
            }
            if (averageBits != null) {
                o = o.withAllocation(new Allocation.Budget(averageBits, candidateBits == null ? List.of(2, 3, 4, 8) : candidateBits));
            } else if (quantmoe != null) {
                String[] hl = quantmoe.split("/");
                if (hl.length != 2) {
                    throw new IllegalArgumentException("quantize.quantmoe: '" + quantmoe + "' (expected high/low bits, e.g. 4/2)");
                }
                o = o.withAllocation(Allocation.QuantMoe.attentionAndShared(Integer.parseInt(hl[0].trim()), Integer.parseInt(hl[1].trim())));
            }
            return o;
        }
    }

    public QuantizeStage() {
        super("quantize", "RTN/GPTQ weight quantization with per-module bits (fake-quant, compressed-tensors, GPTQ)", Parameters.class);
    }

    @Override
    protected void validate(Parameters p) {
        p.options();
    }

    @Override
    protected JsonNode apply(Parameters p, Path input, Path output, StageContext context) {
        QuantOptions opts = p.options();
        try (Checkpoint in = Checkpoint.open(input)) {
            if (opts.method() == Method.GPTQ && context.calibration() != null) {
                CalibrationOptions base = CalibrationOptions.of(context.calibration());
                CalibrationOptions co = new CalibrationOptions(base.files(), base.window(), base.windowsPerFile(), base.allExperts(), true,
                        opts.gptq().minTokens());
                RuntimeOptions ro = new RuntimeOptions(RuntimeOptions.parseDevice(context.device()), RuntimeOptions.cpu().precision(), false, RuntimeOptions.cpu().batchSize());
                CalibratedGptq.Result r = CalibratedGptq.run(in, output, opts, co, ro, (stage, done, total) -> context.info(stage + " " + done + "/" + total));
                return r.report().toJson();
            }
            return Quantizer.run(in, output, opts, null).toJson();
        }
    }
}
