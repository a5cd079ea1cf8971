package dev.moekit.quantize;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.linalg.Linalg;
import dev.moekit.toolkit.model.ModelSpec;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One quantization output in progress: the plan is fixed and the writer open; modules are quantized and written in
 * any order ({@link #quantize}, safe to call from several threads), then {@link #finish} quantizes what is left with
 * the method's data-free path (RTN, or GPTQ's fallback), copies every other tensor, writes the configs, and commits.
 * Closing an unfinished session discards the partial output.
 *
 * <p>What {@link #finish} does runs on {@value #IN_FLIGHT} workers: each takes the next module (or tensor to copy),
 * decodes its weight straight from the mapped input into a reused buffer, quantizes it (the quantizer's own rows in
 * parallel), computes its error from the codes and packs it into the writer's native buffer; one module's file write
 * overlaps another's arithmetic. Every tensor lands at its planned offset, so the output bytes do not depend on the
 * order in which workers finish.
 */
public final class QuantSession implements AutoCloseable {
    private final Checkpoint in;
    private final QuantOptions opts;
    private final Linalg linalg;
    private final OutputPlan plan;
    private final Map<LinearModule, QuantScheme> schemes;
    private final CheckpointWriter writer;
    /** Reports of the modules quantized so far. */
    private final Map<LinearModule, QuantReport.ModuleReport> reports = new java.util.concurrent.ConcurrentHashMap<>();
    private final java.util.Set<LinearModule> started = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final Map<String, float[]> fusedBuffers = new HashMap<>(); // guarded by itself, as fusedLeft
    private final Map<String, Integer> fusedLeft = new HashMap<>(); // slices of a fused tensor not yet in its buffer
    /** Modules (or copies) {@link #finish} works on at once. */
    static final int IN_FLIGHT = 2;
    private final WeightBuffers buffers = new WeightBuffers(IN_FLIGHT);
    private final java.util.function.Predicate<String> mine; // a work unit's tensors (by name), or everything

    private QuantSession(Checkpoint in, Path out, QuantOptions opts, Optional<ExpertUsage> usage, Optional<Sensitivity> sensitivity, Linalg linalg) {
        this(in, opts, usage, sensitivity, linalg, null, tensors -> CheckpointWriter.create(out, tensors, opts.writer(), in.dir()));
    }

    private QuantSession(Checkpoint in, QuantOptions opts, Optional<ExpertUsage> usage, Optional<Sensitivity> sensitivity, Linalg linalg,
                         java.util.function.Predicate<String> mine, java.util.function.Function<List<TensorSpec>, CheckpointWriter> writerFor) {
        this.mine = mine == null ? n -> true : mine;
        this.in = in;
        this.opts = opts;
        this.linalg = linalg;
        ModelSpec spec = ModelSpec.of(in);
        ModuleCatalog catalog = ModuleCatalog.of(in, spec);
        Map<LinearModule, QuantScheme> all = Quantizer.planFor(spec, catalog, opts, usage, sensitivity, m -> Weights.read(in, m));
        opts.method().check(opts.scheme());
        all.values().stream().distinct().forEach(s -> opts.method().check(s));
        this.plan = new OutputPlan(in.dir().toString(), spec, catalog, opts, all);
        this.schemes = new java.util.LinkedHashMap<>(all);
        this.writer = writerFor.apply(plan.tensors(in.names().stream().map(n -> TensorSpec.of(in.info(n))).toList()).stream()
                .filter(t -> this.mine.test(t.name())).toList());
        schemes.keySet().removeIf(m -> !this.mine.test(m.tensor()));
    }

    /**
     * A session for one batch work unit: the plan is the whole checkpoint's, but only the modules and tensors whose
     * names {@code mine} accepts are quantized or copied, into the writer {@code writerFor} makes for their output
     * tensors; {@link #finishUnit} commits it. The stage assembles the units' tensors and writes the configs.
     */
    public static QuantSession openUnit(Checkpoint in, QuantOptions opts, Linalg linalg, java.util.function.Predicate<String> mine,
                                        java.util.function.Function<List<TensorSpec>, CheckpointWriter> writerFor) {
        return new QuantSession(in, opts, Optional.empty(), Optional.empty(), linalg, mine, writerFor);
    }

    /** Plans {@code in}'s quantization and opens the output {@code out}. */
    public static QuantSession open(Checkpoint in, Path out, QuantOptions opts, Optional<ExpertUsage> usage, Linalg linalg) {
        return new QuantSession(in, out, opts, usage, Optional.empty(), linalg);
    }

    /** As {@link #open(Checkpoint, Path, QuantOptions, Optional, Linalg)}, bits planned from a measured sensitivity. */
    public static QuantSession open(Checkpoint in, Path out, QuantOptions opts, Optional<ExpertUsage> usage, Optional<Sensitivity> sensitivity,
                                    Linalg linalg) {
        return new QuantSession(in, out, opts, usage, sensitivity, linalg);
    }

    /** Modules to quantize, in checkpoint order. */
    public List<LinearModule> planned() {
        return List.copyOf(schemes.keySet());
    }

    /** Planned modules of one layer (-1: model level). */
    public List<LinearModule> planned(int layer) {
        return schemes.keySet().stream().filter(m -> m.layer() == layer).toList();
    }

    public QuantScheme scheme(LinearModule m) {
        return schemes.get(m);
    }

    /**
     * Quantizes {@code m} from {@code weight} [rows, cols] with the options' method ({@code hessian}: the calibration
     * Hessian of its input, or null), writes it, and returns the quantized matrix.
     */
    public QuantizedMatrix quantize(LinearModule m, float[] weight, Hessian hessian) {
        return quantize(m, weight, hessian, null);
    }

    /** As {@link #quantize(LinearModule, float[], Hessian)}, calibrated on a runtime on {@code device} (null: none). */
    public QuantizedMatrix quantize(LinearModule m, float[] weight, Hessian hessian, ai.djl.Device device) {
        QuantScheme s = schemeToStart(m);
        QuantizedMatrix q = compute(m, weight, s, hessian, device);
        write(m, q);
        return q;
    }

    /**
     * Quantizes and writes several modules in one go (the method may run them together: GPTQ on a device batches
     * modules of one shape), each from its weight and Hessian as {@link #quantize} would; results in order.
     */
    public List<QuantizedMatrix> quantizeAll(List<LinearModule> modules, List<float[]> weights, List<Hessian> hessians, ai.djl.Device device) {
        List<QuantScheme> ss = modules.stream().map(this::schemeToStart).toList();
        List<WeightQuantizer.Input> ins = new java.util.ArrayList<>();
        for (int i = 0; i < modules.size(); i++) {
            ins.add(new WeightQuantizer.Input(modules.get(i), weights.get(i), ss.get(i), hessians.get(i), plan.scaleType, linalg, device));
        }
        List<WeightQuantizer.Result> rs = opts.method().quantizeAll(ins);
        List<QuantizedMatrix> out = new java.util.ArrayList<>();
        for (int i = 0; i < modules.size(); i++) {
            QuantizedMatrix q = report(modules.get(i), weights.get(i), ss.get(i), hessians.get(i), rs.get(i));
            write(modules.get(i), q);
            out.add(q);
        }
        return out;
    }

    private QuantScheme schemeToStart(LinearModule m) {
        QuantScheme s = schemes.get(m);
        if (s == null || !started.add(m)) {
            throw new IllegalArgumentException(m.module() + (s == null ? " is not planned for quantization" : " was already quantized"));
        }
        return s;
    }

    private QuantizedMatrix compute(LinearModule m, float[] weight, QuantScheme s, Hessian h, ai.djl.Device device) {
        return report(m, weight, s, h, opts.method().quantize(new WeightQuantizer.Input(m, weight, s, h, plan.scaleType, linalg, device)));
    }

    private QuantizedMatrix report(LinearModule m, float[] weight, QuantScheme s, Hessian h, WeightQuantizer.Result r) {
        long rows = h == null ? 0 : h.rows();
        QuantizedMatrix q = withPlannedGIdx(r.quantized());
        double err = QuantError.relative(weight, q);
        long bits = opts.format().storedBits(m, s, q.gIdx() != null, in.info(m.tensor()).dtype());
        reports.put(m, new QuantReport.ModuleReport(m.module(), m.role(), m.layer(), m.expert(), s.bits(), s.groupSize(),
                s.symmetric(), r.method(), r.fallback(), m.params(), rows, err, bits, s.toString()));
        return q;
    }

    private void write(LinearModule m, QuantizedMatrix q) {
        if (m.fused()) { // only formats that write fused experts get here: dense values, the whole tensor at once
            float[] values = q.dequantize();
            float[] done = null;
            synchronized (fusedBuffers) {
                float[] all = fusedBuffers.computeIfAbsent(m.tensor(), in::floats); // [E, out, in], unselected slices as stored
                System.arraycopy(values, 0, all, (int) (m.slice() * m.params()), (int) m.params());
                int left = fusedLeft.getOrDefault(m.tensor(), plan.byTensor.get(m.tensor()).size()) - 1;
                fusedLeft.put(m.tensor(), left);
                if (left == 0) {
                    done = fusedBuffers.remove(m.tensor());
                }
            }
            if (done != null) {
                Weights.write(writer, m.tensor(), done, in.info(m.tensor()).dtype());
            }
        } else {
            opts.format().write(writer, m, q, in.info(m.tensor()).dtype());
        }
    }

    /** A module planned with g_idx that fell back to RTN stores the natural order {@code j / groupSize}. */
    private QuantizedMatrix withPlannedGIdx(QuantizedMatrix q) {
        if (q.gIdx() != null || !plan.gIdxPlanned(q.scheme())) {
            return q;
        }
        int[] natural = new int[q.cols()];
        for (int j = 0; j < natural.length; j++) {
            natural[j] = j / q.scheme().groupSize();
        }
        return new QuantizedMatrix(q.rows(), q.cols(), q.scheme(), q.codes(), q.scales(), q.zeros(), natural, q.mins());
    }

    /**
     * Quantizes the modules not yet done (from the checkpoint's weights, without calibration), copies all other
     * tensors and files, writes {@code quantization_config} and the format's own files, and commits the output. The
     * report is returned, not written: the pipeline keeps it in the provenance.
     */
    public QuantReport finish() {
        completeTensors();
        writer.copyOtherFiles(in);
        ObjectNode config = in.config().deepCopy();
        ObjectNode qc = plan.quantizationConfig();
        if (qc != null) {
            config.set(PackedFormat.CONFIG_KEY, qc);
            opts.format().files(qc).forEach(writer::writeJson);
        }
        List<QuantReport.ModuleReport> ordered = schemes.keySet().stream().map(reports::get).toList();
        long sourceBytes = schemes.keySet().stream().mapToLong(m -> m.params() * in.info(m.tensor()).dtype().size()).sum();
        QuantReport report = QuantReport.of(opts.format().name(), ordered, plan.kept, sourceBytes);
        writer.commit(config);
        return report;
    }

    /**
     * Ends a unit session ({@link #openUnit}): quantizes the unit's modules not yet done without calibration, copies
     * its other tensors, commits its tensors (no config) and returns its modules' reports in checkpoint order.
     */
    public List<QuantReport.ModuleReport> finishUnit() {
        completeTensors();
        writer.commit(null);
        return schemes.keySet().stream().map(reports::get).toList();
    }

    /**
     * Quantizes the planned modules not yet started (data-free: no Hessian) and copies this session's other tensors,
     * on {@value #IN_FLIGHT} workers sharing one queue (copies first: they are the kernel's work and overlap the first
     * modules' arithmetic). The first failure stops the workers and is rethrown as it was.
     */
    private void completeTensors() {
        java.util.concurrent.ConcurrentLinkedQueue<Runnable> work = new java.util.concurrent.ConcurrentLinkedQueue<>();
        for (String name : in.names()) {
            if (!plan.byTensor.containsKey(name) && mine.test(name)) {
                work.add(() -> writer.copy(name, in.shard(name), name));
            }
        }
        for (LinearModule m : schemes.keySet()) {
            if (!started.contains(m)) {
                work.add(() -> {
                    float[] w = buffers.borrow(m.params());
                    try {
                        Weights.read(in, m, w);
                        quantize(m, w, null);
                    } finally {
                        buffers.release(w);
                    }
                });
            }
        }
        java.util.concurrent.atomic.AtomicReference<Throwable> failed = new java.util.concurrent.atomic.AtomicReference<>();
        Runnable worker = () -> {
            for (Runnable r; failed.get() == null && (r = work.poll()) != null; ) {
                try {
                    r.run();
                } catch (Throwable t) {
                    failed.compareAndSet(null, t);
                }
            }
        };
        List<Thread> threads = new java.util.ArrayList<>();
        for (int i = 0; i < IN_FLIGHT; i++) {
            threads.add(Thread.ofPlatform().name("moekit-quantize-" + i).daemon().start(worker));
        }
        boolean interrupted = false;
        for (Thread t : threads) {
            while (true) {
                try {
                    t.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                    failed.compareAndSet(null, e);
                }
            }
        }
        buffers.clear();
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        switch (failed.get()) {
            case null -> { }
            case RuntimeException e -> throw e;
            case Error e -> throw e;
            case Throwable t -> throw new IllegalStateException("quantization was interrupted", t);
        }
    }

    @Override
    public void close() {
        writer.close();
    }
}
