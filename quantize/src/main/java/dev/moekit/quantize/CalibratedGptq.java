package dev.moekit.quantize;

import ai.djl.ndarray.NDArray;
import dev.moekit.eval.CalibrationObserver;
import dev.moekit.eval.CalibrationOptions;
import dev.moekit.eval.CoverageReport;
import dev.moekit.eval.Progress;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.LayerWeights;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.eval.runtime.TokenBatch;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.linalg.Linalg;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * GPTQ the way the reference runs it: calibration windows go through the model layer by layer (the {@code eval}
 * module's {@link dev.moekit.eval.Calibration}, sequential mode); while layer {@code l} runs, every planned module's
 * input rows accumulate into its Hessian ({@code H = 2/N X^T X}; padding rows dropped for token-aligned inputs;
 * routed experts see all tokens when the method asks for it, GPTQ's default {@code all_experts}, or the calibration's
 * {@code allExperts} does, else only their routed tokens); when the layer is done its
 * modules are quantized and written, and the layer's weights are replaced by the quantized values, so layer
 * {@code l+1} is calibrated on the outputs of the quantized model. Experts with fewer than {@code minTokens} rows
 * fall back to RTN (reported). Modules outside decoder layers (lm_head, if selected) are RTN. The method is the
 * options' {@link WeightQuantizer} (GPTQ, or any registered quantizer that uses Hessians).
 *
 * <p>Memory: the Hessians of one layer are held at once (for Mixtral-8x7B, 8 experts x (4096^2 + 14336^2) fp32, about
 * 7 GB native).
 */
public final class CalibratedGptq {
    private CalibratedGptq() {
    }

    /** Result: the quantization report and the calibration's routing coverage. */
    public record Result(QuantReport report, CoverageReport coverage) {}

    public static Result run(Checkpoint in, Path out, QuantOptions opts, CalibrationOptions calibration,
                             RuntimeOptions runtime, Progress progress) {
        return run(in, out, opts, calibration, runtime, progress, Optional.empty());
    }

    /**
     * As {@link #run(Checkpoint, Path, QuantOptions, CalibrationOptions, RuntimeOptions, Progress)}, bits planned from
     * a sensitivity measured beforehand ({@link SensitivityProbe}; its routing counts serve usage-based allocators).
     */
    public static Result run(Checkpoint in, Path out, QuantOptions opts, CalibrationOptions calibration,
                             RuntimeOptions runtime, Progress progress, Optional<Sensitivity> sensitivity) {
        if (!opts.method().needsCalibration()) {
            throw new IllegalArgumentException("calibrated quantization runs a method that uses calibration Hessians (gptq); '"
                    + opts.method().name() + "' needs no calibration");
        }
        ModelSpec spec = ModelSpec.of(in);
        if (spec.fusedExperts()) {
            throw new CheckpointException(in.dir() + ": calibrated GPTQ needs per-expert tensors (this checkpoint fuses experts)");
        }
        Linalg la = Linalg.nd4j();
        try (QuantSession session = QuantSession.open(in, out, opts, sensitivity.map(Sensitivity::usage), sensitivity, la);
             CausalLm model = CausalLm.of(in, spec, runtime);
             Observer obs = new Observer(session, la, allExperts(calibration, opts), model, opts)) {
            List<TokenBatch> batches = dev.moekit.eval.Calibration.batches(in.dir(), calibration, runtime.batchSize());
            CoverageReport coverage = dev.moekit.eval.Calibration.run(model, batches, calibration.withSequential(true), obs, progress);
            return new Result(session.finish(), coverage);
        }
    }

    /**
     * One batch work unit of a calibrated quantization: quantizes the modules of layers {@code [from, to)} whose
     * tensors {@code mine} accepts, writing them and the unit's other tensors through {@code writerFor}.
     * {@code sequential}: the layers run in order on the hidden states in {@code inputs} (the previous unit's
     * {@code outputs}; null for layer 0) and each is replaced by its quantized values before the next runs, as in
     * {@link #run}; the states leaving layer {@code to - 1} go to {@code outputs} (null after the last layer). Not
     * sequential ({@code inputs: original}): every layer {@code l} is calibrated on the original model's activations,
     * read from {@code originalInputs.apply(l)} ({@link #saveInputs}).
     *
     * @return the unit's module reports (checkpoint order) and the routing coverage of its layers
     */
    public static UnitResult runUnit(Checkpoint in, QuantOptions opts, CalibrationOptions calibration, RuntimeOptions runtime, Progress progress,
                                     java.util.function.Predicate<String> mine,
                                     java.util.function.Function<List<dev.moekit.toolkit.io.TensorSpec>, dev.moekit.toolkit.io.CheckpointWriter> writerFor,
                                     int from, int to, boolean sequential, Path inputs, Path outputs, java.util.function.IntFunction<Path> originalInputs) {
        ModelSpec spec = ModelSpec.of(in);
        if (spec.fusedExperts()) {
            throw new CheckpointException(in.dir() + ": calibrated GPTQ needs per-expert tensors (this checkpoint fuses experts)");
        }
        Linalg la = Linalg.nd4j();
        try (QuantSession session = QuantSession.openUnit(in, opts, la, mine, writerFor);
             CausalLm model = CausalLm.of(in, spec, runtime);
             Observer obs = new Observer(session, la, allExperts(calibration, opts), model, opts)) {
            List<TokenBatch> batches = dev.moekit.eval.Calibration.batches(in.dir(), calibration, runtime.batchSize());
            java.util.List<dev.moekit.eval.LayerRouting> routing = new java.util.ArrayList<>();
            if (sequential) {
                routing.addAll(dev.moekit.eval.Calibration.runLayers(model, batches, calibration.withSequential(true), obs, progress, from, to,
                        inputs, outputs).layers());
            } else {
                for (int l = from; l < to; l++) {
                    if (obs.observes(l)) {
                        routing.addAll(dev.moekit.eval.Calibration.observeLayer(model, batches, calibration, obs, l, originalInputs.apply(l)).layers());
                    }
                }
            }
            return new UnitResult(session.finishUnit(), new CoverageReport(calibration.minTokens(), routing));
        }
    }

    /**
     * Whether every routed expert sees every calibration token: asked for by the calibration ({@code --all-experts})
     * or by the method (GPTQ's {@code all_experts}, on by default). One rule for whole runs and batch units alike.
     */
    static boolean allExperts(CalibrationOptions calibration, QuantOptions opts) {
        return calibration.allExperts() || opts.method().calibratesAllExperts();
    }

    /** What a unit did: its modules' reports and its layers' routing coverage. */
    public record UnitResult(List<QuantReport.ModuleReport> modules, CoverageReport coverage) {}

    /**
     * The unit that feeds {@code inputs: original}: runs the unquantized model once and writes the hidden states
     * entering each of {@code layers} to {@code file.apply(l)}.
     */
    public static void saveInputs(Checkpoint in, CalibrationOptions calibration, RuntimeOptions runtime, Progress progress,
                                  java.util.Collection<Integer> layers, java.util.function.IntFunction<Path> file) {
        ModelSpec spec = ModelSpec.of(in);
        try (CausalLm model = CausalLm.of(in, spec, runtime)) {
            List<TokenBatch> batches = dev.moekit.eval.Calibration.batches(in.dir(), calibration, runtime.batchSize());
            dev.moekit.eval.Calibration.saveInputs(model, batches, layers, file, progress);
        }
    }

    /** The role whose input hook stands for {@code role}'s input (q/k/v share one, gate/up share one). */
    static Role inputRole(Role role) {
        return switch (role) {
            case Q, K, V -> Role.Q;
            case MLP_GATE, MLP_UP -> Role.MLP_GATE;
            case EXPERT_GATE, EXPERT_UP -> Role.EXPERT_GATE;
            case SHARED_GATE, SHARED_UP -> Role.SHARED_GATE;
            default -> role;
        };
    }

    /**
     * Accumulates each planned module's input Hessian while its layer runs, and quantizes the layer's modules when it
     * is done. When the method runs on the runtime's device ({@link BoundQuantizer#runsOnDevice}: GPTQ with
     * {@code gptq_device} {@code runtime}, or {@code auto} on a GPU) the Hessians are NDArrays on that device, fed the
     * calibration's arrays as they are (padding rows zeroed by the token mask, no host copy per batch), and the routed
     * experts of a layer that share a role are quantized in one call ({@link QuantSession#quantizeAll}); otherwise
     * inputs are copied to host Hessians and modules quantized one by one, as before.
     */
    private static final class Observer implements CalibrationObserver, AutoCloseable {
        private final QuantSession session;
        private final Linalg la;
        private final boolean allExperts;
        private final Set<Role> inputs = new LinkedHashSet<>();
        private final Map<String, Hessian> hessians = new HashMap<>();
        private final ai.djl.Device device; // the runtime's device
        private final ai.djl.ndarray.NDManager deviceHessians; // holds device Hessians; null: host Hessians
        private boolean[] mask;
        private NDArray maskRows; // the step's token mask [N] on the device (device Hessians only)
        private long realRows;

        Observer(QuantSession session, Linalg la, boolean allExperts, CausalLm model, QuantOptions opts) {
            this.session = session;
            this.la = la;
            this.allExperts = allExperts;
            this.device = model.options().device();
            this.deviceHessians = opts.method().runsOnDevice(device) ? model.manager().newSubManager() : null;
            session.planned().forEach(m -> inputs.add(inputRole(m.role())));
        }

        private static String key(int layer, int expert, Role inputRole) {
            return layer + "/" + expert + "/" + inputRole;
        }

        @Override
        public boolean observes(int layer) {
            return !session.planned(layer).isEmpty();
        }

        @Override
        public Set<Role> linearInputs() {
            return inputs;
        }

        @Override
        public boolean allExperts() {
            return allExperts;
        }

        @Override
        public void tokenMask(NDArray m) {
            mask = m.toBooleanArray();
            maskRows = m;
            realRows = 0;
            for (boolean b : mask) {
                realRows += b ? 1 : 0;
            }
        }

        @Override
        public void linearInput(int layer, Role role, int expert, NDArray input) {
            if (deviceHessians != null) {
                deviceInput(layer, role, expert, input);
                return;
            }
            long[] shape = input.getShape().getShape();
            int n = (int) shape[0];
            int cols = (int) shape[1];
            float[] x = input.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
            if (mask != null && mask.length == n) { // token-aligned rows: drop padding
                int kept = 0;
                for (int t = 0; t < n; t++) {
                    if (mask[t]) {
                        System.arraycopy(x, t * cols, x, kept++ * cols, cols);
                    }
                }
                n = kept;
            }
            hessians.computeIfAbsent(key(layer, expert, role), k -> new Hessian(cols, la)).addBatch(x, n);
        }

        /** Token-aligned rows have their padding zeroed by the mask on the device; routed rows are all real. */
        private void deviceInput(int layer, Role role, int expert, NDArray input) {
            long[] shape = input.getShape().getShape();
            int cols = (int) shape[1];
            Hessian h = hessians.computeIfAbsent(key(layer, expert, role), k -> Hessian.onDevice(cols, deviceHessians));
            if (mask != null && mask.length == shape[0]) {
                try (NDArray mk = maskRows.toType(input.getDataType(), false); NDArray col = mk.reshape(-1, 1); NDArray x = input.mul(col)) {
                    h.addBatch(x, realRows);
                }
            } else {
                h.addBatch(input, shape[0]);
            }
        }

        @Override
        public void layerDone(int layer, LayerWeights weights) {
            if (deviceHessians != null) {
                Map<Role, List<LinearModule>> byRole = new java.util.LinkedHashMap<>();
                session.planned(layer).forEach(m -> byRole.computeIfAbsent(m.role(), r -> new java.util.ArrayList<>()).add(m));
                for (List<LinearModule> ms : byRole.values()) {
                    List<float[]> ws = ms.stream().map(m -> weights.floats(m.role(), m.expert())).toList();
                    List<Hessian> hs = ms.stream().map(m -> hessians.get(key(layer, m.expert(), inputRole(m.role())))).toList();
                    List<QuantizedMatrix> qs = session.quantizeAll(ms, ws, hs, device);
                    for (int i = 0; i < ms.size(); i++) {
                        weights.replace(ms.get(i).role(), ms.get(i).expert(), qs.get(i).dequantize());
                    }
                }
            } else {
                for (LinearModule m : session.planned(layer)) {
                    Hessian h = hessians.get(key(layer, m.expert(), inputRole(m.role())));
                    QuantizedMatrix q = session.quantize(m, weights.floats(m.role(), m.expert()), h, device);
                    weights.replace(m.role(), m.expert(), q.dequantize());
                }
            }
            hessians.entrySet().removeIf(e -> {
                if (e.getKey().startsWith(layer + "/")) {
                    e.getValue().close();
                    return true;
                }
                return false;
            });
        }

        @Override
        public void close() {
            hessians.values().forEach(Hessian::close);
            hessians.clear();
            if (deviceHessians != null) {
                deviceHessians.close();
            }
        }
    }
}
