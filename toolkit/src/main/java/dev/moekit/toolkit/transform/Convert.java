package dev.moekit.toolkit.transform;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.TensorInfo;
import dev.moekit.toolkit.io.TensorSpec;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * The simplest whole-checkpoint transform: re-shard and optionally change the floating dtype. Tensors whose dtype
 * stays are copied inside the kernel; converted ones stream through bounded buffers, so memory stays flat whatever the
 * checkpoint size. Integer and boolean tensors are never converted.
 */
public final class Convert {
    /** Settings of a conversion; {@code dtype} null keeps each tensor's dtype. */
    public record Options(DType dtype, CheckpointWriter.Options writer, int threads) {
        public Options {
            if (dtype != null && !(dtype == DType.BF16 || dtype == DType.F16 || dtype == DType.F32)) {
                throw new IllegalArgumentException("target dtype must be bf16, fp16 or fp32, got " + dtype);
            }
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be >= 1");
            }
        }
    }

    /** What a conversion did. */
    public record Result(Path output, int tensors, int converted, long bytesIn, long bytesOut, List<String> shards) {}

    private Convert() {}

    public static Result run(Path input, Path output, Options opts) {
        try (Checkpoint in = Checkpoint.open(input)) {
            ObjectNode config = in.config().deepCopy();
            List<TensorSpec> plan = new ArrayList<>();
            int converted = 0;
            for (String n : in.names()) {
                TensorInfo t = in.info(n);
                DType to = target(t.dtype(), opts.dtype());
                converted += to != t.dtype() ? 1 : 0;
                plan.add(new TensorSpec(n, to, t.shape()));
            }
            if (opts.dtype() != null) {
                setDtype(config, opts.dtype());
            }
            try (CheckpointWriter w = CheckpointWriter.create(output, plan, opts.writer(), input)) {
                writeAll(in, w, plan, opts.threads());
                w.copyOtherFiles(in);
                Path out = w.commit(config);
                long bytesOut = plan.stream().mapToLong(TensorSpec::byteSize).sum();
                return new Result(out, plan.size(), converted, in.totalBytes(), bytesOut, w.shardNames());
            }
        }
    }

    /** Writes every tensor of {@code plan} (converted where its dtype differs from the input's) with {@code threads} threads. */
    public static void writeAll(Checkpoint in, CheckpointWriter w, List<TensorSpec> plan, int threads) {
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            List<Future<?>> jobs = new ArrayList<>();
            for (TensorSpec t : plan) {
                jobs.add(pool.submit(() -> writeOne(in, w, t)));
            }
            for (Future<?> f : jobs) {
                try {
                    f.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    if (e.getCause() instanceof RuntimeException re) {
                        throw re;
                    }
                    throw new IllegalStateException(e.getCause());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted", e);
                }
            }
        }
    }

    private static void writeOne(Checkpoint in, CheckpointWriter w, TensorSpec t) {
        TensorInfo src = in.info(t.name());
        if (src.dtype() == t.dtype()) {
            w.copy(t.name(), in.shard(t.name()), t.name());
        } else {
            try (Arena a = Arena.ofShared()) {
                w.writeConverted(t.name(), in.map(t.name(), a), src.dtype());
            }
        }
    }

    private static DType target(DType from, DType wanted) {
        if (wanted == null || !from.isFloating() || from == DType.F8_E4M3 || from == DType.F8_E5M2) {
            return from;
        }
        return wanted;
    }

    /** Sets the checkpoint dtype in whichever dialect the config uses (5.x {@code dtype}, 4.x {@code torch_dtype}). */
    public static void setDtype(ObjectNode config, DType dtype) {
        boolean any = false;
        for (String k : new String[] {"dtype", "torch_dtype"}) {
            if (config.has(k)) {
                config.put(k, dtype.torchName());
                any = true;
            }
        }
        if (!any) {
            config.put("torch_dtype", dtype.torchName());
        }
    }
}
