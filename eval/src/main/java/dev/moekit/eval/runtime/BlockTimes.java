package dev.moekit.eval.runtime;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Opt-in wall time per block of the forward ({@code -Dmoekit.blocktimes=true}, or {@link #enable}): where a pass's
 * time goes. Each block boundary synchronises the device (one element read back to the host, which waits for the
 * stream's queued kernels; a no-op on the CPU, where libtorch's ops return when done) and charges the time since the
 * previous boundary to the block that just ended. Two figures per block: {@code issued}, the host time until the
 * block's Java code returned (op dispatch through DJL's JNI, plus any device wait inside the block such as the
 * MoE layer's expert-count copy), and {@code total}, until the device finished it. {@code total - issued} is the
 * device work still queued when the host was done: a block whose total is close to its issued time is bound by the
 * host. The synchronisation removes the overlap of host and device between blocks, so a timed pass is slower than an
 * untimed one; {@link #syncNanos} measures one boundary's cost.
 * <p>
 * Off (the default), every hook is one branch on a static boolean. Counters are global: one pass at a time, as
 * {@link CausalLm} requires; time between a layer's blocks is charged to the next block, time outside a timed
 * region (pass bookkeeping) to none, and shows as the pass's remainder.
 */
public final class BlockTimes {
    /** The blocks, in forward order. */
    public enum Block {
        /** token embedding lookup, attention mask and RoPE tables of a batch */
        EMBEDDING,
        /** the input, post-attention and final RMSNorm/LayerNorm */
        NORM,
        /** q/k/v/o projections, RoPE, scores, softmax, context, residual add */
        ATTENTION,
        /** router linear, softmax/sigmoid, top-k and gate weights */
        ROUTER,
        /** token dispatch (expert counts to the host included), expert SwiGLUs, combine, shared expert, residual add */
        EXPERTS,
        /** lm_head and the cast of the logits to fp32 */
        LM_HEAD,
        /** log-softmax over the vocabulary, NLL gather and its copy to the host */
        LOG_SOFTMAX
    }

    private static boolean on = Boolean.getBoolean("moekit.blocktimes");
    private static final int N = Block.values().length;
    private static final long[] TOTAL = new long[N];
    private static final long[] ISSUED = new long[N];
    private static final long[] COUNT = new long[N];
    private static long mark;
    private static final Map<Device, NDArray> PROBES = new ConcurrentHashMap<>();

    private BlockTimes() {}

    /** Whether blocks are timed. */
    public static boolean enabled() {
        return on;
    }

    /** Turns timing on or off for the following passes (benchmarks and tests; the property sets the default). */
    public static void enable(boolean enabled) {
        on = enabled;
    }

    /** Clears the counters. */
    public static void reset() {
        java.util.Arrays.fill(TOTAL, 0);
        java.util.Arrays.fill(ISSUED, 0);
        java.util.Arrays.fill(COUNT, 0);
    }

    /** Starts a timed region: waits for the device of {@code onDevice} and marks the time. */
    public static void begin(NDArray onDevice) {
        sync(onDevice.getDevice());
        mark = System.nanoTime();
    }

    /** Ends {@code block} (its last result {@code onDevice}) and starts the next one at the same instant. */
    public static void lap(Block block, NDArray onDevice) {
        long issued = System.nanoTime();
        sync(onDevice.getDevice());
        charge(block, issued, System.nanoTime());
    }

    /** Ends {@code block} whose result is already on the host (nothing to wait for). */
    public static void lapHost(Block block) {
        long done = System.nanoTime();
        charge(block, done, done);
    }

    /** Charges the time since the last boundary to {@code block}: issued until {@code issued}, total until {@code done}. */
    private static void charge(Block block, long issued, long done) {
        int b = block.ordinal();
        ISSUED[b] += issued - mark;
        TOTAL[b] += done - mark;
        COUNT[b]++;
        mark = done;
    }

    /** Blocks the caller until every kernel queued on {@code device} has run (no-op on the CPU). */
    public static void sync(Device device) {
        if (!device.isGpu()) {
            return;
        }
        NDArray probe = PROBES.computeIfAbsent(device, d -> {
            NDManager m = Engine.getEngine(Engines.PYTORCH).newBaseManager(d);   // lives as long as the JVM
            return m.zeros(new ai.djl.ndarray.types.Shape(1));
        });
        probe.toByteArray();      // a blocking device-to-host copy on the current stream
    }

    /** Mean nanoseconds of one block boundary on {@code device} (synchronisation of an idle device), over n tries. */
    public static double syncNanos(Device device, int n) {
        sync(device);
        long t = System.nanoTime();
        for (int i = 0; i < n; i++) {
            sync(device);
        }
        return (System.nanoTime() - t) / (double) n;
    }

    /** The counters so far. */
    public static Times snapshot() {
        Map<Block, long[]> m = new EnumMap<>(Block.class);
        for (Block b : Block.values()) {
            m.put(b, new long[] {TOTAL[b.ordinal()], ISSUED[b.ordinal()], COUNT[b.ordinal()]});
        }
        return new Times(m);
    }

    /** Per block: total and issued nanoseconds and the number of timed regions. */
    public record Times(Map<Block, long[]> blocks) {
        public long totalNanos(Block b) {
            return blocks.get(b)[0];
        }

        public long issuedNanos(Block b) {
            return blocks.get(b)[1];
        }

        public long count(Block b) {
            return blocks.get(b)[2];
        }

        /** The sum of every block's total. */
        public long sumNanos() {
            long s = 0;
            for (Block b : Block.values()) {
                s += totalNanos(b);
            }
            return s;
        }

        /** A JSON object: per block {total_ms, issued_ms, n}, and the sum. */
        public String json() {
            StringBuilder s = new StringBuilder("{");
            for (Block b : Block.values()) {
                s.append(String.format(Locale.ROOT, "\"%s\": {\"total_ms\": %.1f, \"issued_ms\": %.1f, \"n\": %d}, ",
                        b.name().toLowerCase(Locale.ROOT), totalNanos(b) / 1e6, issuedNanos(b) / 1e6, count(b)));
            }
            return s.append(String.format(Locale.ROOT, "\"sum_ms\": %.1f}", sumNanos() / 1e6)).toString();
        }
    }
}
