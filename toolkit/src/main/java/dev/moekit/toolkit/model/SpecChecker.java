package dev.moekit.toolkit.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.TensorInfo;
import dev.moekit.toolkit.tensor.Floats;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
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
                problems.add("missing tensor '" + n + "' (" + p.role() + where(p) + ")");
                continue;
            }
            TensorInfo t = c.info(n);
            if (!Arrays.equals(t.shape(), p.tensor().shape())) {
                problems.add("tensor '" + n + "' has shape " + t.shapeString() + ", expected " + Arrays.toString(p.tensor().shape()));
            }
            DType want = p.tensor().dtype();
            boolean biasFp32 = p.role() == Role.ROUTER_CORRECTION_BIAS && t.dtype().isFloating();
            if (t.dtype() != want && !biasFp32) {
                problems.add("tensor '" + n + "' is " + t.dtype() + ", expected " + want);
            }
        }
        for (String n : c.names()) {
            if (!declared.contains(n)) {
                problems.add("unexpected tensor '" + n + "' (not declared by the " + spec.family().name() + " spec)");
            }
        }
        checkIndex(c, problems);
        return problems;
    }

    private static String where(TensorLayout.Planned p) {
        return (p.layer() >= 0 ? ", layer " + p.layer() : "") + (p.expert() >= 0 ? ", expert " + p.expert() : "");
    }

    private static void checkIndex(Checkpoint c, List<String> problems) {
        JsonNode size = c.indexMetadata().get("total_size");
        if (size != null && size.asLong() != c.totalBytes()) {
            problems.add(Checkpoint.INDEX + ": metadata total_size " + size.asLong() + " but the tensors hold "
                    + c.totalBytes() + " bytes");
        }
        JsonNode params = c.indexMetadata().get("total_parameters");
        if (params != null && params.asLong() != c.totalParameters()) {
            problems.add(Checkpoint.INDEX + ": metadata total_parameters " + params.asLong() + " but the tensors hold "
                    + c.totalParameters() + " parameters");
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
                problems.add("tensor '" + n + "' has " + nan + " NaN and " + inf + " infinite values (first at element " + first + ")");
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
