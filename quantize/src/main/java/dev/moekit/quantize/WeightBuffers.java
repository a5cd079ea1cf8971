package dev.moekit.quantize;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Reusable fp32 weight buffers for quantizing module after module: a buffer of the exact length asked for is taken
 * from the free ones or allocated; at most {@code keep} free buffers are kept (the oldest go first), so memory stays
 * at about {@code keep} of the largest weights instead of a fresh, zeroed array per module.
 */
final class WeightBuffers {
    private final int keep;
    private final Deque<float[]> free = new ArrayDeque<>();

    WeightBuffers(int keep) {
        this.keep = keep;
    }

    /** A buffer of exactly {@code n} values (contents undefined). */
    float[] borrow(long n) {
        int len = Math.toIntExact(n);
        synchronized (free) {
            for (var it = free.iterator(); it.hasNext(); ) {
                float[] b = it.next();
                if (b.length == len) {
                    it.remove();
                    return b;
                }
            }
        }
        return new float[len];
    }

    void release(float[] b) {
        synchronized (free) {
            free.addFirst(b);
            while (free.size() > keep) {
                free.removeLast();
            }
        }
    }

    void clear() {
        synchronized (free) {
            free.clear();
        }
    }
}
