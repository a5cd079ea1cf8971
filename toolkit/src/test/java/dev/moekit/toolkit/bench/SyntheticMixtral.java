package dev.moekit.toolkit.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.tensor.Floats;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Writes a bf16 checkpoint with Mixtral-8x7B tensor shapes (hidden 4096, 32 heads / 8 KV, 8 experts of FFN 14336,
 * vocab 32000) and a chosen number of layers, for benchmarks. Values are small normals from a 64 MiB pool reused
 * at shifting offsets: realistic magnitudes without spending minutes on random numbers. One layer is about 2.9 GB.
 *
 * <p>{@code java ... SyntheticMixtral <out> <layers> [maxShardSize=5000000000] [hidden=4096] [ffn=14336]}
 */
public final class SyntheticMixtral {
    private SyntheticMixtral() {}

    public static void main(String[] args) throws Exception {
        Path out = Path.of(args[0]);
        int layers = Integer.parseInt(args[1]);
        long shard = args.length > 2 ? Long.parseLong(args[2]) : CheckpointWriter.DEFAULT_MAX_SHARD;
        int hidden = args.length > 3 ? Integer.parseInt(args[3]) : 4096;
        int ffn = args.length > 4 ? Integer.parseInt(args[4]) : 14336;
        long t0 = System.nanoTime();
        write(out, layers, shard, hidden, ffn);
        System.out.printf("wrote %s (%d layers) in %.1f s%n", out, layers, (System.nanoTime() - t0) / 1e9);
    }

    public static void write(Path out, int layers, long maxShard, int hidden, int ffn) throws Exception {
        int heads = 32;
        int kv = 8;
        int headDim = hidden / heads;
        int experts = 8;
        int vocab = 32000;
        List<TensorSpec> plan = new ArrayList<>();
        plan.add(new TensorSpec("model.embed_tokens.weight", DType.BF16, new long[] {vocab, hidden}));
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            plan.add(new TensorSpec(p + "input_layernorm.weight", DType.BF16, new long[] {hidden}));
            plan.add(new TensorSpec(p + "post_attention_layernorm.weight", DType.BF16, new long[] {hidden}));
            plan.add(new TensorSpec(p + "self_attn.q_proj.weight", DType.BF16, new long[] {(long) heads * headDim, hidden}));
            plan.add(new TensorSpec(p + "self_attn.k_proj.weight", DType.BF16, new long[] {(long) kv * headDim, hidden}));
            plan.add(new TensorSpec(p + "self_attn.v_proj.weight", DType.BF16, new long[] {(long) kv * headDim, hidden}));
            plan.add(new TensorSpec(p + "self_attn.o_proj.weight", DType.BF16, new long[] {hidden, (long) heads * headDim}));
            plan.add(new TensorSpec(p + "block_sparse_moe.gate.weight", DType.BF16, new long[] {experts, hidden}));
            for (int e = 0; e < experts; e++) {
                String q = p + "block_sparse_moe.experts." + e + ".";
                plan.add(new TensorSpec(q + "w1.weight", DType.BF16, new long[] {ffn, hidden}));
                plan.add(new TensorSpec(q + "w2.weight", DType.BF16, new long[] {hidden, ffn}));
                plan.add(new TensorSpec(q + "w3.weight", DType.BF16, new long[] {ffn, hidden}));
            }
        }
        plan.add(new TensorSpec("model.norm.weight", DType.BF16, new long[] {hidden}));
        plan.add(new TensorSpec("lm_head.weight", DType.BF16, new long[] {vocab, hidden}));

        MemorySegment pool = pool(32L << 20);
        long shift = 0;
        try (CheckpointWriter w = CheckpointWriter.create(out, plan, CheckpointWriter.Options.defaults().withMaxShardSize(maxShard).withReplace(true))) {
            for (TensorSpec t : plan) {
                if (t.shape().length == 1) {
                    float[] ones = new float[(int) t.numel()];
                    java.util.Arrays.fill(ones, 1f);
                    w.write(t.name(), ones);
                    continue;
                }
                long bytes = t.byteSize();
                if (bytes <= pool.byteSize() / 2) {
                    long off = (shift = (shift + 4096 + 2 * 7919) % (pool.byteSize() / 2)) & ~1L;
                    w.write(t.name(), pool.asSlice(off, bytes));
                } else {
                    w.write(t.name(), tile(pool, bytes, shift += 2 * 7919));
                }
            }
            ObjectNode cfg = config(layers, hidden, ffn, heads, kv, experts, vocab);
            w.commit(cfg);
        }
        Files.writeString(out.resolve("generation_config.json"), "{\"bos_token_id\": 1, \"eos_token_id\": 2}\n");
    }

    private static MemorySegment pool(long bytes) {
        MemorySegment s = MemorySegment.ofArray(new byte[(int) bytes]);
        SplittableRandom r = new SplittableRandom(42);
        ValueLayout.OfShort sh = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        for (long i = 0; i < bytes / 2; i++) {
            s.set(sh, 2 * i, Floats.floatToBf16((float) (r.nextGaussian() * 0.02)));
        }
        return s;
    }

    /** A segment of {@code bytes} filled by repeating the pool from a shifting start. */
    private static MemorySegment tile(MemorySegment pool, long bytes, long shift) {
        MemorySegment s = java.lang.foreign.Arena.ofAuto().allocate(bytes, 64);
        long start = (shift % (pool.byteSize() / 2)) & ~1L;
        for (long done = 0; done < bytes; ) {
            long n = Math.min(bytes - done, pool.byteSize() - start);
            MemorySegment.copy(pool, start, s, done, n);
            done += n;
            start = 0;
        }
        return s;
    }

    private static ObjectNode config(int layers, int hidden, int ffn, int heads, int kv, int experts, int vocab) {
        ObjectNode c = Json.PRETTY.createObjectNode();
        c.putArray("architectures").add("MixtralForCausalLM");
        c.put("model_type", "mixtral");
        c.put("hidden_size", hidden);
        c.put("intermediate_size", ffn);
        c.put("num_hidden_layers", layers);
        c.put("num_attention_heads", heads);
        c.put("num_key_value_heads", kv);
        c.put("num_local_experts", experts);
        c.put("num_experts_per_tok", 2);
        c.put("vocab_size", vocab);
        c.put("max_position_embeddings", 32768);
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", 1e6);
        c.put("tie_word_embeddings", false);
        c.put("torch_dtype", "bfloat16");
        c.put("hidden_act", "silu");
        return c;
    }
}
