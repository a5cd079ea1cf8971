package dev.moekit.recipes.results;

import dev.moekit.eval.Calibration;
import dev.moekit.eval.CalibrationObserver;
import dev.moekit.eval.CalibrationOptions;
import dev.moekit.eval.CoverageReport;
import dev.moekit.eval.EvalOptions;
import dev.moekit.eval.EvalResult;
import dev.moekit.eval.Evaluator;
import dev.moekit.eval.LayerRouting;
import dev.moekit.eval.Progress;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.quantize.BoundAllocator;
import dev.moekit.quantize.alloc.BudgetAllocator;
import dev.moekit.quantize.alloc.QuantMoeAllocator;
import dev.moekit.quantize.CalibratedGptq;
import dev.moekit.quantize.CalibrationSource;
import dev.moekit.quantize.format.Dequantize;
import dev.moekit.quantize.ExpertUsage;
import dev.moekit.quantize.PackedFormat;
import dev.moekit.quantize.QuantOptions;
import dev.moekit.quantize.QuantReport;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.Quantizer;
import dev.moekit.quantize.Sensitivity;
import dev.moekit.quantize.SensitivityProbe;
import dev.moekit.quantize.alloc.MixtureAllocator;
import dev.moekit.quantize.method.GptqQuantizer;
import dev.moekit.quantize.method.RtnQuantizer;
import dev.moekit.quantize.BoundQuantizer;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.FileTrees;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.model.ModelSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Produces {@code docs/results/quantization.md}: uniform RTN and GPTQ at 8/4/3/2 bits, and mixed precision at about
 * 3.0 and 2.5 average bits by each QuantMoE-Bench heuristic and by the budget solver, on the reference MoE models. Every
 * output is written packed (compressed-tensors), measured on disk, dequantized and evaluated against the original.
 *
 * <p>{@code QuantResults <shared dir> <out.md> [evalWindows=8] [calibrationWindows=8] [models...]}; the system property
 * {@code moekit.rows} (a regex on the setting names) runs only the matching rows besides the original;
 * {@code moekit.sensitivityWindows} measures the solver's sensitivity on fewer calibration windows per file.
 */
public final class QuantResults {
    private QuantResults() {}

    private static Frontier FRONTIER;
    private static Path DOCS;

    /** The frontier plot of {@code model}, beside the Markdown. */
    private static Path png(String model) {
        return DOCS.resolve("quantization-frontier-" + model + ".png");
    }
    private static final Pattern ROWS = Pattern.compile(System.getProperty("moekit.rows", ".*"));

    private static final java.util.Set<String> PRIOR = new java.util.HashSet<>();

    /** {@code -Dmoekit.assemble=true}: run nothing, only join the {@code moekit.prior} rows into the page. */
    private static final boolean ASSEMBLE = Boolean.getBoolean("moekit.assemble");

    private static boolean selected(String setting) {
        return !ASSEMBLE && ROWS.matcher(setting).matches() && !PRIOR.contains(setting);
    }

    /**
     * Rows of {@code model} an earlier run measured ({@code -Dmoekit.prior=FILE}, that run's Markdown): kept verbatim,
     * counted in the frontier, and not run again.
     */
    private static void prior(String model, ResultTable table) throws java.io.IOException {
        String file = System.getProperty("moekit.prior");
        if (file == null || file.isBlank() || !Files.isRegularFile(Path.of(file))) {
            return;
        }
        PRIOR.clear(); // settings are per model
        boolean in = false;
        Pattern bits = Pattern.compile("([0-9]+\\.[0-9]+) bits");
        for (String line : Files.readAllLines(Path.of(file))) {
            if (line.startsWith("## ")) {
                in = line.substring(3).trim().equals(model);
                continue;
            }
            if (line.startsWith("### ")) { // the model's frontier section: not rows
                in = false;
                continue;
            }
            if (in && line.startsWith("| setting")) {
                table.priorHeader(model, line);
                continue;
            }
            if (!in || !line.startsWith("| ") || line.startsWith("|---")) {
                continue;
            }
            String[] cells = line.split("\\|");
            if (cells.length < 10) { // not a result row (a frontier table joined by an older version)
                continue;
            }
            String setting = cells[1].trim();
            if (!ASSEMBLE && !ROWS.matcher(setting).matches() || !PRIOR.add(setting)) { // a row kept twice is kept once
                continue;
            }
            table.addRaw(model, setting, line);
            java.util.regex.Matcher m = bits.matcher(cells[cells.length - 1]);
            String kl = cells[cells.length - 4].trim();
            if (m.find() && !kl.equals("-")) {
                FRONTIER.add(new Frontier.Point(model, setting, Double.parseDouble(m.group(1)), Double.parseDouble(kl)));
            }
        }
    }

    public static void main(String[] args) throws Exception {
        RunArgs a = RunArgs.parse(args, 8, 8, "moekit-quant-results");
        int evalWindows = a.evalWindows();
        int calWindows = a.calWindows();
        StringBuilder md = new StringBuilder("# Quantization results\n\n");
        md.append("Produced by `scripts/results-quantization.sh ").append(evalWindows).append(' ').append(calWindows).append("` (")
                .append(Instant.now().toString(), 0, 10).append(", ").append(Runtime.getRuntime().availableProcessors())
                .append(" CPU cores, shared with other jobs: times are not comparable")
                .append(System.getProperty("moekit.prior", "").isBlank() ? "" : "; rows joined from several runs of the same script and protocol, "
                        + "each resuming where the others stopped (`PRIOR=<earlier page>`, then `moekit.assemble`); one run of all rows takes "
                        + "several hours on 2 cores")
                .append("). Every output (but the k-quant rows, whose quantized sub-block scales only fake-quant writes today: their values are ")
                .append("written in bf16 and their bits counted as GGUF's blocks hold them, e.g. Q4_K 4.5 a weight) is written as compressed-tensors ")
                .append("`pack-quantized` (routers, embeddings, norms and lm_head unquantized), measured on disk, dequantized and evaluated on ")
                .append("the first ").append(evalWindows).append(" windows of 256 tokens of each `*.test.txt` split against the original ")
                .append("(mean KL over all scored positions, top-1 agreement). Calibrated methods calibrate on ").append(calWindows)
                .append(" windows of each `*.valid.txt` split; GPTQ calibrates every routed expert on every token (`all_experts`, the ")
                .append("default). 'bits' is the average stored bits per quantized weight counted as the files hold them: int32 words ")
                .append("of codes with their padding (3 bits cost 3.2, 5 bits 5.33, 6 bits 6.4 a weight, 32/bits values a word), scales in ")
                .append("the checkpoint dtype, zero points (asymmetric) packed the same way.\n\n")
                .append("Settings: `RTN`/`GPTQ intB` are the min-max grid, symmetric, groups of 128. `RTN+imatrix` searches each group's ")
                .append("clipping range and refits its scale for the least squared error weighted by the calibration activations' ")
                .append("E[x_j^2] (llama.cpp's importance matrix; `clip_search` + `importance`); `GPTQ+search` is GPTQ whose group ")
                .append("grids are searched the same way, weighted by the Hessian diagonal (`clip_search`); `+refit` refits GPTQ's group grids to the codes it chose for the ")
                .append("least Hessian-weighted row error (`refit`). `gG` is the group size, ")
                .append("`asym` an asymmetric grid. `mixture` is the llama.cpp-style per-role allocator (`mixture: N`: attention V and ")
                .append("the FFN down projections at N bits in the layers llama.cpp's `use_more_bits` picks). The QuantMoE-Bench ")
                .append("heuristics make attention and shared experts high and then half the routed expert weights high (4/2 bits or ")
                .append("3/2) by first blocks, most used experts, or outlier scores. The solver picks from 2/3/4/8 bits per unit to ")
                .append("meet the average at the least measured sensitivity (proxy `output`: the change of the unit's decoder layer ")
                .append("output when only it is quantized by the row's method, on the calibration windows; exact knapsack); ")
                .append("'per-expert widths' lets every expert module take its own width (as the most-used and outlier heuristics ")
                .append("do), which fused MoE kernels (vLLM, llama.cpp) cannot run; the other rows keep one width per layer of ")
                .append("experts. 'schemes' rows let the solver pick whole schemes (`candidate_schemes`: ")
                .append(String.join(", ", SCHEMES)).append("), paying each one's scale and zero-point bits; 'frontier schemes' rows ")
                .append("pick from ").append(String.join(", ", FRONTIER_SCHEMES)).append(" at llama.cpp's Q3_K_M and Q4_K_M widths; 'k-quant schemes' rows pick from ")
                .append(String.join(", ", K_SCHEMES)).append(" and 'mixed schemes' rows from ").append(String.join(", ", MIXED_SCHEMES))
                .append(" (`/k4`: 4-bit quantized sub-block scales and minimums in 256-weight super-blocks, as Q2_K stores them, here in ")
                .append("groups of 32: 2.375 bits a weight), both fake-quant, the k-quants' bits counted as GGUF's blocks hold them and the others' as ")
                .append("compressed-tensors packs them. '(codebook)' rows and 'codebook schemes' rows (from ").append(String.join(", ", VQ_SCHEMES))
                .append(") use GPTVQ codebooks: `/vq2` and `/vq4` code 2 or 4 consecutive weights with one 4- or 8-bit index into a k-means codebook ")
                .append("of each row-spanning tile, times a bf16 scale per row; fake-quant, bits counted with the scales and the bf16 centroids ")
                .append("(docs/quantize.md, 'Codebook schemes').\n\n");
        ResultTable table = new ResultTable(a.outMd(), md.toString(), a.models());
        FRONTIER = new Frontier();
        DOCS = a.outMd().toAbsolutePath().getParent();
        table.footer(m -> FRONTIER.markdown(m, png(m).getFileName().toString()) + Acceptance.markdown(FRONTIER, m));
        for (String m : a.models()) {
            runModel(a.setup(m), table);
        }
        table.write();
    }

    /** A quantizer as the rows name it. */
    private record Quant(String label, BoundQuantizer<?> method) {
        boolean calibrated() {
            return method.needsCalibration();
        }
    }

    private static final Quant RTN = new Quant("RTN", BoundQuantizer.of("rtn"));
    private static final Quant GPTQ = new Quant("GPTQ", BoundQuantizer.of("gptq"));
    private static final Quant RTN_IMATRIX = new Quant("RTN+imatrix", BoundQuantizer.of("rtn", new RtnQuantizer.Parameters(true, true)));
    private static final Quant GPTQ_SEARCH = new Quant("GPTQ+search",
            BoundQuantizer.of("gptq", new GptqQuantizer.Parameters(null, null, null, null, null, true)));
    private static final Quant GPTQ_REFIT = new Quant("GPTQ+refit",
            BoundQuantizer.of("gptq", new GptqQuantizer.Parameters(null, null, null, null, null, false, null, true)));
    private static final Quant GPTQ_SEARCH_REFIT = new Quant("GPTQ+search+refit",
            BoundQuantizer.of("gptq", new GptqQuantizer.Parameters(null, null, null, null, null, true, null, true)));

    /** The frontier's schemes per quantizer: bits, group size, symmetric. */
    private static final int[][] FRONTIER_RTN = {{3, 128, 1}, {3, 64, 0}, {4, 128, 1}, {4, 32, 0}};

    /** The solver's whole-scheme candidates ({@code candidate_schemes}). */
    static final List<String> SCHEMES = List.of("int2/g128/sym", "int2/g64/asym", "int2/g32/asym", "int3/g128/sym", "int3/g64/asym",
            "int4/g128/sym", "int4/g64/asym", "int8/g128/sym");

    /** The frontier solver's candidates: {@link #SCHEMES} with small asymmetric groups and 5 and 6 bits added. */
    static final List<String> FRONTIER_SCHEMES = List.of("int2/g64/asym", "int3/g128/sym", "int3/g64/asym", "int3/g32/asym", "int4/g128/sym",
            "int4/g64/asym", "int4/g32/asym", "int5/g128/sym", "int5/g64/asym", "int6/g128/sym", "int8/g128/sym");

    /** The frontier solver's budgets: llama.cpp's Q3_K_M and Q4_K_M widths on mixtral-tiny. */
    static final double[] FRONTIER_BUDGETS = {3.9, 4.8};
    /** GGUF's k-quant types run uniformly. */
    static final List<String> K_TYPES = List.of("q2_k", "q3_k", "q4_k", "q5_k", "q6_k");

    /** The k-quant solver's candidates: the k-quants and Q8_0. */
    static final List<String> K_SCHEMES = List.of("q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "q8_0");

    /** The k-quant solver's budgets: the allocator's acceptance widths and llama.cpp's Q3_K_M and Q4_K_M. */
    static final double[] K_BUDGETS = {2.5, 3.0, 3.9, 4.8};
    /**
     * The mixed solver's candidates for the allocator's acceptance widths: small-group asymmetric 2-bit grids with
     * float or quantized scales (2.28, 2.375 bits) beside the k-quants, so 2.5 bits need not sit on q2_k's 2.625.
     */
    static final List<String> MIXED_SCHEMES = List.of("int2/g64/asym", "int2/g32/asym/k4", "q2_k", "q3_k", "q4_k", "q6_k", "q8_0");

    /** Codebook schemes (GPTVQ) run uniformly: 2-D and 4-D vectors, one codebook per row-spanning tile. */
    static final List<String> VQ_TYPES = List.of("int2/channel/vq2", "int2/channel/vq4");

    /** The codebook solver's candidates: {@link #MIXED_SCHEMES} with the 2-bit codebooks in place of int2/g64/asym. */
    static final List<String> VQ_SCHEMES = List.of("int2/channel/vq2", "int2/channel/vq4", "int2/g32/asym/k4", "q2_k", "q3_k", "q4_k", "q6_k", "q8_0");

    /** The mixed solver's budgets: the allocator's acceptance widths. */
    static final double[] MIXED_BUDGETS = {2.5, 3.0};
    private static final int[][] FRONTIER_GPTQ = {{3, 128, 1}, {3, 64, 0}, {3, 32, 0}, {4, 128, 1}, {4, 64, 0}, {4, 32, 0}};

    private static String schemeLabel(QuantScheme s) {
        return "int" + s.bits() + " g" + s.groupSize() + (s.symmetric() ? "" : " asym");
    }

    private static void runModel(ModelSetup setup, ResultTable table) throws Exception {
        String name = setup.name();
        Path work = setup.work();
        prior(name, table);
        if (selected("bf16 original")) {
            setup.baseline(table, "bf16 original");
        }
        Path orig = setup.original();
        EvalOptions ev = setup.eval();
        CalibrationOptions cal = setup.calibration();
        int layers;
        int experts;
        try (Checkpoint c = Checkpoint.open(orig)) {
            ModelSpec spec = ModelSpec.of(c);
            layers = spec.layers();
            experts = spec.layerSpecs().stream().filter(l -> l.moe()).findFirst().orElseThrow().experts();
        }
        String used = "most-used " + experts / 2 + " experts/layer high (";
        ExpertUsage usage = selected(used + "4/2)") || selected(used + "3/2)") ? usage(orig, cal) : null;
        QuantOptions base = QuantOptions.defaults("compressed-tensors");
        // first what the allocator's acceptance compares, then the frontier (rows are written as they finish)
        for (int bits : new int[] {4, 3, 2}) {
            QuantOptions o = base.withScheme(new QuantScheme(bits, 128, true));
            run(table, name, "RTN int" + bits, orig, work.resolve("rtn" + bits), o, null, ev, null);
            run(table, name, "GPTQ int" + bits, orig, work.resolve("gptq" + bits), o.withMethod("gptq"), null, ev, cal);
        }
        int[][] hl = {{4, 2}, {3, 2}};
        for (int[] h : hl) {
            String tag = h[0] + "/" + h[1];
            QuantOptions o = base.withScheme(new QuantScheme(h[1], 128, true));
            run(table, name, "attention + shared high (" + tag + ")", orig, work.resolve("attn" + h[0]),
                    o.withAllocation(BoundAllocator.of("quantmoe", new QuantMoeAllocator.Parameters(h[0], h[1], true, true, 0, 0, 0.0))), null, ev, null);
            run(table, name, "first " + layers / 2 + " blocks high (" + tag + ")", orig, work.resolve("first" + h[0]),
                    o.withAllocation(BoundAllocator.of("quantmoe", new QuantMoeAllocator.Parameters(h[0], h[1], true, true, layers / 2, 0, 0.0))), null, ev, null);
            run(table, name, "most-used " + experts / 2 + " experts/layer high (" + tag + ")", orig, work.resolve("used" + h[0]),
                    o.withUniformExpertBits(false).withAllocation(BoundAllocator.of("quantmoe", new QuantMoeAllocator.Parameters(h[0], h[1], true, true, 0, experts / 2, 0.0))),
                    usage == null ? null : CalibrationSource.usageOnly(usage), ev, null);
            run(table, name, "top 50% outlier expert linears high (" + tag + ")", orig, work.resolve("outlier" + h[0]),
                    o.withUniformExpertBits(false).withAllocation(BoundAllocator.of("quantmoe", new QuantMoeAllocator.Parameters(h[0], h[1], true, true, 0, 0, 0.5))), null, ev, null);
        }
        // the solver on the measured output proxy: one width per layer of experts (fused kernels), or per expert
        for (boolean perExpert : new boolean[] {false, true}) {
            String tail = perExpert ? " bits, per-expert widths" : " bits";
            Map<String, Sensitivity> measured = new HashMap<>();
            for (double avg : new double[] {3.0, 2.5}) {
                QuantOptions o = base.withUniformExpertBits(!perExpert)
                        .withAllocation(BoundAllocator.of("budget", new BudgetAllocator.Parameters(avg, List.of(2, 3, 4, 8))));
                for (Quant q : perExpert ? List.of(RTN) : List.of(RTN, GPTQ_SEARCH)) {
                    String row = "solver " + q.label() + ", " + avg + tail;
                    if (!selected(row)) {
                        continue;
                    }
                    solver(table, name, row, orig, work, o.withMethod(q.method()), measured, ev, cal);
                }
            }
        }
        // the solver over whole schemes (bits x group size x symmetry), one scheme per layer of experts
        Map<String, Sensitivity> bySchemes = new HashMap<>();
        for (double avg : new double[] {3.0, 2.5}) {
            QuantOptions o = base.withAllocation(BoundAllocator.of("budget", new BudgetAllocator.Parameters(avg, null, null, SCHEMES)));
            for (Quant q : List.of(RTN, RTN_IMATRIX, GPTQ_SEARCH)) {
                String row = "solver " + q.label() + ", " + avg + " bits, schemes";
                if (!selected(row)) {
                    continue;
                }
                solver(table, name, row, orig, work, o.withMethod(q.method()), bySchemes, ev, cal);
            }
        }
        // the frontier solver: GPTQ+search over more schemes at llama.cpp's widths
        schemeSolver(table, name, orig, work, base, FRONTIER_BUDGETS, FRONTIER_SCHEMES, "frontier schemes", ev, cal);
        // the frontier: searched grids, importance, asymmetric and small groups, 2 to 6 bits
        for (Quant q : List.of(RTN_IMATRIX, GPTQ_SEARCH)) {
            for (int[] f : q == RTN_IMATRIX ? FRONTIER_RTN : FRONTIER_GPTQ) {
                QuantScheme s = new QuantScheme(f[0], f[1], f[2] == 1);
                run(table, name, q.label() + " " + schemeLabel(s), orig, work.resolve("front"), base.withMethod(q.method()).withScheme(s), null, ev, cal);
            }
        }
        // llama.cpp-style per-role mixtures (Q3_K_M, Q4_K_M: V and FFN down raised in about half the layers)
        for (int[] mix : new int[][] {{3, 5}, {4, 6}}) {
            QuantScheme s = new QuantScheme(mix[0], 64, false);
            run(table, name, "mixture: GPTQ+search " + schemeLabel(s) + ", V and down " + mix[1] + "-bit in half the layers, per-role widths", orig,
                    work.resolve("mix"), base.withMethod(GPTQ_SEARCH.method()).withScheme(s).withUniformExpertBits(false)
                            .withAllocation(BoundAllocator.of("mixture", new MixtureAllocator.Parameters(mix[1], null, null))), null, ev, cal);
        }
        for (int bits : new int[] {8, 6, 5}) {
            run(table, name, "RTN int" + bits, orig, work.resolve("rtn" + bits), base.withScheme(new QuantScheme(bits, 128, true)), null, ev, null);
        }
        // k-quant schemes (quantized sub-block scales, GGUF's block layouts and sizes; fake-quant, bits counted as GGUF blocks)
        QuantOptions fake = base.withFormat(PackedFormat.named("fake-quant"));
        for (Quant q : List.of(RTN_IMATRIX, GPTQ_SEARCH)) {
            for (String t : K_TYPES) {
                if (q == GPTQ_SEARCH && t.equals("q6_k")) {
                    continue;
                }
                run(table, name, q.label() + " " + t + " (k-quant)", orig, work.resolve("kq"), fake.withMethod(q.method()).withScheme(QuantScheme.parse("k", t)),
                        null, ev, cal);
            }
        }
        schemeSolver(table, name, orig, work, fake, K_BUDGETS, K_SCHEMES, "k-quant schemes", ev, cal);
        // the acceptance widths over 2-bit grids and k-quants together, one scheme per layer of experts or per expert
        schemeSolver(table, name, orig, work, fake, MIXED_BUDGETS, MIXED_SCHEMES, "mixed schemes", ev, cal);
        schemeSolver(table, name, orig, work, fake.withUniformExpertBits(false), MIXED_BUDGETS, MIXED_SCHEMES, "mixed schemes, per-expert widths", ev, cal);
        // GPTQ's grids refitted to its codes (refit): the acceptance's uniform int3 and the 2-bit k-quant
        run(table, name, "GPTQ+refit int3", orig, work.resolve("refit"), base.withMethod(GPTQ_REFIT.method()).withScheme(new QuantScheme(3, 128, true)),
                null, ev, cal);
        run(table, name, "GPTQ+search+refit q2_k (k-quant)", orig, work.resolve("refit"), fake.withMethod(GPTQ_SEARCH_REFIT.method())
                .withScheme(QuantScheme.parse("k", "q2_k")), null, ev, cal);
        // codebooks of 2- and 4-weight vectors (GPTVQ), uniformly and in the solver at the acceptance widths
        for (Quant q : List.of(RTN_IMATRIX, GPTQ_SEARCH)) {
            for (String t : VQ_TYPES) {
                run(table, name, q.label() + " " + t + " (codebook)", orig, work.resolve("vq"), fake.withMethod(q.method()).withScheme(QuantScheme.parse("vq", t)),
                        null, ev, cal);
            }
        }
        schemeSolver(table, name, orig, work, fake, MIXED_BUDGETS, VQ_SCHEMES, "codebook schemes", ev, cal);
        schemeSolver(table, name, orig, work, fake.withUniformExpertBits(false), MIXED_BUDGETS, VQ_SCHEMES, "codebook schemes, per-expert widths", ev, cal);
        FRONTIER.png(name, png(name)); // also when every row came from a prior run
    }

    /** GPTQ+search solver rows over {@code schemes} at each of {@code budgets}, the sensitivity measured once. */
    private static void schemeSolver(ResultTable table, String model, Path orig, Path work, QuantOptions o, double[] budgets, List<String> schemes,
                                     String tag, EvalOptions ev, CalibrationOptions cal) {
        Map<String, Sensitivity> measured = new HashMap<>();
        for (double avg : budgets) {
            String row = "solver GPTQ+search, " + avg + " bits, " + tag;
            if (selected(row)) {
                solver(table, model, row, orig, work, o.withMethod(GPTQ_SEARCH.method())
                        .withAllocation(BoundAllocator.of("budget", new BudgetAllocator.Parameters(avg, null, null, schemes))), measured, ev, cal);
            }
        }
    }

    /** A solver row: the sensitivity measured once per method (kept in {@code measured}), then the run. */
    private static void solver(ResultTable table, String model, String row, Path orig, Path work, QuantOptions o, Map<String, Sensitivity> measured,
                               EvalOptions ev, CalibrationOptions cal) {
        Sensitivity sens = measured.computeIfAbsent(o.method().paramsJson().toString() + o.method().name(), k -> sensitivity(orig, o, cal));
        if (o.method().needsCalibration()) {
            run(table, model, row, orig, work.resolve("solver"), o, null, ev, cal, Optional.of(sens));
        } else {
            run(table, model, row, orig, work.resolve("solver"), o, CalibrationSource.sensitivityOnly(sens), ev, null);
        }
    }

    private static Sensitivity sensitivity(Path orig, QuantOptions o, CalibrationOptions full) {
        long t0 = System.nanoTime();
        CalibrationOptions cal = full.withWindows(full.window(), Integer.getInteger("moekit.sensitivityWindows", full.windowsPerFile()));
        try (Checkpoint in = Checkpoint.open(orig)) {
            Sensitivity s = SensitivityProbe.forAllocation(in, o, cal, RuntimeOptions.cpu(), Progress.NONE).orElseThrow();
            System.err.printf(Locale.ROOT, "%s: sensitivity (%s, %s) measured in %.0f s%n", orig.getFileName(), s.proxy().key(), o.method().name(),
                    (System.nanoTime() - t0) / 1e9);
            return s;
        }
    }

    private static void run(ResultTable table, String model, String setting, Path orig, Path out, QuantOptions o, CalibrationSource src,
                            EvalOptions ev, CalibrationOptions cal) {
        run(table, model, setting, orig, out, o, src, ev, cal, Optional.empty());
    }

    private static void run(ResultTable table, String model, String setting, Path orig, Path out, QuantOptions o, CalibrationSource src,
                            EvalOptions ev, CalibrationOptions cal, Optional<Sensitivity> sensitivity) {
        if (!selected(setting)) {
            return;
        }
        long t0 = System.nanoTime();
        QuantReport r;
        try (Checkpoint in = Checkpoint.open(orig)) {
            r = cal == null ? Quantizer.run(in, out, o, src)
                    : CalibratedGptq.run(in, out, o, cal, RuntimeOptions.cpu(), Progress.NONE, sensitivity).report();
        } catch (IllegalArgumentException e) {
            table.add(model, setting, null, "not run: " + e.getMessage().replace('|', '/'), 0);
            return;
        }
        Path plain = out; // fake-quant (k-quant rows) holds the values already, in the input dtype
        if (o.format().packed()) {
            plain = out.resolveSibling(out.getFileName() + "-dequant");
            Dequantize.run(out, plain, DType.F32, CheckpointWriter.Options.defaults());
        }
        EvalResult e = Evaluator.evaluate(plain, ev, Progress.NONE);
        String note = String.format(Locale.ROOT, "%.2f bits", r.averageStoredBits()) + (r.fallbacks() > 0 ? ", " + r.fallbacks() + " fallbacks" : "");
        long bytes = ModelSetup.bytes(out);
        try { // outputs are measured, not kept: rows reuse folders and the disk stays small
            if (!plain.equals(out)) {
                FileTrees.delete(plain);
            }
            FileTrees.delete(out);
        } catch (java.io.IOException x) {
            throw new java.io.UncheckedIOException(x);
        }
        FRONTIER.add(new Frontier.Point(model, setting, r.averageStoredBits(), e.overallKl().mean()));
        table.add(model, setting, e, note, bytes);
        FRONTIER.png(model, png(model));
        System.err.printf(Locale.ROOT, "%s: %s done in %.0f s (KL %.4f)%n", model, setting, (System.nanoTime() - t0) / 1e9, e.overallKl().mean());
    }

    /** Routed-token counts per expert and layer from one calibration pass (real routing). */
    private static ExpertUsage usage(Path orig, CalibrationOptions cal) {
        try (CausalLm model = CausalLm.open(orig, RuntimeOptions.cpu())) {
            CoverageReport cov = Calibration.run(model, Calibration.batches(orig, cal, 8), cal, new CalibrationObserver() { }, Progress.NONE);
            Map<Integer, long[]> m = new HashMap<>();
            for (LayerRouting lr : cov.layers()) {
                m.put(lr.layer(), lr.counts());
            }
            return new ExpertUsage(m);
        }
    }
}
