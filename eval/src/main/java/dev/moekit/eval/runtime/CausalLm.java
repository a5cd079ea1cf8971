package dev.moekit.eval.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A causal language model of any supported family on DJL's PyTorch engine: token embedding, decoder layers
 * ({@link DecoderLayer}), final RMSNorm and lm_head (the embedding when tied). Weights stay resident, or with
 * {@link RuntimeOptions#layerwise()} each layer is loaded when a {@link Pass} reaches it and freed after.
 * Not thread-safe: one pass at a time.
 */
public final class CausalLm implements AutoCloseable {
    private final Checkpoint checkpoint;
    private final boolean ownsCheckpoint;
    private final ModelSpec spec;
    private final RuntimeOptions options;
    private final RopeConfig rope;
    private final NDManager root;
    private final Arena arena;        // off-heap memory of the model-level weights
    private final WeightLoader loader;
    private final NDArray embed;      // [vocab, hidden]
    private final NDArray finalNorm;  // [hidden]
    private final NDArray lmHead;     // [vocab, hidden]
    private final NDArray finalNormBias;  // [hidden] LayerNorm families, else null
    private final NDArray lmHeadBias;     // [vocab] or null
    private final List<LayerWeights> layers;  // resident layers; empty in layerwise mode

    private CausalLm(Checkpoint checkpoint, boolean owns, ModelSpec spec, RuntimeOptions options) {
        this.checkpoint = checkpoint;
        this.ownsCheckpoint = owns;
        this.spec = spec;
        this.options = options;
        // a tensor of the wrong shape (a transposed expert weight) is named here, not by libtorch's "mat1 and mat2" later
        List<String> problems = dev.moekit.toolkit.model.SpecChecker.check(checkpoint, spec);
        if (!problems.isEmpty()) {
            throw new dev.moekit.toolkit.io.CheckpointException(checkpoint.dir() + ": cannot run this checkpoint: " + problems.getFirst()
                    + (problems.size() > 1 ? " (and " + (problems.size() - 1) + " more problem(s); see moekit verify)" : ""));
        }
        this.rope = RopeConfig.of(spec);
        this.root = Engines.newManager(options.device());
        this.arena = Arena.ofShared();
        List<LayerWeights> held = new ArrayList<>();
        try {
            this.loader = new WeightLoader(checkpoint, spec, options.precision());
            this.embed = loader.model(root, arena, Role.EMBED);
            this.finalNorm = loader.model(root, arena, Role.FINAL_NORM);
            this.lmHead = !spec.tiedEmbeddings() && loader.has(Role.LM_HEAD, -1) ? loader.model(root, arena, Role.LM_HEAD)
                    : embed;
            this.finalNormBias = optional(Role.FINAL_NORM_BIAS);
            this.lmHeadBias = optional(Role.LM_HEAD_BIAS);
            if (!options.layerwise()) {
                for (int l = 0; l < spec.layers(); l++) {
                    held.add(new LayerWeights(root, loader, l));
                }
            }
            this.layers = Collections.unmodifiableList(held);
        } catch (RuntimeException e) {
            held.forEach(LayerWeights::close);
            root.close();
            arena.close();
            throw e;
        }
    }

    /** Opens the checkpoint folder and loads the model; closing the model closes the checkpoint. */
    public static CausalLm open(Path dir, RuntimeOptions options) {
        Checkpoint c = Checkpoint.open(dir);
        try {
            return new CausalLm(c, true, ModelSpec.of(c), options);
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
    }

    /** Loads a model from an open checkpoint that the caller keeps owning. */
    public static CausalLm of(Checkpoint checkpoint, ModelSpec spec, RuntimeOptions options) {
        return new CausalLm(checkpoint, false, spec, options);
    }

    public ModelSpec spec() {
        return spec;
    }

    public RuntimeOptions options() {
        return options;
    }

    /** The root manager holding resident weights (for memory accounting). */
    public NDManager manager() {
        return root;
    }

    /**
     * Runs {@code batches} through the model and hands each batch's logits {@code [B, T, vocab]} (fp32, closed after
     * the call) to {@code sink}. Resident models go batch by batch; layerwise models go layer by layer over all
     * batches, keeping every batch's hidden states.
     */
    public void run(List<TokenBatch> batches, ForwardObserver observer, LogitsSink sink) {
        if (options.layerwise()) {
            try (Pass pass = begin(batches)) {
                pass.runAll(observer);
                pass.finish(sink);
            }
            return;
        }
        for (int b = 0; b < batches.size(); b++) {
            int index = b;
            try (Pass pass = begin(List.of(batches.get(b)))) {
                pass.runAll(observer);
                pass.finish((i, batch, logits) -> sink.accept(index, batch, logits));
            }
        }
    }

    /** Starts a layer-by-layer pass over {@code batches} (calibration uses this directly). */
    public Pass begin(List<TokenBatch> batches) {
        return new Pass(this, batches);
    }

    /** Receives one batch's logits. */
    @FunctionalInterface
    public interface LogitsSink {
        void accept(int batchIndex, TokenBatch batch, NDArray logits);
    }

    // package-private plumbing for Pass
    RopeConfig rope() {
        return rope;
    }

    NDArray embedding() {
        return embed;
    }

    NDArray finalNorm() {
        return finalNorm;
    }

    NDArray lmHead() {
        return lmHead;
    }

    NDArray finalNormBias() {
        return finalNormBias;
    }

    NDArray lmHeadBias() {
        return lmHeadBias;
    }

    private NDArray optional(Role role) {
        return loader.has(role, -1) ? loader.model(root, arena, role) : null;
    }

    /** The resident layer, or null in layerwise mode. */
    LayerWeights resident(int layer) {
        return options.layerwise() ? null : layers.get(layer);
    }

    LayerWeights load(NDManager parent, int layer) {
        return new LayerWeights(parent, loader, layer);
    }

    @Override
    public void close() {
        for (LayerWeights l : layers) {
            l.close();
        }
        root.close();
        arena.close();
        if (ownsCheckpoint) {
            checkpoint.close();
        }
    }
}
