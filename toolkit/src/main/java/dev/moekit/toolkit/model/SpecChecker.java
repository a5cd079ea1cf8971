package dev.moekit.toolkit.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.TensorInfo;
import dev.moekit.toolkit.io.Text;
import dev.moekit.toolkit.tensor.Floats;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Checks a checkpoint against its {@link ModelSpec}; used on every input and every output moekit writes. Each problem
 * is one line naming the tensor, key or file. An empty list means the checkpoint is consistent.
 *
 * <ul>
 *   <li>{@link #check}: every tensor the spec declares ({@link TensorLayout#expected}) is present with its shape and
 *       dtype, no tensor is unexpected, and the index metadata agrees with the tensors ({@code total_size} = sum of
 *       tensor bytes, {@code total_parameters} = sum of elements when given);</li>
 *   <li>{@link #scanNonFinite}: a streaming NaN/Inf scan over all floating tensors, one tensor at a time in chunks
 *       of {@value #CHUNK} elements mapped through a confined arena, so memory stays bounded.</li>
 * </ul>
 */
public final class SpecChecker {
    static final int CHUNK = 1 << 20;

    private SpecChecker() {}

    /** Structural problems of {@code c} measured against {@code spec}. */
    public static List<String> check(Checkpoint c, ModelSpec spec) {
        List<String> problems = new ArrayList<>();
        Set<String> declared = new HashSet<>();
        for (TensorLayout.Planned p : TensorLayout.expected(spec)) {
            String n = p.name();
            declared.add(n);
            if (!c.has(n)) {
                problems.add("missing tensor " + Text.quote(n) + " (" + p.role() + where(p) + ")");
                continue;
            }
            TensorInfo t = c.info(n);
            if (!Arrays.equals(t.shape(), p.tensor().shape())) {
                problems.add("tensor " + Text.quote(n) + " has shape " + t.shapeString() + ", expected " + Arrays.toString(p.tensor().shape()));
            }
            DType want = p.tensor().dtype();
            boolean biasFp32 = p.role() == Role.ROUTER_CORRECTION_BIAS && t.dtype().isFloating();
            if (t.dtype() != want && !biasFp32) {
                problems.add("tensor " + Text.quote(n) + " is " + t.dtype() + ", expected " + want);
            }
        }
        for (String n : c.names()) {
            if (!declared.contains(n)) {
                problems.add("unexpected tensor " + Text.quote(n) + " (not declared by the " + spec.family().name() + " spec)");
            }
        }
        checkIndex(c, problems);
        return problems;
    }

    private static String where(TensorLayout.Planned p) {
        return (p.layer() >= 0 ? ", layer " + p.layer() : "") + (p.expert() >= 0 ? ", expert " + p.expert() : "");
    }

    private static void checkIndex(Checkpoint c, List<String> problems) {
        checkTotal(c.indexMetadata().get("total_size"), "total_size", c.totalBytes(), "bytes", problems);
        checkTotal(c.indexMetadata().get("total_parameters"), "total_parameters", c.totalParameters(), "parameters", problems);
    }

    /** Compares a metadata total exactly (a huge or fractional number is never wrapped or rounded into agreement). */
    private static void checkTotal(JsonNode v, String key, long actual, String unit, List<String> problems) {
        if (v == null || v.isNull()) {
            return;
        }
        if (!v.isNumber()) {
            problems.add(Checkpoint.INDEX + ": metadata " + key + " should be a number, is " + Text.clip(v.toString()));
        } else if (!Double.isFinite(v.asDouble()) && !v.isIntegralNumber()) {
            problems.add(Checkpoint.INDEX + ": metadata " + key + " " + Text.clip(v.toString()) + " is not finite");
        } else if (v.decimalValue().compareTo(BigDecimal.valueOf(actual)) != 0) {
            problems.add(Checkpoint.INDEX + ": metadata " + key + " " + Text.clip(v.asText()) + " but the tensors hold "
                    + actual + " " + unit);
        }
    }

    /** Tensors holding NaN or infinite values, with counts and the first offending element. */
    public static List<String> scanNonFinite(Checkpoint c) {
        List<String> problems = new ArrayList<>();
        float[] buf = new float[CHUNK];
        for (String n : c.names()) {
            TensorInfo t = c.info(n);
            if (!t.dtype().isFloating()) {
                continue;
            }
            long nan = 0;
            long inf = 0;
            long first = -1;
            try (Arena a = Arena.ofConfined()) {
                MemorySegment seg = c.map(n, a);
                long total = t.numel();
                for (long i = 0; i < total; i += CHUNK) {
                    int k = (int) Math.min(CHUNK, total - i);
                    Floats.decode(seg, i, t.dtype(), buf, 0, k);
                    for (int j = 0; j < k; j++) {
                        float v = buf[j];
                        if (Float.isNaN(v)) {
                            nan++;
                        } else if (Float.isInfinite(v)) {
                            inf++;
                        } else {
                            continue;
                        }
                        if (first < 0) {
                            first = i + j;
                        }
                    }
                }
            }
            if (nan + inf > 0) {
                problems.add("tensor " + Text.quote(n) + " has " + nan + " NaN and " + inf + " infinite values (first at element " + first + ")");
            }
        }
        return problems;
    }

    /** {@link #check} followed by {@link #scanNonFinite}. */
    public static List<String> checkAll(Checkpoint c, ModelSpec spec) {
        List<String> p = new ArrayList<>(check(c, spec));
        p.addAll(scanNonFinite(c));
        return p;
    }
}
