package dev.moekit.quantize;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.moekit.eval.Calibration;
import dev.moekit.eval.CalibrationOptions;
import dev.moekit.eval.Progress;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.ForwardObserver;
import dev.moekit.eval.runtime.LayerWeights;
import dev.moekit.eval.runtime.Pass;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.eval.runtime.TokenBatch;
import dev.moekit.quantize.Sensitivity.Proxy;
import dev.moekit.quantize.method.Rtn;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.linalg.Linalg;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Measures {@link Sensitivity}: one calibration pass through the original model (the {@code eval} runtime layer by
 * layer, {@link Calibration}'s windows, real routing, padding dropped) with an observer that accumulates, per linear
 * input, {@code E[x_j^2]} (llama.cpp's
 * importance matrix) and, for the {@code hessian} and {@code gptq} proxies, the full second moment
 * {@code E[x x^T]} (GPTQ's {@link Hessian} up to its factor 2); per routed expert the routed tokens and the sum of its
 * squared gate weights. When a layer is done, every selected module of it is quantized at each candidate width and
 * its error is measured:
 * <ul>
 *   <li>{@code output} (the default): the layer is run again on the calibration tokens with only this unit quantized
 *       (a module, or all routed experts of the layer when they must share one width), and the squared change of the
 *       layer's output per token is the error; the unit's error is shared among its modules by parameter count.
 *       The dW is the method's: RTN, or GPTQ on the module's Hessian when the method calibrates (with
 *       {@code allExperts} on, routed experts' Hessians see every token, as GPTQ will). Costs one layer run per unit
 *       and width;</li>
 *   <li>{@code imatrix}: {@code sum_j E[x_j^2] sum_i dW_ij^2} with dW from RTN (the method's own when it is
 *       data-free, e.g. RTN with clipping search);</li>
 *   <li>{@code hessian}: {@code tr(dW E[x x^T] dW^T) = E||dW x||^2}, dW as for {@code imatrix};</li>
 *   <li>{@code gptq}: the same trace with dW from the options' calibrated method (GPTQ on this Hessian), i.e. the
 *       objective GPTQ minimises, at its own result.</li>
 * </ul>
 * The last three are in each module's own output units, which differ between modules (q/k outputs only feed
 * attention scores; gate/up feed a nonlinearity): on the reference models they rank q/k highest and o_proj lowest,
 * the reverse of their measured effect, so they are options, not the default. A routed expert's error under them is
 * multiplied by its usage weight {@code (tokens routed / tokens) * E[gate^2 | routed]}
 * {@code = sum over its tokens of gate^2 / tokens}, so it is in the same units as a module every token passes through
 * (weight 1): the expected squared error it adds to the layer's output per token. Modules whose input the runtime does
 * not report (lm_head) are scored by {@code ||dW||^2} times the mean {@code E[x_j^2]} of the measured modules and
 * listed as unmeasured.
 *
 * <p>The Hessians of one layer live at a time (as in {@link CalibratedGptq}); the {@code gptq} proxy runs GPTQ once per
 * candidate width, so it costs about that many GPTQ runs.
 */
public final class SensitivityProbe {
    private SensitivityProbe() {
    }

    /**
     * The proxy {@code auto} stands for: {@code output}, measured with the run's method (so GPTQ's own error when the
     * method is GPTQ).
     */
    public static Proxy resolve(String proxy, BoundQuantizer<?> method) {
        if (proxy == null || proxy.trim().equalsIgnoreCase("auto")) {
            return Proxy.OUTPUT;
        }
        Proxy p = Proxy.of(proxy);
        if (p == Proxy.GPTQ && !method.needsCalibration()) {
            throw new IllegalArgumentException("proxy gptq measures the error of a calibrated method; method '" + method.name()
                    + "' is data-free (use imatrix or hessian)");
        }
        return p;
    }

    /**
     * The sensitivity {@code opts}' allocator asks for ({@link BoundAllocator#sensitivityProxy}), measured at its
     * candidate schemes; empty when it asks for none.
     */
    public static java.util.Optional<Sensitivity> forAllocation(Checkpoint in, QuantOptions opts, CalibrationOptions calibration,
                                                                RuntimeOptions runtime, Progress progress) {
        java.util.Optional<String> proxy = opts.allocation().sensitivityProxy();
        if (proxy.isEmpty()) {
            return java.util.Optional.empty();
        }
        return java.util.Optional.of(measure(in, opts, opts.allocation().candidates(opts.scheme()), resolve(proxy.get(), opts.method()),
                calibration, runtime, progress));
    }

    /**
     * Measures the modules {@code opts} selects at each of {@code schemes} with {@code proxy} (not {@link Proxy#WEIGHT}, which
     * needs no calibration).
     */
    public static Sensitivity measure(Checkpoint in, QuantOptions opts, List<QuantScheme> schemes, Proxy proxy, CalibrationOptions calibration,
                                      RuntimeOptions runtime, Progress progress) {
        if (proxy == Proxy.WEIGHT) {
            throw new IllegalArgumentException("the weight proxy is computed from the weights alone; nothing to measure");
        }
        ModelSpec spec = ModelSpec.of(in);
        if (spec.fusedExperts()) {
            throw new CheckpointException(in.dir() + ": measuring sensitivity needs per-expert tensors (this checkpoint fuses experts)");
        }
        List<LinearModule> selected = ModuleCatalog.of(in, spec).linears().stream().filter(m -> opts.selector().matches(m.candidate())).toList();
        Linalg la = Linalg.nd4j();
        List<TokenBatch> batches = Calibration.batches(in.dir(), calibration, runtime.batchSize());
        boolean gptqExperts = proxy == Proxy.OUTPUT && opts.method().needsCalibration()
                && CalibratedGptq.allExperts(calibration, opts);
        try (CausalLm model = CausalLm.of(in, spec, runtime);
             Observer obs = new Observer(in, opts, selected, schemes, proxy, la, gptqExperts);
             Pass pass = model.begin(batches)) {
            for (int l = 0; l < spec.layers(); l++) {
                LayerWeights w = pass.layer();
                obs.beginLayer();
                pass.observe(obs);                                     // statistics and the reference output
                if (gptqExperts) {
                    pass.observe(obs.expertHessians());                // every token through every expert, for GPTQ
                }
                obs.layerDone(l, w, pass);
                pass.advance(ForwardObserver.NONE);
                progress.update("sensitivity", l + 1, spec.layers());
            }
            return obs.result();
        }
    }

    /** Squared change of a layer's output against the reference outputs, over real tokens. */
    private static final class OutputError implements ForwardObserver {
        private final List<float[]> reference;
        private final List<boolean[]> masks;
        private int batch;
        double sum;

        OutputError(List<float[]> reference, List<boolean[]> masks) {
            this.reference = reference;
            this.masks = masks;
        }

        @Override
        public void layerOutput(int layer, NDArray hidden) {
            boolean[] mask = masks.get(batch);
            float[] y = hidden.toType(DataType.FLOAT32, false).toFloatArray();
            float[] r = reference.get(batch);
            int n = (int) hidden.getShape().get(0);
            int d = y.length / n;
            for (int t = 0; t < n; t++) {
                if (mask != null && mask.length == n && !mask[t]) {
                    continue;
                }
                for (int j = t * d; j < (t + 1) * d; j++) {
                    double e = y[j] - r[j];
                    sum += e * e;
                }
            }
            batch++;
        }
    }

    private static final class Observer implements ForwardObserver, AutoCloseable {
        private final Checkpoint in;
        private final QuantOptions opts;
        private final List<LinearModule> modules;
        private final List<QuantScheme> schemes;
        private final Proxy proxy;
        private final Linalg la;
        private final Set<Role> inputs = new LinkedHashSet<>();
        private final Map<String, Input> stats = new HashMap<>();
        private final Map<Integer, double[]> gateSquares = new HashMap<>(); // layer -> per expert sum of gate^2
        private final Map<Integer, Long> layerTokens = new HashMap<>();
        private final Map<String, double[]> errors = new LinkedHashMap<>();
        private final Map<String, Double> weights = new LinkedHashMap<>();
        private final Map<String, double[]> unmeasured = new LinkedHashMap<>();
        private double momentSum;
        private long momentCount;
        private long tokens;
        private boolean[] mask;
        private final boolean gptqExperts;
        private final Map<Integer, long[]> routed = new HashMap<>();
        private final List<float[]> reference = new ArrayList<>();
        private final List<boolean[]> masks = new ArrayList<>();
        private boolean expertPass; // the second observe: experts' Hessians from every token

        /** Accumulated statistics of one linear input. */
        private static final class Input implements AutoCloseable {
            final double[] squares;
            final Hessian hessian;
            long rows;

            Input(int cols, boolean full, Linalg la) {
                squares = new double[cols];
                hessian = full ? new Hessian(cols, la) : null;
            }

            @Override
            public void close() {
                if (hessian != null) {
                    hessian.close();
                }
            }
        }

        Observer(Checkpoint in, QuantOptions opts, List<LinearModule> modules, List<QuantScheme> schemes, Proxy proxy, Linalg la,
                 boolean gptqExperts) {
            this.gptqExperts = gptqExperts;
            this.in = in;
            this.opts = opts;
            this.modules = modules;
            this.schemes = List.copyOf(schemes);
            this.proxy = proxy;
            this.la = la;
            modules.forEach(m -> inputs.add(CalibratedGptq.inputRole(m.role())));
        }

        private List<LinearModule> layer(int layer) {
            return modules.stream().filter(m -> m.layer() == layer).toList();
        }

        private static String key(int layer, int expert, Role inputRole) {
            return layer + "/" + expert + "/" + inputRole;
        }

        void beginLayer() {
            reference.clear();
            masks.clear();
            expertPass = false;
        }

        /** The observer of the all-experts pass: only routed experts' inputs, every token. */
        ForwardObserver expertHessians() {
            Observer self = this;
            return new ForwardObserver() {
                @Override
                public Set<Role> linearInputs() {
                    return Set.of(Role.EXPERT_GATE, Role.EXPERT_DOWN);
                }

                @Override
                public boolean allExperts() {
                    return true;
                }

                @Override
                public void tokenMask(NDArray m) {
                    self.mask = m.toBooleanArray();
                }

                @Override
                public void linearInput(int layer, Role role, int expert, NDArray input) {
                    if (expert >= 0) {
                        self.expertPass = true;
                        self.linearInput(layer, role, expert, input);
                    }
                }
            };
        }

        @Override
        public void layerOutput(int layer, NDArray hidden) {
            if (proxy == Proxy.OUTPUT) {
                reference.add(hidden.toType(DataType.FLOAT32, false).toFloatArray());
                masks.add(mask);
            }
        }

        @Override
        public Set<Role> linearInputs() {
            return inputs;
        }

        @Override
        public void tokenMask(NDArray m) {
            mask = m.toBooleanArray();
        }

        @Override
        public void layerInput(int layer, NDArray hidden) {
            long n = real(hidden.getShape().get(0));
            layerTokens.merge(layer, n, Long::sum);
            if (layer == 0) {
                tokens += n;
            }
        }

        private long real(long rows) {
            if (mask == null || mask.length != rows) {
                return rows;
            }
            long n = 0;
            for (boolean b : mask) {
                n += b ? 1 : 0;
            }
            return n;
        }

        @Override
        public void router(int layer, RouterOutput routing) {
            long[] idx = routing.topIndices().toType(DataType.INT64, false).toLongArray();
            float[] g = routing.topWeights().toType(DataType.FLOAT32, false).toFloatArray();
            long n = routing.topIndices().getShape().get(0);
            int k = (int) (idx.length / n);
            int experts = (int) routing.scores().getShape().get(1);
            double[] acc = gateSquares.computeIfAbsent(layer, l -> new double[experts]);
            long[] count = routed.computeIfAbsent(layer, l -> new long[experts]);
            for (int t = 0; t < n; t++) {
                if (mask != null && mask.length == n && !mask[t]) {
                    continue;
                }
                for (int c = 0; c < k; c++) {
                    double w = g[t * k + c];
                    acc[(int) idx[t * k + c]] += w * w;
                    count[(int) idx[t * k + c]]++;
                }
            }
        }

        @Override
        public void linearInput(int layer, Role role, int expert, NDArray input) {
            if (gptqExperts && expert >= 0 && !expertPass) {
                return; // routed experts' Hessians come from the all-experts pass
            }
            long[] shape = input.getShape().getShape();
            int n = (int) shape[0];
            int cols = (int) shape[1];
            float[] x = input.toType(DataType.FLOAT32, false).toFloatArray();
            if (mask != null && mask.length == n) { // token-aligned rows: drop padding
                int kept = 0;
                for (int t = 0; t < n; t++) {
                    if (mask[t]) {
                        System.arraycopy(x, t * cols, x, kept++ * cols, cols);
                    }
                }
                n = kept;
            }
            boolean full = proxy != Proxy.IMATRIX && (proxy != Proxy.OUTPUT || opts.method().needsCalibration());
            Input s = stats.computeIfAbsent(key(layer, expert, role), k -> new Input(cols, full, la));
            for (int t = 0; t < n; t++) {
                int o = t * cols;
                for (int j = 0; j < cols; j++) {
                    double v = x[o + j];
                    s.squares[j] += v * v;
                }
            }
            s.rows += n;
            if (s.hessian != null) {
                s.hessian.addBatch(x, n);
            }
        }

        void layerDone(int layer, LayerWeights lw, Pass pass) {
            if (proxy == Proxy.OUTPUT) {
                measureOutput(layer, lw, pass);
            } else {
                for (LinearModule m : layer(layer)) {
                    measure(m);
                }
            }
            stats.entrySet().removeIf(e -> {
                if (e.getKey().startsWith(layer + "/")) {
                    e.getValue().close();
                    return true;
                }
                return false;
            });
        }

        private void measure(LinearModule m) {
            float[] w = Weights.read(in, m);
            Input s = stats.get(key(m.layer(), m.expert(), CalibratedGptq.inputRole(m.role())));
            double weight = usageWeight(m);
            double[] err = new double[schemes.size()];
            if (s == null || s.rows == 0) {
                if (m.role().kind() != Role.Kind.ROUTED_EXPERT) { // no input observed: scored from the weights, scaled later
                    for (int c = 0; c < schemes.size(); c++) {
                        err[c] = squaredError(w, Rtn.quantize(w, m.rows(), m.cols(), schemes.get(c), DType.F32).dequantize());
                    }
                    unmeasured.put(m.module(), err);
                    weights.put(m.module(), 1.0);
                    return;
                }
                // a routed expert that real routing never chose: no output error on this data (weight 0)
                errors.put(m.module(), err);
                weights.put(m.module(), 0.0);
                return;
            }
            double[] moment = new double[m.cols()];
            for (int j = 0; j < moment.length; j++) {
                moment[j] = s.squares[j] / s.rows;
                momentSum += moment[j];
            }
            momentCount += moment.length;
            float[] h = proxy == Proxy.IMATRIX ? null : s.hessian.matrix(); // 2/N X^T X
            for (int c = 0; c < schemes.size(); c++) {
                QuantScheme scheme = schemes.get(c);
                float[] q = proxy == Proxy.GPTQ || !opts.method().needsCalibration()
                        ? opts.method().quantize(new WeightQuantizer.Input(m, w, scheme, s.hessian, DType.F32, la)).quantized().dequantize()
                        : Rtn.quantize(w, m.rows(), m.cols(), scheme, DType.F32).dequantize();
                float[] dw = new float[w.length];
                for (int i = 0; i < w.length; i++) {
                    dw[i] = w[i] - q[i];
                }
                err[c] = weight * (proxy == Proxy.IMATRIX ? diagonal(dw, moment, m.cols()) : trace(dw, h, m.rows(), m.cols()));
            }
            errors.put(m.module(), err);
            weights.put(m.module(), weight);
        }

        /** Units of one layer: each module alone, or the routed experts together when they share one width. */
        private List<List<LinearModule>> units(int layer) {
            List<List<LinearModule>> units = new ArrayList<>();
            List<LinearModule> experts = new ArrayList<>();
            for (LinearModule m : layer(layer)) {
                if (opts.uniformExpertBits() && m.role().kind() == Role.Kind.ROUTED_EXPERT) {
                    experts.add(m);
                } else {
                    units.add(List.of(m));
                }
            }
            if (!experts.isEmpty()) {
                units.add(experts);
            }
            return units;
        }

        /** The {@code output} proxy: the layer re-run per unit and width, only that unit quantized. */
        private void measureOutput(int layer, LayerWeights lw, Pass pass) {
            long n = layerTokens.getOrDefault(layer, 0L);
            double referenceSquares = 0; // sum over real tokens of ||y_l||^2
            for (int b = 0; b < reference.size(); b++) {
                float[] y = reference.get(b);
                boolean[] mk = masks.get(b);
                int rows = mk == null ? 1 : mk.length;
                int d = y.length / rows;
                for (int t = 0; t < rows; t++) {
                    if (mk != null && !mk[t]) {
                        continue;
                    }
                    for (int j = t * d; j < (t + 1) * d; j++) {
                        referenceSquares += (double) y[j] * y[j];
                    }
                }
            }
            for (List<LinearModule> unit : units(layer)) {
                List<float[]> original = new ArrayList<>();
                List<float[]> source = new ArrayList<>();
                for (LinearModule m : unit) {
                    original.add(lw.floats(m.role(), m.expert()));
                    source.add(Weights.read(in, m));
                }
                double[] err = new double[schemes.size()];
                for (int c = 0; c < schemes.size(); c++) {
                    QuantScheme scheme = schemes.get(c);
                    for (int i = 0; i < unit.size(); i++) {
                        LinearModule m = unit.get(i);
                        lw.replace(m.role(), m.expert(), quantized(m, source.get(i), scheme));
                    }
                    OutputError oe = new OutputError(reference, masks);
                    pass.observe(oe);
                    err[c] = n == 0 ? 0 : oe.sum / referenceSquares;
                }
                for (int i = 0; i < unit.size(); i++) {
                    lw.replace(unit.get(i).role(), unit.get(i).expert(), original.get(i));
                }
                long params = unit.stream().mapToLong(LinearModule::params).sum();
                for (LinearModule m : unit) {
                    double[] share = new double[err.length];
                    for (int c = 0; c < err.length; c++) {
                        share[c] = err[c] * m.params() / params;
                    }
                    errors.put(m.module(), share);
                    weights.put(m.module(), 1.0);
                }
            }
        }

        /** The method's dequantized result: on the module's Hessian when the method calibrates (GPTQ, importance RTN). */
        private float[] quantized(LinearModule m, float[] w, QuantScheme scheme) {
            if (opts.method().needsCalibration()) {
                Input s = stats.get(key(m.layer(), m.expert(), CalibratedGptq.inputRole(m.role())));
                return opts.method().quantize(new WeightQuantizer.Input(m, w, scheme, s == null ? null : s.hessian, DType.F32, la))
                        .quantized().dequantize();
            }
            return opts.method().quantize(new WeightQuantizer.Input(m, w, scheme, null, DType.F32, la)).quantized().dequantize();
        }

        /** {@code sum over its routed tokens of gate^2 / tokens} for a routed expert, 1 otherwise. */
        private double usageWeight(LinearModule m) {
            if (m.role().kind() != Role.Kind.ROUTED_EXPERT) {
                return 1.0;
            }
            double[] g = gateSquares.get(m.layer());
            long n = layerTokens.getOrDefault(m.layer(), 0L);
            if (g == null || n == 0 || m.expert() >= g.length) {
                throw new IllegalStateException("layer " + m.layer() + ": no routing was observed for routed expert " + m.module());
            }
            return g[m.expert()] / n;
        }

        /** {@code sum_ij dW_ij^2 m_j}. */
        private static double diagonal(float[] dw, double[] moment, int cols) {
            double e = 0;
            for (int i = 0; i < dw.length; i++) {
                e += (double) dw[i] * dw[i] * moment[i % cols];
            }
            return e;
        }

        /** {@code tr(dW H dW^T) / 2} with {@code H = 2/N X^T X}: {@code E||dW x||^2}. */
        private double trace(float[] dw, float[] h, int rows, int cols) {
            float[] dh = la.matmul(dw, h, rows, cols, cols);
            double e = 0;
            for (int i = 0; i < dw.length; i++) {
                e += (double) dh[i] * dw[i];
            }
            return e / 2;
        }

        private static double squaredError(float[] w, float[] q) {
            double e = 0;
            for (int i = 0; i < w.length; i++) {
                double d = w[i] - q[i];
                e += d * d;
            }
            return e;
        }

        Sensitivity result() {
            ExpertUsage usage = new ExpertUsage(routed);
            double meanMoment = momentCount == 0 ? 1.0 : momentSum / momentCount;
            Map<String, double[]> all = new LinkedHashMap<>();
            for (LinearModule m : modules) {
                double[] e = errors.get(m.module());
                if (e == null) {
                    double[] u = unmeasured.get(m.module());
                    if (u == null) { // a module outside every decoder layer (lm_head): never reached layerDone
                        measureUnobserved(m);
                        u = unmeasured.get(m.module());
                    }
                    e = u.clone();
                    for (int c = 0; c < e.length; c++) {
                        e[c] *= meanMoment;
                    }
                }
                all.put(m.module(), e);
            }
            return new Sensitivity(proxy, schemes, all, weights, unmeasured.keySet(), tokens, usage);
        }

        private void measureUnobserved(LinearModule m) {
            float[] w = Weights.read(in, m);
            double[] err = new double[schemes.size()];
            for (int c = 0; c < schemes.size(); c++) {
                err[c] = squaredError(w, Rtn.quantize(w, m.rows(), m.cols(), schemes.get(c), DType.F32).dequantize());
            }
            unmeasured.put(m.module(), err);
            weights.put(m.module(), 1.0);
        }

        @Override
        public void close() {
            stats.values().forEach(Input::close);
            stats.clear();
        }
    }
}
