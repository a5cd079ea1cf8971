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
import dev.moekit.quantize.QuantOptions;
import dev.moekit.quantize.QuantReport;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.Quantizer;
import dev.moekit.quantize.Sensitivity;
import dev.moekit.quantize.SensitivityProbe;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.model.ModelSpec;
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

    private static final Pattern ROWS = Pattern.compile(System.getProperty("moekit.rows", ".*"));

    private static boolean selected(String setting) {
        return ROWS.matcher(setting).matches();
    }

    public static void main(String[] args) throws Exception {
        RunArgs a = RunArgs.parse(args, 8, 8, "moekit-quant-results");
        int evalWindows = a.evalWindows();
        int calWindows = a.calWindows();
        StringBuilder md = new StringBuilder("# Quantization results\n\n");
        md.append("Produced by `scripts/results-quantization.sh` (").append(Instant.now().toString(), 0, 10).append(", ")
                .append(Runtime.getRuntime().availableProcessors()).append(" CPU cores). ")
                .append("Every output is written as compressed-tensors `pack-quantized` (symmetric, groups of 128, scales in the ")
                .append("checkpoint dtype; routers, embeddings, norms and lm_head unquantized), its size on disk measured, then ")
                .append("dequantized and evaluated on the first ").append(evalWindows).append(" windows of 256 tokens of each ")
                .append("`*.test.txt` split against the original (mean KL over all scored positions, top-1 agreement). GPTQ and ")
                .append("the usage heuristic calibrate on ").append(calWindows).append(" windows of each `*.valid.txt` split. ")
                .append("Mixed precision: attention and shared experts always high; the heuristics then make half of the routed ")
                .append("expert weights high (4/2 bits for the ~3.0 rows, 3/2 for the ~2.5 rows) by the first blocks, the most ")
                .append("used experts per layer, or the top outlier scores; the solver picks from 2/3/4/8 bits to meet the ")
                .append("average at the least estimated error, the error of each unit (a module, or a layer's routed experts) ")
                .append("being its measured sensitivity (proxy `output`: the relative change of its decoder layer's output when only ")
                .append("that unit is quantized by the row's method, on the calibration windows). GPTQ calibrates every routed ")
                .append("expert on every token (`all_experts`, the default). 'bits' is the average stored bits per quantized weight, scales ")
                .append("included. Per-expert choices (most used, outliers) give a layer's experts different widths, which fused ")
                .append("MoE kernels (vLLM, llama.cpp) cannot run; the other rows keep one width per layer of experts.\n\n");
        ResultTable table = new ResultTable(a.outMd(), md.toString(), a.models());
        for (String m : a.models()) {
            runModel(a.setup(m), table);
        }
        table.write();
    }

    private static void runModel(ModelSetup setup, ResultTable table) throws Exception {
        String name = setup.name();
        Path work = setup.work();
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
        for (int bits : new int[] {8, 4, 3, 2}) {
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
        Sensitivity rtnSens = null;
        Sensitivity gptqSens = null;
        for (double avg : new double[] {3.0, 2.5}) {
            QuantOptions o = base.withAllocation(BoundAllocator.of("budget", new BudgetAllocator.Parameters(avg, List.of(2, 3, 4, 8))));
            String rtnRow = "solver RTN, " + avg + " bits";
            if (selected(rtnRow)) {
                rtnSens = rtnSens != null ? rtnSens : sensitivity(orig, o, cal);
                run(table, name, rtnRow, orig, work.resolve("solver" + avg), o, CalibrationSource.sensitivityOnly(rtnSens), ev, null);
            }
            String gptqRow = "solver GPTQ, " + avg + " bits";
            if (selected(gptqRow)) {
                gptqSens = gptqSens != null ? gptqSens : sensitivity(orig, o.withMethod("gptq"), cal);
                run(table, name, gptqRow, orig, work.resolve("solvergptq" + avg), o.withMethod("gptq"), null, ev, cal, Optional.of(gptqSens));
            }
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
        Path plain = out.resolveSibling(out.getFileName() + "-dequant");
        Dequantize.run(out, plain, DType.F32, CheckpointWriter.Options.defaults());
        EvalResult e = Evaluator.evaluate(plain, ev, Progress.NONE);
        String note = String.format(Locale.ROOT, "%.2f bits", r.averageStoredBits()) + (r.fallbacks() > 0 ? ", " + r.fallbacks() + " RTN fallbacks" : "");
        table.add(model, setting, e, note, ModelSetup.bytes(out));
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
