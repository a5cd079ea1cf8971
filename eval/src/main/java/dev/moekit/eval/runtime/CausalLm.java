package dev.moekit.eval.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A causal language model of any supported family on DJL's PyTorch engine: token embedding, decoder layers
 * ({@link DecoderLayer}), final RMSNorm and lm_head (the embedding when tied). Weights stay resident, or with
 * {@link RuntimeOptions#layerwise()} each layer is loaded when a {@link Pass} reaches it and freed after.
 * {@link #forward} runs one batch through the same layers in the caller's scope and grad mode (training; see
 * {@link Trainable}). Not thread-safe: one pass at a time.
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
    // model-level weights; not final: Trainable swaps them for fp32 masters
    private NDArray embed;      // [vocab, hidden]
    private NDArray finalNorm;  // [hidden]
    private NDArray lmHead;     // [vocab, hidden]
    private NDArray finalNormBias;  // [hidden] LayerNorm families, else null
    private NDArray lmHeadBias;     // [vocab] or null
    private final List<LayerWeights> layers;  // resident layers; empty in layerwise mode
    private final Map<String, NDArray> extras = new LinkedHashMap<>();  // model-level parameters a method added
    private ForwardExtension extension = ForwardExtension.NONE;

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

    /** The checkpoint folder the model was read from. */
    public java.nio.file.Path dir() {
        return checkpoint.dir();
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

    /**
     * One batch through the whole model (resident weights only), every intermediate array created in {@code scope}
     * (the caller closes it, after {@code backward} when training). Leaves grad mode as the calling thread has it:
     * inside a {@code GradientCollector} the logits carry the graph back to the {@link Trainable} masters.
     * Returns fp32 logits {@code [B, T, vocab]}, the same values {@link #run} gives.
     */
    public NDArray forward(TokenBatch batch, NDManager scope, ForwardObserver observer) {
        if (options.layerwise()) {
            throw new IllegalStateException(checkpoint.dir() + ": forward() needs resident weights; open the model without layerwise loading");
        }
        NDArray ids = batch.idsArray(scope);
        NDArray h = embed.get(scope, new NDIndex("{}", ids.reshape(-1)))
                .reshape(batch.rows(), batch.length(), spec.hidden());              // [B, T, hidden]
        StepContext ctx = StepContext.of(scope, spec, rope, batch.maskArray(scope), options, observer,
                extension);
        for (LayerWeights w : layers) {
            if (observer.observes(w.layer())) {
                observer.tokenMask(scope.create(batch.mask()).gt(0));              // [N]
            }
            h = DecoderLayer.forward(spec, w, h, ctx, observer);
        }
        NDArray x = Ops.norm(spec, h, finalNorm, finalNormBias);
        return Ops.cast(Ops.linear(x, lmHead, lmHeadBias), DataType.FLOAT32);
    }

    /** The forward extension (default {@link ForwardExtension#NONE}). */
    public ForwardExtension extension() {
        return extension;
    }

    /** Installs a method's extra computation; it applies to {@link #run}, {@link #begin} and {@link #forward}. */
    public void setExtension(ForwardExtension extension) {
        this.extension = extension == null ? ForwardExtension.NONE : extension;
    }

    /**
     * Adds a parameter a method's {@link ForwardExtension} reads: per layer ({@link LayerWeights#extra}) or, with
     * {@code layer = -1}, model-level ({@link #extra}); fp32 {@code values} of {@code shape}, held in the compute
     * dtype. Names are unique per layer. Resident models only.
     */
    public void addParameter(String name, int layer, float[] values, long[] shape) {
        if (options.layerwise()) {
            throw new IllegalStateException(checkpoint.dir() + ": parameters can be added to resident models only");
        }
        if (layer < -1 || layer >= spec.layers()) {
            throw new IllegalArgumentException("parameter '" + name + "': layer " + layer + " out of range -1.." + (spec.layers() - 1));
        }
        if (layer >= 0) {
            layers.get(layer).addExtra(name, values, shape);
            return;
        }
        if (extras.containsKey(name)) {
            throw new IllegalArgumentException("the model already has a parameter named '" + name + "'");
        }
        extras.put(name, loader.fromFloats(root, arena, values, shape));
    }

    /** A model-level parameter a method added, or null. */
    public NDArray extra(String name) {
        return extras.get(name);
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

    // plumbing for Trainable
    List<LayerWeights> residentLayers() {
        return layers;
    }

    Map<String, NDArray> extraMap() {
        return Collections.unmodifiableMap(extras);
    }

    void installExtra(String name, NDArray array) {
        extras.put(name, array);
    }

    /** A model-level weight by role (embedding, final norm and its bias, lm_head and its bias), or null. */
    NDArray model(Role role) {
        return switch (role) {
            case EMBED -> embed;
            case FINAL_NORM -> finalNorm;
            case FINAL_NORM_BIAS -> finalNormBias;
            case LM_HEAD -> spec.tiedEmbeddings() || lmHead == embed ? null : lmHead;
            case LM_HEAD_BIAS -> lmHeadBias;
            default -> throw new IllegalArgumentException(role + " is not a model-level role");
        };
    }

    /** Swaps a model-level weight without closing the old one; a tied lm_head follows the embedding. */
    void installModel(Role role, NDArray array) {
        switch (role) {
            case EMBED -> {
                if (lmHead == embed) {
                    lmHead = array;
                }
                embed = array;
            }
            case FINAL_NORM -> finalNorm = array;
            case FINAL_NORM_BIAS -> finalNormBias = array;
            case LM_HEAD -> lmHead = array;
            case LM_HEAD_BIAS -> lmHeadBias = array;
            default -> throw new IllegalArgumentException(role + " is not a model-level role");
        }
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
