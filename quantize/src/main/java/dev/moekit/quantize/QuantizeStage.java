package dev.moekit.quantize;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.eval.CalibrationOptions;
import dev.moekit.eval.CoverageReport;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.pipeline.stage.Layout;
import dev.moekit.pipeline.stage.Plan;
import dev.moekit.pipeline.stage.PlanInput;
import dev.moekit.pipeline.stage.CommitContext;
import dev.moekit.pipeline.stage.SingleUnitStage;
import dev.moekit.pipeline.stage.StageContext;
import dev.moekit.pipeline.stage.StageType;
import dev.moekit.pipeline.stage.TensorUnits;
import dev.moekit.pipeline.stage.UnitContext;
import dev.moekit.pipeline.stage.WorkUnit;
import dev.moekit.toolkit.linalg.Linalg;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.function.Predicate;
import java.util.stream.IntStream;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.method.Doc;
import dev.moekit.toolkit.method.Methods;
import dev.moekit.toolkit.method.ParamInfo;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.select.Selector;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * Recipe stage {@code quantize}: weight quantization with per-module bits, by any registered {@link WeightQuantizer}
 * (RTN, GPTQ), {@link BitAllocator} (uniform, the budget solver, the QuantMoE-Bench heuristic) and
 * {@link PackedFormat} (compressed-tensors {@code pack-quantized}, GPTQ, fake-quant). Example:
 * <pre>
 * - quantize: {method: gptq, format: compressed-tensors, bits: 4, group_size: 128,
 *              rules: [{targets: ["kind:attention"], bits: 4}], average_bits: 3.0}
 * </pre>
 * The plan is made from metadata alone: the output tensors as the format plans them and {@code config.json} with its
 * {@code quantization_config}; exact unless the bits are chosen from the weights (the budget solver). The report
 * (kept in the provenance) is the {@link QuantReport} plus the checkpoint sizes, the fallbacks with their reasons and
 * a {@code summary} of lines to print.
 */
public final class QuantizeStage implements StageType<QuantizeStage.Parameters> {
    static final String SEQUENTIAL = "sequential";
    static final String ORIGINAL = "original";
    /** Unit of the whole checkpoint (bits chosen from all weights: the budget solver). */
    static final String ALL = "all";
    /** Unit that writes the original model's activations for {@code inputs: original}. */
    static final String INPUTS = "inputs";
    private static final String HIDDEN = "hidden.bin";
    private static final String CHECKPOINT = "checkpoint";

    /** The stage keys handed to the weight quantizer's own parameters, when it has them. */
    static final List<String> METHOD_KEYS = List.of("damp_percent", "act_order", "min_tokens", "all_experts", "clip_search", "importance", "gptq_device", "refit");

    /**
     * One fixed-bits rule.
     *
     * @param targets selector entries (exact names, {@code re:}, {@code kind:}, {@code role:})
     * @param ignore  selector entries excluded from the rule
     * @param bits    2 to 8 or 16 (keep)
     */
    public record Rule(@Doc("selector entries the rule applies to (exact names, re:, kind:, role:)") List<String> targets,
                       @Doc("selector entries excluded from the rule") List<String> ignore,
                       @Doc("2 to 8, or 16 to keep the modules unquantized") int bits) {
        public Rule {
            targets = targets == null ? List.of() : List.copyOf(targets);
            ignore = ignore == null ? List.of() : List.copyOf(ignore);
        }
    }

    /**
     * The recipe keys, defaults resolved. Names are looked up in the registry (case and {@code -}/{@code _} ignored),
     * so an unknown {@code method} or {@code format} fails listing the known ones.
     *
     * @param method            weight quantizer ({@code rtn}, {@code gptq})
     * @param format            output format ({@code compressed-tensors}, {@code gptq}, {@code fake-quant})
     * @param bits              default bits
     * @param groupSize         group size, 0 per channel
     * @param symmetric         symmetric grid
     * @param targets           modules considered
     * @param ignore            modules excluded
     * @param rules             fixed bits by selector, first match wins
     * @param averageBits       budget: average stored bits per quantized weight; null = no solver
     * @param candidateBits     widths the solver may use (with {@code averageBits})
     * @param proxy             the solver's error proxy (with {@code averageBits}): {@code auto}/{@code output}
     *                          (measured on calibration), {@code imatrix}, {@code hessian}, {@code gptq}, {@code weight}
     * @param candidateSchemes  whole schemes the solver may use instead of {@code candidateBits}, e.g.
     *                          {@code int2/g64/asym} (with {@code averageBits})
     * @param quantmoe          QuantMoE-Bench heuristic instead of the solver: "high/low", e.g. "4/2"
     * @param mixture           llama.cpp-style per-role mixture ({@code MixtureAllocator}): the bits of attention V and
     *                          the FFN down projections in about half the layers, e.g. 6 with {@code bits: 4}
     * @param uniformExpertBits one scheme for all experts of a layer
     * @param dampPercent       GPTQ damping (methods that take it; null otherwise)
     * @param actOrder          GPTQ activation order (methods that take it; null otherwise)
     * @param minTokens         GPTQ falls back to RTN below this many calibration tokens (methods that take it)
     * @param allExperts        GPTQ on MoE models: every expert's Hessian from every token (default true)
     * @param clipSearch        grids searched for the least (weighted) rounding error instead of min-max (rtn, gptq)
     * @param importance        RTN's search weighted by calibration E[x^2] per input column (rtn; calibrates)
     * @param gptqDevice        where GPTQ accumulates Hessians and runs: {@code auto} (the runtime's device when it is a
     *                          GPU, else the host), {@code host}, {@code runtime} (gptq)
     * @param refit             GPTQ's grids refitted to its codes (gptq)
     * @param maxShardBytes     output shard size
     */
    public record Parameters(
            @Doc("weight quantizer: rtn (data-free) or gptq (calibrates layer by layer)") String method,
            @Doc("output format: compressed-tensors (vLLM), gptq (GPTQModel) or fake-quant (dequantized)") String format,
            @Doc("default bit width: 2 to 8 (the gptq format holds 2, 3, 4, 8)") Integer bits,
            @Doc("group size along the input dimension, 0 for one group per output channel") Integer groupSize,
            @Doc("symmetric grid (false: asymmetric, with zero points)") Boolean symmetric,
            @Doc("the default scheme as one string, instead of bits/group_size/symmetric: e.g. int3/g64/asym, int2/g16/asym/k4 "
                    + "(quantized sub-block scales, fake-quant only) or a GGUF type q2_k, q3_k, q4_k, q5_k, q6_k, q4_0, q5_0, q8_0") String scheme,
            @Doc("modules considered, as selector entries (exact names, re:, kind:, role:)") List<String> targets,
            @Doc("modules excluded, as selector entries") List<String> ignore,
            @Doc("fixed bits by selector, first match wins: [{targets, ignore, bits}]") List<Rule> rules,
            @Doc("budget solver: average stored bits per quantized weight (scales included), e.g. 3.0") Double averageBits,
            @Doc("bit widths the budget solver may use (with average_bits)") List<Integer> candidateBits,
            @Doc("budget solver's error proxy (with average_bits): auto/output (measured layer-output change, needs calibration), imatrix, hessian, gptq, or weight (no calibration)") String proxy,
            @Doc("whole schemes the budget solver may use instead of candidate_bits, so it picks group size and symmetry too, e.g. [int2/g64/asym, int3/g128/sym, int4/g128/sym, int8/g128/sym] (with average_bits)") List<String> candidateSchemes,
            @Doc("QuantMoE-Bench heuristic instead of the solver: \"high/low\" bits, attention and shared experts high, e.g. \"4/2\"") String quantmoe,
            @Doc("llama.cpp-style per-role mixture: these bits for attention V and FFN down projections in about half the layers (use_more_bits), the default bits elsewhere, e.g. 6") Integer mixture,
            @Doc("one scheme for all routed experts of a layer, as fused MoE kernels need (default: on for packed formats)") Boolean uniformExpertBits,
            @Doc("GPTQ damping, fraction of the mean Hessian diagonal (method gptq)") Double dampPercent,
            @Doc("GPTQ activation order, desc_act (method gptq)") Boolean actOrder,
            @Doc("modules with fewer calibration tokens fall back to RTN (method gptq)") Long minTokens,
            @Doc("MoE: calibrate every routed expert on every token, as llm-compressor does (method gptq; default true)") Boolean allExperts,
            @Doc("search each group's clipping range for the least rounding error, weighted by the Hessian diagonal for gptq (rtn, gptq; default false)") Boolean clipSearch,
            @Doc("rtn: weight that search by calibration activations' E[x^2] per input column, llama.cpp's imatrix (calibrates; default false)") Boolean importance,
            @Doc("gptq: where Hessians accumulate and the column loop runs: auto (the runtime device if it is a GPU, else host; default), host, or runtime (the runtime device, CPU included)") dev.moekit.quantize.method.GptqDevice gptqDevice,
            @Doc("gptq: refit each group's scale (and minimum) to the codes GPTQ chose, for the least Hessian-weighted error of the row (default false)") Boolean refit,
            @Doc("largest output shard in bytes") Long maxShardBytes,
            @Doc("decoder layers per work unit (batch jobs; the output is the same for any value)") Integer layersPerUnit,
            @Doc("gptq calibration inputs: sequential (each layer sees the quantized earlier layers' outputs; units run in layer order) "
                    + "or original (every layer sees the original model's activations; layer units are independent)") String inputs) {
        public Parameters {
            layersPerUnit = layersPerUnit == null ? 8 : layersPerUnit;
            if (layersPerUnit < 1) {
                throw new IllegalArgumentException("layers_per_unit must be at least 1, got " + layersPerUnit);
            }
            inputs = inputs == null ? SEQUENTIAL : inputs.trim().toLowerCase(Locale.ROOT);
            if (!inputs.equals(SEQUENTIAL) && !inputs.equals(ORIGINAL)) {
                throw new IllegalArgumentException("inputs: '" + inputs + "' (expected sequential or original)");
            }
            WeightQuantizer<?> q = named("method", method == null ? "rtn" : method, WeightQuantizer::named);
            method = q.name();
            PackedFormat f = named("format", format == null ? "compressed-tensors" : format, PackedFormat::named);
            format = f.name();
            int scaleBits = 0;
            int vectorDim = 0;
            if (scheme != null) { // bits/group_size/symmetric may repeat it (as the stage's own params do), never contradict it
                QuantScheme parsed = QuantScheme.parse("scheme", scheme);
                if (bits != null && bits != parsed.bits() || groupSize != null && groupSize != parsed.groupSize()
                        || symmetric != null && symmetric != parsed.symmetric()) {
                    throw new IllegalArgumentException("scheme '" + scheme + "' is " + parsed + ": give scheme or bits/group_size/symmetric, not both");
                }
                bits = parsed.bits();
                groupSize = parsed.groupSize();
                symmetric = parsed.symmetric();
                scaleBits = parsed.scaleBits();
                vectorDim = parsed.vectorDim();
                scheme = parsed.toString();
            }
            bits = bits == null ? 4 : bits;
            checkBits("bits", bits, false);
            groupSize = groupSize == null ? 128 : groupSize;
            if (groupSize < 0) {
                throw new IllegalArgumentException("group_size must be 0 (one group per output channel) or positive, got " + groupSize);
            }
            symmetric = symmetric == null || symmetric;
            QuantScheme base = new QuantScheme(bits, groupSize, symmetric, scaleBits, vectorDim);
            targets = targets == null ? QuantOptions.DEFAULT_TARGETS : List.copyOf(targets);
            ignore = ignore == null ? List.of() : List.copyOf(ignore);
            rules = rules == null ? List.of() : List.copyOf(rules);
            for (int i = 0; i < rules.size(); i++) {
                checkBits("rules[" + i + "].bits", rules.get(i).bits(), true);
            }
            if ((averageBits != null ? 1 : 0) + (quantmoe != null ? 1 : 0) + (mixture != null ? 1 : 0) > 1) {
                throw new IllegalArgumentException("give one of average_bits (budget solver), quantmoe (heuristic) or mixture (per-role), not several");
            }
            if (candidateBits != null && averageBits == null) {
                throw new IllegalArgumentException("candidate_bits are the budget solver's widths: give average_bits too");
            }
            if (candidateSchemes != null && averageBits == null) {
                throw new IllegalArgumentException("candidate_schemes are the budget solver's schemes: give average_bits too");
            }
            if (candidateSchemes != null && candidateBits != null) {
                throw new IllegalArgumentException("give candidate_bits or candidate_schemes, not both");
            }
            if (proxy != null && averageBits == null) {
                throw new IllegalArgumentException("proxy is the budget solver's error proxy: give average_bits too");
            }
            uniformExpertBits = uniformExpertBits == null ? f.packed() : uniformExpertBits;
            maxShardBytes = maxShardBytes == null ? CheckpointWriter.DEFAULT_MAX_SHARD : maxShardBytes;
            if (maxShardBytes <= 0) {
                throw new IllegalArgumentException("max_shard_bytes must be positive, got " + maxShardBytes);
            }
            BoundQuantizer<?> bq = bindQuantizer(q, dampPercent, actOrder, minTokens, allExperts, clipSearch, importance, gptqDevice, refit);
            ObjectNode mp = bq.paramsJson();
            dampPercent = mp.hasNonNull("damp_percent") ? mp.get("damp_percent").doubleValue() : null;
            actOrder = mp.hasNonNull("act_order") ? mp.get("act_order").booleanValue() : null;
            minTokens = mp.hasNonNull("min_tokens") ? mp.get("min_tokens").longValue() : null;
            allExperts = mp.hasNonNull("all_experts") ? mp.get("all_experts").booleanValue() : null;
            clipSearch = mp.hasNonNull("clip_search") ? mp.get("clip_search").booleanValue() : null;
            importance = mp.hasNonNull("importance") ? mp.get("importance").booleanValue() : null;
            refit = mp.hasNonNull("refit") ? mp.get("refit").booleanValue() : null;
            gptqDevice = mp.hasNonNull("gptq_device") ? dev.moekit.quantize.method.GptqDevice.valueOf(mp.get("gptq_device").asText().toUpperCase(Locale.ROOT)) : null;
            BoundAllocator<?> ba = bindAllocation(averageBits, candidateBits, candidateSchemes, proxy, quantmoe, mixture);
            if (averageBits != null) { // the solver's candidates and proxy, defaults resolved
                if (candidateSchemes == null) {
                    List<Integer> widths = new ArrayList<>();
                    ba.paramsJson().path("candidate_bits").forEach(n -> widths.add(n.intValue()));
                    candidateBits = List.copyOf(widths);
                } else {
                    candidateSchemes = ba.candidates(base).stream().map(QuantScheme::toString).toList();
                }
                proxy = ba.paramsJson().path("proxy").asText();
            }
            quantmoe = quantmoe == null ? null : quantmoe.trim();
            bq.check(base);
            checkFormat(scheme != null ? "scheme" : "bits", f, base);
            for (int i = 0; i < rules.size(); i++) {
                if (rules.get(i).bits() != BitRule.KEEP) {
                    checkFormat("rules[" + i + "].bits", f, base.withBits(rules.get(i).bits()));
                }
            }
            String allocKey = averageBits != null ? candidateSchemes != null ? "candidate_schemes" : "candidate_bits"
                    : quantmoe != null ? "quantmoe" : mixture != null ? "mixture" : "bits";
            for (QuantScheme c : ba.candidates(base)) {
                bq.check(c);
                checkFormat(allocKey, f, c);
            }
        }

        /** The default scheme: {@code scheme}, or bits, group size and symmetry. */
        public QuantScheme defaultScheme() {
            return scheme != null ? QuantScheme.parse("scheme", scheme) : new QuantScheme(bits, groupSize, symmetric);
        }

        /** The run's options. */
        public QuantOptions options() {
            QuantScheme s = defaultScheme();
            return new QuantOptions(quantizer(), PackedFormat.named(format), s, new Selector(targets, ignore),
                    rules.stream().map(r -> new BitRule(new Selector(r.targets(), r.ignore()), r.bits())).toList(), allocation(),
                    uniformExpertBits, CheckpointWriter.Options.defaults().withMaxShardSize(maxShardBytes), null);
        }

        /** The weight quantizer with its parameters. */
        public BoundQuantizer<?> quantizer() {
            return bindQuantizer(WeightQuantizer.named(method), dampPercent, actOrder, minTokens, allExperts, clipSearch, importance, gptqDevice, refit);
        }

        /** The bit allocator with its parameters. */
        public BoundAllocator<?> allocation() {
            return bindAllocation(averageBits, candidateBits, candidateSchemes, proxy, quantmoe, mixture);
        }
    }

    @Override
    public String name() {
        return "quantize";
    }

    @Override
    public String summary() {
        return "weight quantization with per-module bits: RTN/GPTQ, rules, budget solver or QuantMoE heuristic; "
                + "compressed-tensors, GPTQ or fake-quant";
    }

    @Override
    public String reference() {
        return "";
    }

    @Override
    public Class<Parameters> parameters() {
        return Parameters.class;
    }

    @Override
    public Calibration calibration() {
        return Calibration.DEPENDS;
    }

    @Override
    public Parameters bind(JsonNode params) {
        return dev.moekit.toolkit.method.Params.bind(name(), params, Parameters.class);
    }

    @Override
    public boolean needsCalibration(Parameters p) {
        return p.quantizer().needsCalibration() || p.allocation().needsCalibration();
    }

    private static <T> T named(String key, String name, Function<String, T> lookup) {
        try {
            return lookup.apply(name);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(key + ": " + e.getMessage(), e);
        }
    }

    private static void checkFormat(String key, PackedFormat f, QuantScheme s) {
        try {
            f.check(s);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(key + ": " + e.getMessage(), e);
        }
    }

    private static void checkBits(String key, int bits, boolean keep) {
        QuantScheme.checkWidth(key, bits, keep);
    }

    /** {@code q} with the stage's method keys that are given; a key {@code q} does not take fails naming those that do. */
    private static BoundQuantizer<?> bindQuantizer(WeightQuantizer<?> q, Double dampPercent, Boolean actOrder, Long minTokens, Boolean allExperts,
                                                   Boolean clipSearch, Boolean importance, dev.moekit.quantize.method.GptqDevice gptqDevice, Boolean refit) {
        Object[] values = {dampPercent, actOrder, minTokens, allExperts, clipSearch, importance, gptqDevice, refit};
        ObjectNode p = Json.PRETTY.createObjectNode();
        List<String> own = ParamInfo.of(q.parameters()).stream().map(ParamInfo::key).toList();
        for (int i = 0; i < METHOD_KEYS.size(); i++) {
            if (values[i] == null) {
                continue;
            }
            String key = METHOD_KEYS.get(i);
            if (!own.contains(key)) {
                List<String> takers = Methods.standard().kind(WeightQuantizer.KIND).all().stream()
                        .filter(m -> ParamInfo.of(m.parameters()).stream().anyMatch(x -> x.key().equals(key))).map(WeightQuantizer::name).toList();
                throw new IllegalArgumentException(key + " is a parameter of method " + String.join(", ", takers) + ", not of '" + q.name() + "'");
            }
            p.set(key, Json.PRETTY.valueToTree(values[i]));
        }
        return BoundQuantizer.of(q.name(), p);
    }

    /**
     * The budget solver with {@code average_bits}, the QuantMoE heuristic with {@code quantmoe}, the per-role mixture
     * with {@code mixture}, else uniform bits.
     */
    private static BoundAllocator<?> bindAllocation(Double averageBits, List<Integer> candidateBits, List<String> candidateSchemes, String proxy,
                                                    String quantmoe, Integer mixture) {
        if (mixture != null) {
            return BoundAllocator.of("mixture", Json.PRETTY.createObjectNode().put("high", mixture));
        }
        if (averageBits != null) {
            ObjectNode p = Json.PRETTY.createObjectNode().put("average_bits", averageBits);
            if (proxy != null) {
                p.put("proxy", proxy);
            }
            if (candidateBits != null) {
                candidateBits.forEach(p.putArray("candidate_bits")::add);
            }
            if (candidateSchemes != null) {
                candidateSchemes.forEach(p.putArray("candidate_schemes")::add);
            }
            return BoundAllocator.of("budget", p);
        }
        if (quantmoe != null) {
            String[] hl = quantmoe.split("/");
            int high;
            int low;
            try {
                if (hl.length != 2) {
                    throw new NumberFormatException();
                }
                high = Integer.parseInt(hl[0].trim());
                low = Integer.parseInt(hl[1].trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("quantmoe: '" + quantmoe + "' (expected high/low bits, e.g. 4/2)");
            }
            return BoundAllocator.of("quantmoe", Json.PRETTY.createObjectNode().put("high", high).put("low", low));
        }
        return BoundAllocator.of("uniform");
    }

    SingleUnitStage.Planned planOutput(Parameters p, PlanInput in, StageContext context) {
        QuantOptions o = p.options();
        Layout l = in.layout();
        ModelSpec spec = l.spec();
        Map<String, TensorSpec> byName = new HashMap<>();
        l.tensors().forEach(t -> byName.put(t.name(), t));
        ModuleCatalog catalog = ModuleCatalog.of(spec, byName::get);
        boolean exact = o.allocation().dataFree();
        QuantOptions planning = exact ? o : o.withAllocation(BoundAllocator.of("uniform"));
        Map<LinearModule, QuantScheme> schemes = Quantizer.planFor(spec, catalog, planning, Optional.empty(), Optional.empty(), m -> {
            throw new IllegalStateException("weights are not read while planning");
        });
        OutputPlan op = new OutputPlan(in.real() ? in.path().toString() : "the planned input", spec, catalog, o, schemes);
        Layout out = new Layout(op.config(l.config()), op.tensors(l.tensors()), l.facts(), l.exact() && exact);

        ObjectNode d = Json.PRETTY.createObjectNode();
        d.put("method", o.method().name());
        d.set("method_params", o.method().paramsJson());
        d.put("format", o.format().name());
        d.put("allocation", o.allocation().name());
        d.set("allocation_params", o.allocation().paramsJson());
        d.put("scheme", o.scheme().toString());
        d.put("modules", schemes.size());
        d.put("kept", op.kept.size());
        d.put("bits_known", exact);
        List<String> notes = new ArrayList<>();
        if (exact) {
            Map<String, Map<Integer, Integer>> byKind = new TreeMap<>();
            long params = 0;
            double codeBits = 0;
            long stored = 0;
            long source = 0;
            for (var e : schemes.entrySet()) {
                LinearModule m = e.getKey();
                byKind.computeIfAbsent(m.role().kind().name().toLowerCase(Locale.ROOT), k -> new TreeMap<>()).merge(e.getValue().bits(), 1, Integer::sum);
                params += m.params();
                codeBits += (double) m.params() * e.getValue().bits();
                stored += o.format().storedBits(m, e.getValue(), op.gIdxPlanned(e.getValue()), op.weightType);
                source += m.params() * byName.get(m.tensor()).dtype().size();
            }
            ObjectNode k = d.putObject("bits_by_kind");
            byKind.forEach((kind, counts) -> {
                ObjectNode c = k.putObject(kind);
                counts.forEach((b, n) -> c.put(String.valueOf(b), n));
            });
            d.put("average_bits", params == 0 ? 0 : codeBits / params);
            d.put("average_stored_bits", params == 0 ? 0 : (double) stored / params);
            d.put("quantized_bytes", stored / 8);
            d.put("source_bytes", source);
        } else {
            o.allocation().averageBitsLimit().ifPresent(x -> d.put("average_bits_limit", x));
            notes.add("bit widths are chosen from the weights when the stage runs (" + o.allocation().name()
                    + "); the planned tensors assume " + o.scheme().bits() + " bits where no rule fixes them");
        }
        if (o.method().needsCalibration()) {
            notes.add(o.method().name() + " calibrates layer by layer" + (o.method().calibratesAllExperts() ? ", every routed expert on every token" : "")
                    + "; modules that see fewer than " + o.method().minCalibrationRows() + " calibration tokens fall back to RTN (listed in the report)");
        }
        o.allocation().sensitivityProxy().ifPresent(px -> notes.add("the bit widths come from a sensitivity measured on calibration data first (proxy "
                + SensitivityProbe.resolve(px, o.method()).key() + ")"));
        if (!o.format().packed()) {
            notes.add(o.format().name() + " writes dequantized weights in the input dtype: the output is not smaller than the input");
        }
        return new SingleUnitStage.Planned(out, o.method().needsCalibration() || o.allocation().needsCalibration(), notes, d);
    }

    /** Whether the stage runs GPTQ on calibration data. */
    private static boolean calibrated(QuantOptions o, StageContext ctx) {
        return o.method().needsCalibration() && ctx.calibration() != null;
    }

    /**
     * The work units: with bits known from metadata, one per group of {@code layers_per_unit} decoder layers plus
     * {@code rest} (embeddings, final norm, lm_head), each quantizing and writing its own tensors. Without calibration
     * they are independent. Calibrated GPTQ with {@code inputs: sequential} chains the layer units (each waits for the
     * previous group, whose quantized outputs it reads); with {@code inputs: original} a unit {@code inputs} writes the
     * original model's activations entering every layer and the layer units depend only on it. Bits chosen from all
     * weights (the budget solver) make one unit {@code all}.
     */
    @Override
    public Plan plan(Parameters p, PlanInput in, StageContext ctx) {
        SingleUnitStage.Planned pl = planOutput(p, in, ctx);
        QuantOptions o = p.options();
        long bytesIn = in.layout().bytes();
        List<WorkUnit> units = new ArrayList<>();
        List<String> notes = new ArrayList<>(pl.notes());
        if (!o.allocation().dataFree()) {
            units.add(new WorkUnit(ALL, "quantize of the whole checkpoint (bits are chosen from all weights)", bytesIn, pl.output().bytes(), bytesIn,
                    List.of(), null));
            notes.add("one work unit: the " + o.allocation().name() + " allocation reads every weight before any layer is written");
        } else {
            Map<String, List<TensorSpec>> groups = TensorUnits.group(pl.output().tensors(), p.layersPerUnit());
            Map<String, List<TensorSpec>> inputs = TensorUnits.group(in.layout().tensors(), p.layersPerUnit());
            boolean cal = calibrated(o, ctx);
            boolean seq = p.inputs().equals(SEQUENTIAL);
            if (cal && !seq) {
                units.add(new WorkUnit(INPUTS, "the original model's activations entering every layer (inputs: original)", bytesIn, 0, bytesIn,
                        List.of(), null));
            }
            String prev = null;
            for (var e : groups.entrySet()) {
                boolean layer = !e.getKey().equals(TensorUnits.REST);
                long out = e.getValue().stream().mapToLong(TensorSpec::byteSize).sum();
                long read = inputs.getOrDefault(e.getKey(), List.of()).stream().mapToLong(TensorSpec::byteSize).sum();
                List<String> after = !cal || !layer ? List.of() : seq ? (prev == null ? List.of() : List.of(prev)) : List.of(INPUTS);
                String what = layer ? (cal ? "calibrate and quantize " : "quantize ") + e.getKey().replace('-', ' ').replaceFirst(" (\\d+) (\\d+)$", " $1-$2")
                        : "quantize or copy the tensors outside decoder layers";
                units.add(new WorkUnit(e.getKey(), what, read, out, read, after, null));
                if (layer) {
                    prev = e.getKey();
                }
            }
            if (cal && seq && groups.size() > 2) {
                notes.add("inputs: sequential: the layer units run one after another (each calibrates on the quantized layers' outputs); "
                        + "inputs: original makes them independent");
            }
        }
        return new Plan(name(), pl.output(), bytesIn, pl.calibrates(), units, notes, pl.details());
    }

    private static String hidden(int layer) {
        return String.format(Locale.ROOT, "hidden-%03d.bin", layer);
    }

    private static CalibrationOptions calibrationOptions(QuantOptions opts, StageContext context) {
        CalibrationOptions base = CalibrationOptions.of(context.calibration());
        return new CalibrationOptions(base.files(), base.window(), base.windowsPerFile(), base.allExperts(), true, opts.method().minCalibrationRows());
    }

    /** Units load one layer at a time (layerwise): a unit of a few layers never holds the whole model. */
    private static RuntimeOptions runtime(StageContext context) {
        return new RuntimeOptions(RuntimeOptions.parseDevice(context.device()), RuntimeOptions.cpu().precision(), true, RuntimeOptions.cpu().batchSize());
    }

    @Override
    public JsonNode execute(Parameters p, Plan plan, WorkUnit unit, UnitContext ctx) throws Exception {
        if (unit.id().equals(ALL)) {
            return run(p, plan, ctx.input(), ctx.extra(), ctx.dir().resolve(CHECKPOINT), ctx.stage());
        }
        QuantOptions opts = p.options();
        StageContext sc = ctx.stage();
        try (Checkpoint in = Checkpoint.open(ctx.input())) {
            int layers = ModelSpec.of(in).layers();
            if (unit.id().equals(INPUTS)) {
                CalibratedGptq.saveInputs(in, calibrationOptions(opts, sc), runtime(sc), sc.events(), IntStream.range(0, layers).boxed().toList(),
                        l -> ctx.dir().resolve(hidden(l)));
                return Json.PRETTY.createObjectNode().put("layers", layers);
            }
            Predicate<String> mine = n -> TensorUnits.unitOf(n, p.layersPerUnit()).equals(unit.id());
            Function<List<TensorSpec>, CheckpointWriter> writer = ts -> TensorUnits.unitWriter(ctx.dir(), ts);
            List<QuantReport.ModuleReport> modules;
            CoverageReport coverage = null;
            if (calibrated(opts, sc) && !unit.id().equals(TensorUnits.REST)) {
                int[] ls = in.names().stream().filter(mine).mapToInt(TensorUnits::layerOf).filter(l -> l >= 0).toArray();
                int from = IntStream.of(ls).min().orElseThrow();
                int to = IntStream.of(ls).max().orElseThrow() + 1;
                boolean seq = p.inputs().equals(SEQUENTIAL);
                Path inputs = seq && !unit.after().isEmpty() ? ctx.finished(unit.after().getFirst()).resolve(HIDDEN) : null;
                Path outputs = seq && to < layers ? ctx.dir().resolve(HIDDEN) : null;
                Path original = seq ? null : ctx.finished(INPUTS);
                CalibratedGptq.UnitResult r = CalibratedGptq.runUnit(in, opts, calibrationOptions(opts, sc), runtime(sc), sc.events(), mine, writer,
                        from, to, seq, inputs, outputs, l -> original.resolve(hidden(l)));
                modules = r.modules();
                coverage = r.coverage();
            } else {
                try (QuantSession s = QuantSession.openUnit(in, opts, Linalg.nd4j(), mine, writer)) {
                    modules = s.finishUnit();
                }
            }
            ObjectNode rep = Json.PRETTY.createObjectNode();
            rep.set("modules", Json.PRETTY.valueToTree(modules));
            if (coverage != null) {
                rep.set("coverage", coverage.toJson());
            }
            return rep;
        }
    }

    /**
     * Assembles the units' tensors in the planned order with the quantization config and the format's files, and
     * merges the units' module reports and coverage into the report a whole-checkpoint run gives.
     */
    @Override
    public JsonNode commit(Parameters p, Plan plan, Map<String, UnitResult> units, CommitContext ctx) throws Exception {
        if (units.containsKey(ALL)) {
            UnitResult r = units.get(ALL);
            Files.move(r.dir().resolve(CHECKPOINT), ctx.output(), StandardCopyOption.ATOMIC_MOVE);
            return r.report();
        }
        QuantOptions opts = p.options();
        try (Checkpoint in = Checkpoint.open(ctx.input())) {
            ModelSpec spec = ModelSpec.of(in);
            ModuleCatalog catalog = ModuleCatalog.of(in, spec);
            Map<LinearModule, QuantScheme> schemes = Quantizer.planFor(spec, catalog, opts, Optional.empty(), Optional.empty(), m -> Weights.read(in, m));
            OutputPlan op = new OutputPlan(in.dir().toString(), spec, catalog, opts, schemes);
            List<TensorSpec> inTensors = in.names().stream().map(n -> TensorSpec.of(in.info(n))).toList();
            ObjectNode qc = op.quantizationConfig();
            TensorUnits.assemble(op.tensors(inTensors), units, ctx.output(), in, op.config(in.config()), opts.writer(), w -> {
                if (qc != null) {
                    opts.format().files(qc).forEach(w::writeJson);
                }
            });
            Map<String, QuantReport.ModuleReport> byModule = new HashMap<>();
            List<JsonNode> routing = new ArrayList<>();
            JsonNode threshold = null;
            for (var u : units.entrySet()) {
                for (JsonNode m : u.getValue().report().path("modules")) {
                    QuantReport.ModuleReport r = Json.STRICT.treeToValue(m, QuantReport.ModuleReport.class);
                    if (byModule.put(r.module(), r) != null) {
                        throw new IllegalStateException("module " + r.module() + " was quantized by two units");
                    }
                }
                JsonNode c = u.getValue().report().path("coverage");
                if (c.isObject()) {
                    threshold = c.get("threshold");
                    c.path("layers").forEach(routing::add);
                }
            }
            List<QuantReport.ModuleReport> ordered = new ArrayList<>();
            for (LinearModule m : schemes.keySet()) {
                QuantReport.ModuleReport r = byModule.get(m.module());
                if (r == null) {
                    throw new IllegalStateException("no unit quantized " + m.module());
                }
                ordered.add(r);
            }
            long sourceBytes = schemes.keySet().stream().mapToLong(m -> m.params() * in.info(m.tensor()).dtype().size()).sum();
            QuantReport r = QuantReport.of(opts.format().name(), ordered, op.kept, sourceBytes);
            ObjectNode coverage = null;
            if (threshold != null) {
                coverage = Json.COMPACT.createObjectNode();
                coverage.set("threshold", threshold);
                ArrayNode ls = coverage.putArray("layers");
                routing.stream().sorted(java.util.Comparator.comparingInt(n -> n.path("layer").asInt())).forEach(ls::add);
            }
            long bytesIn = inTensors.stream().mapToLong(TensorSpec::byteSize).sum();
            long bytesOut;
            try (Checkpoint out = Checkpoint.open(ctx.output())) {
                bytesOut = out.names().stream().mapToLong(n -> out.info(n).byteSize()).sum();
            }
            return report(r, opts, bytesIn, bytesOut, coverage);
        }
    }

    /** The whole checkpoint in one go (the {@code all} unit; also what the units together reproduce). */
    JsonNode run(Parameters p, Plan plan, Path input, List<Path> extra, Path output, StageContext context) {
        QuantOptions opts = p.options();
        QuantReport r;
        CoverageReport coverage = null;
        Optional<Sensitivity> sensitivity = Optional.empty();
        long bytesIn;
        try (Checkpoint in = Checkpoint.open(input)) {
            bytesIn = in.names().stream().mapToLong(n -> in.info(n).byteSize()).sum();
            boolean calibrated = opts.method().needsCalibration() || opts.allocation().needsCalibration();
            if (calibrated && context.calibration() == null) {
                if (opts.allocation().needsCalibration()) {
                    throw new IllegalArgumentException("quantize: the budget solver's proxy '" + opts.allocation().sensitivityProxy().orElse("")
                            + "' is measured on calibration data, and the recipe gives none (add calibration, or proxy: weight)");
                }
            }
            if (calibrated && context.calibration() != null) {
                CalibrationOptions base = CalibrationOptions.of(context.calibration());
                CalibrationOptions co = new CalibrationOptions(base.files(), base.window(), base.windowsPerFile(), base.allExperts(), true,
                        Math.max(1, opts.method().minCalibrationRows()));
                RuntimeOptions ro = new RuntimeOptions(RuntimeOptions.parseDevice(context.device()), RuntimeOptions.cpu().precision(), false,
                        RuntimeOptions.cpu().batchSize());
                sensitivity = SensitivityProbe.forAllocation(in, opts, co, ro, context.events());
                if (opts.method().needsCalibration()) {
                    CalibratedGptq.Result g = CalibratedGptq.run(in, output, opts, co, ro, context.events(), sensitivity);
                    r = g.report();
                    coverage = g.coverage();
                } else {
                    r = Quantizer.run(in, output, opts, CalibrationSource.sensitivityOnly(sensitivity.orElseThrow()));
                }
            } else {
                r = Quantizer.run(in, output, opts, null);
            }
        }
        long bytesOut;
        try (Checkpoint out = Checkpoint.open(output)) {
            bytesOut = out.names().stream().mapToLong(n -> out.info(n).byteSize()).sum();
        }
        ObjectNode rep = report(r, opts, bytesIn, bytesOut, coverage == null ? null : coverage.toJson());
        sensitivity.ifPresent(x -> rep.set("sensitivity", x.toJson()));
        return rep;
    }

    /** The stage report: the quantization report, sizes, fallbacks and the lines {@code moekit quantize} prints. */
    static ObjectNode report(QuantReport r, QuantOptions opts, long bytesIn, long bytesOut, JsonNode coverage) {
        ObjectNode rep = (ObjectNode) r.toJson();
        rep.put("method", opts.method().name());
        rep.put("allocation", opts.allocation().name());
        rep.put("checkpointBytesIn", bytesIn);
        rep.put("checkpointBytesOut", bytesOut);
        ArrayNode fb = rep.putArray("fallbackModules");
        Map<String, Integer> reasons = new LinkedHashMap<>();
        for (QuantReport.ModuleReport m : r.modules()) {
            if (m.fallback() != null) {
                fb.addObject().put("module", m.module()).put("reason", m.fallback());
                reasons.merge(m.fallback().replaceFirst("^\\d+ calibration tokens < (\\d+)$", "fewer than $1 calibration tokens"), 1, Integer::sum);
            }
        }
        if (coverage != null) {
            rep.set("coverage", coverage);
        }
        ArrayNode lines = rep.putArray("summary");
        lines.add(String.format(Locale.ROOT, "%s %s, %s: %d modules at %.2f bits per weight on average (%.2f stored, scales included)",
                opts.method().name(), opts.scheme(), r.format(), r.modules().size(), r.averageBits(), r.averageStoredBits()));
        lines.add(String.format(Locale.ROOT, opts.format().packed() ? "quantized modules %s -> %s; checkpoint %s -> %s"
                : "quantized modules %s (%s if packed); checkpoint %s -> %s", size(r.sourceBytes()), size(r.quantizedBytes()), size(bytesIn), size(bytesOut)));
        if (!r.kept().isEmpty()) {
            lines.add("kept unquantized: " + r.kept().size() + " linear modules (" + String.join(", ", r.kept().subList(0, Math.min(3, r.kept().size())))
                    + (r.kept().size() > 3 ? ", ..." : "") + ")");
        }
        if (r.fallbacks() > 0) {
            List<String> why = new ArrayList<>();
            reasons.forEach((reason, n) -> why.add(n + " x " + reason));
            lines.add("RTN fallbacks: " + r.fallbacks() + " modules (" + String.join("; ", why) + ")");
        }
        return rep;
    }

    private static String size(long bytes) {
        return bytes >= 1e9 ? String.format(Locale.ROOT, "%.2f GB", bytes / 1e9) : String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
    }
}
