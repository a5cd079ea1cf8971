package dev.moekit.distill;

/**
 * AdamW (Loshchilov and Hutter 2019, decoupled weight decay, as {@code torch.optim.AdamW}) on fp32 master weights,
 * with linear warm-up to {@code lr} over {@code warmup} steps, then cosine decay to {@code minLr} at the last step,
 * and clipping of the global gradient L2 norm to {@code clip} (0: off). Weight decay applies to matrices only, not to
 * norms, biases and other vectors.
 */
public record Optim(double lr, double minLr, int warmup, double weightDecay, double beta1, double beta2, double eps, double clip) {
    public Optim {
        if (!(lr > 0) || minLr < 0 || minLr > lr) {
            throw new IllegalArgumentException("need lr > 0 and 0 <= min_lr <= lr, got lr " + lr + ", min_lr " + minLr);
        }
        if (warmup < 0 || weightDecay < 0 || clip < 0 || !(eps > 0)) {
            throw new IllegalArgumentException("warmup, weight_decay and clip must be >= 0 and eps > 0, got " + warmup + ", " + weightDecay + ", " + clip + ", " + eps);
        }
        if (beta1 < 0 || beta1 >= 1 || beta2 < 0 || beta2 >= 1) {
            throw new IllegalArgumentException("betas must be in [0, 1), got " + beta1 + ", " + beta2);
        }
    }

    /** lr as given, min_lr lr/10, no warm-up, weight decay 0.01, betas (0.9, 0.95), eps 1e-8, clip 1. */
    public static Optim of(double lr) {
        return new Optim(lr, lr / 10, 0, 0.01, 0.9, 0.95, 1e-8, 1.0);
    }

    public Optim withWarmup(int steps) {
        return new Optim(lr, minLr, steps, weightDecay, beta1, beta2, eps, clip);
    }

    public Optim withSchedule(double minLearningRate, int warmupSteps) {
        return new Optim(lr, minLearningRate, warmupSteps, weightDecay, beta1, beta2, eps, clip);
    }

    public Optim withDecay(double wd, double clipNorm) {
        return new Optim(lr, minLr, warmup, wd, beta1, beta2, eps, clipNorm);
    }

    /** The learning rate of step {@code step} (1-based) of {@code steps}. */
    public double lrAt(int step, int steps) {
        if (warmup > 0 && step <= warmup) {
            return lr * step / warmup;
        }
        int span = steps - warmup;
        if (span <= 1) {
            return lr;
        }
        double progress = (double) (step - warmup - 1) / (span - 1);       // 0 at the first decay step, 1 at the last
        return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * progress));
    }
}
