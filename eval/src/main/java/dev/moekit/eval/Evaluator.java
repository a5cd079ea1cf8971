package dev.moekit.eval;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.ForwardObserver;
import dev.moekit.eval.runtime.Pass;
import dev.moekit.eval.runtime.TokenBatch;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.model.ModelSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Perplexity under the evaluation protocol (design.md), and with a reference model the KL divergence
 * {@code KL(P_ref || Q)} of the model's next-token distribution from the reference's, top-1 agreement and routing
 * counts. {@code ppl = exp(mean NLL)} over every position but each window's first.
 */
public final class Evaluator {
    private final CausalLm model;
    private final CausalLm reference;
    private final ForwardObserver observer;
    private long modelNanos;
    private long modelTokens;

    /**
     * @param model     the model to score
     * @param reference the reference model (same tokenizer and vocabulary), or null
     * @param observer  extra hooks on the evaluated model's forward passes (routing counts), or {@code NONE}
     */
    public Evaluator(CausalLm model, CausalLm reference, ForwardObserver observer) {
        if (reference != null && reference.spec().vocab() != model.spec().vocab()) {
            throw new CheckpointException("reference vocabulary " + reference.spec().vocab()
                    + " differs from the model's " + model.spec().vocab() + ": KL needs the same tokenizer");
        }
        this.model = model;
        this.reference = reference;
        this.observer = observer;
    }

    /** Evaluates the model folder {@code dir} on every data file of {@code options}. */
    public static EvalResult evaluate(Path dir, EvalOptions options, Progress progress) {
        try (Checkpoint c = Checkpoint.open(dir)) {
            return evaluate(c, dir, options, progress);
        }
    }

    /**
     * Evaluates an open checkpoint, which the caller keeps owning: a folder, or a view such as a packed checkpoint
     * whose weights are dequantized as they load. The tokenizer comes from its folder.
     */
    public static EvalResult evaluate(Checkpoint checkpoint, EvalOptions options, Progress progress) {
        return evaluate(checkpoint, checkpoint.dir(), options, progress);
    }

    /** {@code dir}: the model's name in the result, as the caller gave it. */
    private static EvalResult evaluate(Checkpoint checkpoint, Path dir, EvalOptions options, Progress progress) {
        long start = System.nanoTime();
        try (CausalLm model = CausalLm.of(checkpoint, ModelSpec.of(checkpoint), options.runtime());
             CausalLm ref = options.reference() == null ? null : CausalLm.open(options.reference(), options.runtime());
             TextWindows text = TextWindows.open(dir)) {
            RoutingCounter counter = options.routing() && model.spec().isMoe() ? new RoutingCounter(model.spec())
                    : null;
            Evaluator ev = new Evaluator(model, ref, counter == null ? ForwardObserver.NONE : counter);
            List<DomainResult> domains = new ArrayList<>();
            List<float[]> kls = new ArrayList<>();
            for (Path file : options.dataFiles()) {
                String domain = EvalOptions.domain(file);
                int[][] windows = text.windows(file, options.window(), options.windows());
                Scores s = ev.score(windows, (done, total) -> progress.update(domain, done, total));
                domains.add(s.result(domain));
                if (s.kl != null) {
                    kls.add(s.kl);
                }
            }
            KlStats overall = kls.isEmpty() ? null : KlStats.of(concat(kls));
            return new EvalResult(dir.toString(), ref == null ? null : options.reference().toString(),
                    options.runtime().device().toString(),
                    options.runtime().precision().name().toLowerCase(Locale.ROOT),
                    options.window(), options.windows(), domains, overall,
                    counter == null ? List.of() : counter.result(), ev.tokensPerSecond(),
                    (System.nanoTime() - start) / 1e9);
        }
    }

    /** Tokens per second of the evaluated model's forward passes so far (logits included, reference excluded). */
    public double tokensPerSecond() {
        return modelNanos == 0 ? 0 : modelTokens / (modelNanos / 1e9);
    }

    /** Progress in windows. */
    @FunctionalInterface
    public interface WindowProgress {
        void update(int done, int total);
    }

    /** Per-position scores of a set of windows; {@code kl}/{@code top1} null without a reference. */
    public record Scores(double[] nll, double[] refNll, float[] kl, boolean[] top1) {
        /** Mean NLL of the model. */
        public double meanNll() {
            return Arrays.stream(nll).average().orElse(Double.NaN);
        }

        DomainResult result(String domain) {
            double mean = meanNll();
            double refPpl = refNll == null ? Double.NaN : Math.exp(Arrays.stream(refNll).average().orElse(Double.NaN));
            double agree = Double.NaN;
            if (top1 != null) {
                int same = 0;
                for (boolean b : top1) {
                    same += b ? 1 : 0;
                }
                agree = (double) same / top1.length;
            }
            return new DomainResult(domain, nll.length, mean, Math.exp(mean), refPpl,
                    kl == null ? null : KlStats.of(kl.clone()), agree);
        }
    }

    /** Scores equal-length windows {@code [n][T]} (all tokens real). */
    public Scores score(int[][] windows, WindowProgress progress) {
        int batch = model.options().batchSize();
        List<TokenBatch> batches = new ArrayList<>();
        for (int i = 0; i < windows.length; i += batch) {
            batches.add(TokenBatch.of(Arrays.copyOfRange(windows, i, Math.min(windows.length, i + batch))));
        }
        Collector c = new Collector(reference != null);
        boolean onePass = model.options().layerwise();
        int done = 0;
        for (int i = 0; i < batches.size(); ) {
            List<TokenBatch> group = onePass ? batches : List.of(batches.get(i));
            scoreGroup(group, c);
            i += group.size();
            for (TokenBatch b : group) {
                done += b.rows();
            }
            progress.update(done, windows.length);
        }
        return c.scores();
    }

    /**
     * With {@code -Dmoekit.profile=FILE}, libtorch's profiler (CUDA events on a GPU) records batches 3 to 6 of the
     * first split scored into FILE (a Chrome trace): where a forward's time goes, op by op.
     */
    private static final String PROFILE = System.getProperty("moekit.profile");
    private int groupsScored;

    private void scoreGroup(List<TokenBatch> group, Collector c) {
        if (PROFILE != null && groupsScored == 2) {
            ai.djl.pytorch.jni.JniUtils.startProfile(model.manager().getDevice().isGpu(), true, false);
        }
        try {
            scoreGroupTimed(group, c);
        } finally {
            if (PROFILE != null && ++groupsScored == 6) {
                ai.djl.pytorch.jni.JniUtils.stopProfile(PROFILE);
            }
        }
    }

    private void scoreGroupTimed(List<TokenBatch> group, Collector c) {
        long t0 = System.nanoTime();
        try (Pass pm = model.begin(group); Pass pr = reference == null ? null : reference.begin(group)) {
            pm.runAll(observer);
            modelNanos += System.nanoTime() - t0;
            if (pr != null) {
                pr.runAll(ForwardObserver.NONE);
            }
            for (int b = 0; b < group.size(); b++) {
                TokenBatch batch = group.get(b);
                try (NDManager m = model.manager().newSubManager()) {
                    long t1 = System.nanoTime();
                    NDArray ids = m.create(batch.ids(), new Shape(batch.rows(), batch.length()))
                            .toType(DataType.INT64, false);
                    NDArray logQ = Scoring.logProbs(pm.logits(b, m));                   // [B, T-1, V]
                    float[] nll = Scoring.nll(logQ, ids);
                    if (dev.moekit.eval.runtime.BlockTimes.enabled()) {
                        dev.moekit.eval.runtime.BlockTimes.lapHost(dev.moekit.eval.runtime.BlockTimes.Block.LOG_SOFTMAX);
                    }
                    requireFinite(model, nll);
                    modelNanos += System.nanoTime() - t1;
                    modelTokens += (long) batch.rows() * batch.length();
                    boolean[] scored = Scoring.scored(batch.mask(), batch.rows(), batch.length());
                    if (pr == null) {
                        c.add(scored, nll, null, null, null);
                        continue;
                    }
                    NDArray logP = Scoring.logProbs(pr.logits(b, m));
                    c.add(scored, nll, Scoring.nll(logP, ids), Scoring.kl(logQ, logP), Scoring.sameTop1(logQ, logP));
                }
            }
        }
    }

    /**
     * A non-finite log-likelihood means non-finite logits: NaN/Inf in the weights, or activations past the compute
     * dtype's range, which in fp16 (largest value 65504) is an overflow the same model does not have in fp32.
     * Refused with the way out, never averaged into a perplexity of NaN.
     */
    static void requireFinite(CausalLm model, float[] nll) {
        for (float v : nll) {
            if (!Float.isFinite(v)) {
                boolean half = model.options().precision() == dev.moekit.eval.runtime.Precision.FP16;
                throw new CheckpointException(model.dir() + ": the forward produced non-finite logits"
                        + (half ? " in fp16: activations overflowed fp16's range (|x| > 65504); evaluate in fp32"
                                + " (--dtype fp32, or eval: {dtype: fp32} in a recipe)"
                                : " in fp32: the weights or activations hold NaN/Inf"));
            }
        }
    }

    private static float[] concat(List<float[]> parts) {
        int n = parts.stream().mapToInt(a -> a.length).sum();
        float[] out = new float[n];
        int o = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, o, p.length);
            o += p.length;
        }
        return out;
    }

    /** Accumulates per-position values of scored positions. */
    private static final class Collector {
        private final boolean ref;
        private final DoubleList nll = new DoubleList();
        private final DoubleList refNll = new DoubleList();
        private final DoubleList kl = new DoubleList();
        private final List<Boolean> top1 = new ArrayList<>();

        Collector(boolean ref) {
            this.ref = ref;
        }

        void add(boolean[] scored, float[] n, float[] rn, float[] k, boolean[] t) {
            for (int i = 0; i < scored.length; i++) {
                if (!scored[i]) {
                    continue;
                }
                nll.add(n[i]);
                if (ref) {
                    refNll.add(rn[i]);
                    kl.add(k[i]);
                    top1.add(t[i]);
                }
            }
        }

        Scores scores() {
            if (!ref) {
                return new Scores(nll.toArray(), null, null, null);
            }
            double[] k = kl.toArray();
            float[] kf = new float[k.length];
            boolean[] same = new boolean[k.length];
            for (int i = 0; i < k.length; i++) {
                kf[i] = (float) k[i];
                same[i] = top1.get(i);
            }
            return new Scores(nll.toArray(), refNll.toArray(), kf, same);
        }
    }

    /** A growable double array. */
    private static final class DoubleList {
        private double[] a = new double[1024];
        private int n;

        void add(double v) {
            if (n == a.length) {
                a = Arrays.copyOf(a, 2 * n);
            }
            a[n++] = v;
        }

        double[] toArray() {
            return Arrays.copyOf(a, n);
        }
    }
}
