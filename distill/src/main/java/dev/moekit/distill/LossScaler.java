package dev.moekit.distill;

/**
 * Dynamic loss scaling for fp16 compute (as torch's GradScaler): the loss is multiplied by {@code scale} before
 * backward so small fp16 gradients do not flush to zero; a step whose gradients overflow is skipped and halves the
 * scale, and every {@code GROWTH} good steps double it. In fp32 the scale stays 1.
 */
final class LossScaler {
    static final int GROWTH = 1000;
    private final boolean dynamic;
    private double scale;
    private int good;

    LossScaler(boolean dynamic) {
        this.dynamic = dynamic;
        this.scale = dynamic ? 65536 : 1;
    }

    double scale() {
        return scale;
    }

    int goodSteps() {
        return good;
    }

    void restore(double s, int goodSteps) {
        scale = s;
        good = goodSteps;
    }

    /** After a step: {@code finite} whether its gradients were finite. */
    void update(boolean finite) {
        if (!dynamic) {
            return;
        }
        if (!finite) {
            scale = Math.max(1, scale / 2);
            good = 0;
        } else if (++good >= GROWTH) {
            scale *= 2;
            good = 0;
        }
    }
}
