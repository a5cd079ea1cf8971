package dev.moekit.quantize.method;

import ai.djl.Device;
import dev.moekit.quantize.Hessian;
import dev.moekit.quantize.LinearModule;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.QuantizedMatrix;
import dev.moekit.quantize.WeightQuantizer;
import dev.moekit.toolkit.method.Doc;

/**
 * Weight quantizer {@code gptq}: GPTQ ({@link Gptq}) with the calibration Hessian of each module's input, damping
 * raised automatically when the Hessian is not positive definite ({@link GptqRetry}). A module falls back to RTN, and
 * the report says why, when no calibration reached it, when it saw fewer than {@code min_tokens} rows, or when no
 * damping up to 0.1 made its Hessian positive definite.
 */
public final class GptqQuantizer implements WeightQuantizer<GptqQuantizer.Parameters> {
    /**
     * @param dampPercent damping as a fraction of the mean Hessian diagonal
     * @param actOrder    activation order ({@code desc_act}): columns by decreasing Hessian diagonal, with g_idx
     * @param blockSize   lazy-update block width; a multiple of the group size
     * @param minTokens   modules with fewer calibration rows fall back to RTN
     * @param allExperts  on MoE models, every calibration token goes through every routed expert for its Hessian (the
     *                    layer output keeps the real routing), as llm-compressor's MoE calibration does, so no expert
     *                    falls back to RTN for lack of routed tokens; false: each expert sees only its routed tokens
     * @param clipSearch  find each group's grid by {@link dev.moekit.quantize.Grid#search} weighted by the Hessian
     *                    diagonal, instead of min-max (GPTQModel's {@code mse} option; also for RTN fallbacks)
     * @param gptqDevice  where Hessians accumulate and GPTQ runs ({@link GptqDevice}): {@code auto} (default: the
     *                    calibration runtime's device when it is a GPU, else the host), {@code host}, {@code runtime}
     * @param refit       after GPTQ, refit each group's grid to the codes it chose ({@link GridRefit}): the least
     *                    {@code (w - v)^T H (w - v)} per row, a row kept only where that error falls
     */
    public record Parameters(@Doc("damping, fraction of the mean Hessian diagonal, in (0, 1)") Double dampPercent,
                             @Doc("activation order (desc_act): quantize columns by decreasing Hessian diagonal, writes g_idx") Boolean actOrder,
                             @Doc("lazy-update block width; a multiple of the group size") Integer blockSize,
                             @Doc("modules with fewer calibration tokens fall back to RTN (reported)") Long minTokens,
                             @Doc("MoE: calibrate every routed expert on every token (default true); false: only on its routed tokens") Boolean allExperts,
                             @Doc("search each group's clipping range for the least Hessian-weighted error (default false: min-max grid)") Boolean clipSearch,
                             @Doc("where Hessians accumulate and GPTQ runs: auto (the runtime's device if a GPU, else host), host, or runtime (the runtime's device, CPU included)") GptqDevice gptqDevice,
                             @Doc("refit each group's scale (and minimum) to GPTQ's codes for the least Hessian-weighted error of the row (default false)") Boolean refit) {
        /** Every expert calibrated on all tokens. */
        public Parameters(Double dampPercent, Boolean actOrder, Integer blockSize, Long minTokens) {
            this(dampPercent, actOrder, blockSize, minTokens, null, null, null, null);
        }

        /** Placement {@code auto}. */
        public Parameters(Double dampPercent, Boolean actOrder, Integer blockSize, Long minTokens, Boolean allExperts, Boolean clipSearch) {
            this(dampPercent, actOrder, blockSize, minTokens, allExperts, clipSearch, null, null);
        }

        public Parameters {
            gptqDevice = gptqDevice == null ? GptqDevice.AUTO : gptqDevice;
            clipSearch = clipSearch != null && clipSearch;
            refit = refit != null && refit;
            allExperts = allExperts == null || allExperts;
            dampPercent = dampPercent == null ? 0.01 : dampPercent;
            actOrder = actOrder != null && actOrder;
            blockSize = blockSize == null ? 128 : blockSize;
            minTokens = minTokens == null ? 128 : minTokens;
            if (!(dampPercent > 0 && dampPercent < 1)) {
                throw new IllegalArgumentException("damp_percent must be in (0, 1), got " + dampPercent);
            }
            if (blockSize <= 0) {
                throw new IllegalArgumentException("block_size must be positive, got " + blockSize);
            }
            if (minTokens < 1) {
                throw new IllegalArgumentException("min_tokens must be at least 1, got " + minTokens);
            }
        }

        /** The reference defaults: damping 0.01, no activation order, blocks of 128, 128 tokens at least; all experts calibrated. */
        public static Parameters defaults() {
            return new Parameters(null, null, null, null, null, null, null, null);
        }
    }

    @Override
    public String name() {
        return "gptq";
    }

    @Override
    public String summary() {
        return "GPTQ: column-wise rounding with Hessian error feedback from calibration activations; RTN fallback per module";
    }

    @Override
    public String reference() {
        return "https://arxiv.org/abs/2210.17323";
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
    public boolean activationOrder(Parameters p) {
        return p.actOrder();
    }

    @Override
    public boolean calibratesAllExperts(Parameters p) {
        return p.allExperts();
    }

    @Override
    public long minCalibrationRows(Parameters p) {
        return p.minTokens();
    }

    @Override
    public boolean runsOnDevice(Parameters p, Device runtime) {
        return p.gptqDevice().onDevice(runtime);
    }

    /** Device memory one device call may take for a batch of modules (the experts of a layer sharing a role). */
    static long batchBytes(Device d) {
        return d.isGpu() ? 16L << 30 : 2L << 30;
    }

    /** The device GPTQ runs on for {@code in}, or null for the host. */
    private static Device device(Parameters p, Input in) {
        if (!in.scheme().plainGrid()) {
            return null; // k-quant grids (quantized group scales) and codebooks run on the host
        }
        return p.gptqDevice().onDevice(in.device()) ? (in.device() == null ? Device.cpu() : in.device()) : null;
    }

    @Override
    public void check(Parameters p, QuantScheme s) {
        if (s.groupSize() > 0 && !s.codebook() && p.blockSize() % s.groupSize() != 0) {
            throw new IllegalArgumentException("GPTQ block size " + p.blockSize() + " must be a multiple of the group size " + s.groupSize());
        }
        if (!s.plainGrid() && p.actOrder()) {
            throw new IllegalArgumentException("act_order does not apply to " + s + ": its groups are consecutive columns (no g_idx)");
        }
    }

    @Override
    public Result quantize(Parameters p, Input in) {
        String fallback = tooLittle(p, in);
        if (fallback == null) {
            GptqRetry.Outcome o = GptqRetry.run(in.weight(), in.module(), in.hessian(), in.scheme(), p, in.scaleType(), in.linalg(), device(p, in));
            return result(p, in, o);
        }
        return rtn(p, in, fallback);
    }

    /**
     * On a device, the modules with enough calibration that share a shape, scheme and scale dtype go through
     * {@link DeviceGptq} together, as many per call as {@link #batchBytes} allow; the rest one by one.
     */
    @Override
    public java.util.List<Result> quantizeAll(Parameters p, java.util.List<Input> inputs) {
        Result[] out = new Result[inputs.size()];
        java.util.Map<java.util.List<Object>, java.util.List<Integer>> batches = new java.util.LinkedHashMap<>();
        for (int i = 0; i < inputs.size(); i++) {
            Input in = inputs.get(i);
            Device d = device(p, in);
            if (d != null && tooLittle(p, in) == null) {
                batches.computeIfAbsent(java.util.List.of(d, in.module().rows(), in.module().cols(), in.scheme(), in.scaleType()), k -> new java.util.ArrayList<>()).add(i);
            } else {
                out[i] = quantize(p, in);
            }
        }
        for (var b : batches.entrySet()) {
            java.util.List<Input> ins = b.getValue().stream().map(inputs::get).toList();
            Device d = (Device) b.getKey().getFirst();
            java.util.List<GptqRetry.Outcome> os = GptqRetry.runAll(ins.stream().map(Input::weight).toList(), ins.stream().map(Input::module).toList(),
                    ins.stream().map(Input::hessian).toList(), ins.getFirst().scheme(), p, ins.getFirst().scaleType(), ins.getFirst().linalg(), d, batchBytes(d));
            for (int k = 0; k < ins.size(); k++) {
                out[b.getValue().get(k)] = result(p, ins.get(k), os.get(k));
            }
        }
        return java.util.List.of(out);
    }

    /** Why {@code in} falls back to RTN for lack of calibration, or null. */
    private static String tooLittle(Parameters p, Input in) {
        Hessian h = in.hessian();
        long rows = h == null ? 0 : h.rows();
        if (h == null || rows == 0) {
            return "no calibration data";
        }
        return rows < p.minTokens() ? rows + " calibration tokens < " + p.minTokens() : null;
    }

    private Result result(Parameters p, Input in, GptqRetry.Outcome o) {
        if (o.quantized() != null && in.scheme().codebook()) { // GPTVQ's codebook update is part of the method
            return new Result(CodebookRefit.refit(in.weight(), in.hessian().matrix(), o.quantized(), in.scaleType(), p.dampPercent(), in.linalg()), name(), null);
        }
        if (o.quantized() != null && p.refit()) {
            return new Result(GridRefit.refit(in.weight(), in.hessian().matrix(), o.quantized(), in.scaleType(), p.dampPercent(), in.linalg()), name(), null);
        }
        return o.quantized() != null ? new Result(o.quantized(), name(), null) : rtn(p, in, o.fallback());
    }

    private static Result rtn(Parameters p, Input in, String fallback) {
        LinearModule m = in.module();
        QuantizedMatrix q = Rtn.quantize(in.weight(), m.rows(), m.cols(), in.scheme(), in.scaleType(), p.clipSearch(), null);
        return new Result(q, "rtn", fallback);
    }
}
