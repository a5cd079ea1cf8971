package dev.moekit.quantize;

import dev.moekit.toolkit.linalg.Linalg;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Hessians keyed by the input they are built from, so modules that read the same activations (q/k/v; an expert's
 * gate and up projections) accumulate calibration data once. Keeps the two most recent inputs (an expert's
 * gate/up/down come in any name order), closing evicted ones to free native memory.
 */
final class HessianCache implements AutoCloseable {
    private static final int KEEP = 2;
    private final CalibrationSource calibration;
    private final Linalg linalg;
    private final LinkedHashMap<String, Hessian> cache = new LinkedHashMap<>(4, 0.75f, true);

    HessianCache(CalibrationSource calibration, Linalg linalg) {
        this.calibration = calibration;
        this.linalg = linalg;
    }

    Hessian get(LinearModule m) {
        String key = key(m);
        Hessian h = cache.get(key);
        if (h == null) {
            h = new Hessian(m.cols(), linalg);
            Hessian target = h;
            calibration.inputs(m, target::addBatch);
            cache.put(key, h);
            evict();
        }
        return h;
    }

    private void evict() {
        while (cache.size() > KEEP) {
            Map.Entry<String, Hessian> eldest = cache.entrySet().iterator().next();
            eldest.getValue().close();
            cache.remove(eldest.getKey());
        }
    }

    /** Modules with equal keys see the same input rows. */
    static String key(LinearModule m) {
        String input = switch (m.role()) {
            case Q, K, V, Q_A, KV_A -> "attention-input";
            case MLP_GATE, MLP_UP -> "mlp-input";
            case EXPERT_GATE, EXPERT_UP, EXPERTS_GATE_UP -> "expert-input";
            case SHARED_GATE, SHARED_UP -> "shared-input";
            default -> m.module();
        };
        return m.layer() + "/" + m.expert() + "/" + input;
    }

    @Override
    public void close() {
        cache.values().forEach(Hessian::close);
        cache.clear();
    }

}
