package dev.moekit.eval.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import dev.moekit.toolkit.model.ModelSpec;
import java.util.ArrayList;
import java.util.List;

/**
 * One layer-by-layer pass of some batches through a {@link CausalLm}: it holds each batch's hidden states
 * {@code [B, T, hidden]} between layers, so only one layer's activations (and, in layerwise mode, one layer's
 * weights) live at a time. Each layer step of each batch runs in its own sub-manager; its output moves to the pass
 * and its input is freed. Layers must run in order; {@link #observe} runs a layer without advancing, so a caller can
 * edit the layer's weights ({@link LayerWeights#replace}) before {@link #advance} computes the next inputs.
 */
public final class Pass implements AutoCloseable {
    private final CausalLm model;
    private final ModelSpec spec;
    private final List<TokenBatch> batches;
    private final NDManager manager;
    private final List<NDArray> hidden = new ArrayList<>();
    private final List<StepContext> contexts = new ArrayList<>();
    private static final int HIDDEN_MAGIC = 0x4d4b4853; // "MKHS"
    private LayerWeights loaded;   // layerwise mode: the current layer
    private int next;              // the next layer to advance through

    Pass(CausalLm model, List<TokenBatch> batches) {
        Engines.inferenceMode();
        this.model = model;
        this.spec = model.spec();
        this.batches = List.copyOf(batches);
        this.manager = model.manager().newSubManager();
        boolean timed = BlockTimes.enabled();
        if (timed) {
            BlockTimes.begin(model.embedding());
        }
        for (TokenBatch b : this.batches) {
            NDArray ids = b.idsArray(manager);
            NDArray h = model.embedding().get(manager, new NDIndex("{}", ids.reshape(-1)))
                    .reshape(b.rows(), b.length(), spec.hidden());                 // [B, T, hidden]
            hidden.add(h);
            contexts.add(StepContext.of(manager, spec, model.rope(), b.maskArray(manager),
                    model.options(), ForwardObserver.NONE, model.extension()));
        }
        if (timed) {
            BlockTimes.lap(BlockTimes.Block.EMBEDDING, model.embedding());
        }
    }

    public List<TokenBatch> batches() {
        return batches;
    }

    /** The next layer {@link #advance} will run. */
    public int nextLayer() {
        return next;
    }

    /** The weights of the next layer (loaded now in layerwise mode; edits apply to the following steps). */
    public LayerWeights layer() {
        if (next >= spec.layers()) {
            throw new IllegalStateException("all " + spec.layers() + " layers have run");
        }
        return layer(next);
    }

    private LayerWeights layer(int index) {
        LayerWeights w = model.resident(index);
        if (w != null) {
            return w;
        }
        if (loaded == null || loaded.layer() != index) {
            if (loaded != null) {
                loaded.close();
            }
            loaded = model.load(manager, index);
        }
        return loaded;
    }

    /** Runs the next layer on every batch for {@code observer} only; the hidden states stay as they were. */
    public void observe(ForwardObserver observer) {
        step(observer, false);
    }

    /** Runs the next layer on every batch and moves on to the following layer. */
    public void advance(ForwardObserver observer) {
        step(observer, true);
        next++;       // in layerwise mode the layer just run stays loaded until the next one loads or the pass closes
    }

    /** Runs all remaining layers. */
    public void runAll(ForwardObserver observer) {
        while (next < spec.layers()) {
            advance(observer);
        }
    }

    /** The hidden states entering the next layer, per batch {@code [B, T, hidden]} (owned by the pass). */
    public NDArray hidden(int batch) {
        return hidden.get(batch);
    }

    /**
     * Writes the hidden states entering {@link #nextLayer} (every batch, raw bytes in the runtime's dtype) to
     * {@code file}, so another process can go on from this layer with {@link #load} and compute the same values.
     */
    public void save(java.nio.file.Path file) throws java.io.IOException {
        try (var out = new java.io.DataOutputStream(new java.io.BufferedOutputStream(java.nio.file.Files.newOutputStream(file), 1 << 20))) {
            out.writeInt(HIDDEN_MAGIC);
            out.writeInt(next);
            out.writeInt(hidden.size());
            for (NDArray h : hidden) {
                out.writeUTF(h.getDataType().name());
                long[] shape = h.getShape().getShape();
                out.writeInt(shape.length);
                for (long d : shape) {
                    out.writeLong(d);
                }
                byte[] bytes = h.toByteArray();
                out.writeInt(bytes.length);
                out.write(bytes);
            }
        }
    }

    /**
     * Replaces the hidden states with those {@link #save} wrote for this pass's batches and moves to the layer they
     * enter; refuses a file of other batches (count, shapes) or another layer than {@code layer}.
     */
    public void load(java.nio.file.Path file, int layer) throws java.io.IOException {
        try (var in = new java.io.DataInputStream(new java.io.BufferedInputStream(java.nio.file.Files.newInputStream(file), 1 << 20))) {
            if (in.readInt() != HIDDEN_MAGIC) {
                throw new java.io.IOException(file + ": not a moekit hidden-state file");
            }
            int at = in.readInt();
            int n = in.readInt();
            if (at != layer || n != hidden.size() || at < 0 || at > spec.layers()) {
                throw new java.io.IOException(file + ": holds the inputs of layer " + at + " for " + n + " batch(es); expected layer " + layer
                        + " for " + hidden.size());
            }
            for (int b = 0; b < n; b++) {
                DataType dt = DataType.valueOf(in.readUTF());
                long[] shape = new long[in.readInt()];
                for (int k = 0; k < shape.length; k++) {
                    shape[k] = in.readLong();
                }
                byte[] bytes = new byte[in.readInt()];
                in.readFully(bytes);
                NDArray old = hidden.get(b);
                if (!java.util.Arrays.equals(shape, old.getShape().getShape())) {
                    throw new java.io.IOException(file + ": batch " + b + " has shape " + java.util.Arrays.toString(shape) + ", expected "
                            + old.getShape());
                }
                java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocateDirect(bytes.length).order(java.nio.ByteOrder.nativeOrder());
                buf.put(bytes).flip();
                NDArray h = manager.create(buf, new ai.djl.ndarray.types.Shape(shape), dt);
                hidden.set(b, h);
                old.close();
            }
            next = at;
        }
    }

    /** After the last layer: final norm and lm_head, handing fp32 logits {@code [B, T, vocab]} to {@code sink}. */
    public void finish(CausalLm.LogitsSink sink) {
        for (int b = 0; b < batches.size(); b++) {
            try (NDManager step = manager.newSubManager()) {
                sink.accept(b, batches.get(b), logits(b, step));
            }
        }
    }

    /**
     * After the last layer: the fp32 logits {@code [B, T, vocab]} of batch {@code b}, created in {@code scope}
     * (the caller closes it; the batch's hidden states stay with the pass).
     */
    public NDArray logits(int b, NDManager scope) {
        if (next != spec.layers()) {
            throw new IllegalStateException("pass is at layer " + next + " of " + spec.layers());
        }
        Engines.inferenceMode();
        NDArray h = hidden.get(b);
        h.tempAttach(scope);
        boolean timed = BlockTimes.enabled();
        if (timed) {
            BlockTimes.begin(h);
        }
        NDArray x = Ops.norm(spec, h, model.finalNorm(), model.finalNormBias());
        if (timed) {
            BlockTimes.lap(BlockTimes.Block.NORM, x);
        }
        NDArray logits = Ops.linear(x, model.lmHead(), model.lmHeadBias()).toType(DataType.FLOAT32, false);
        if (timed) {
            BlockTimes.lap(BlockTimes.Block.LM_HEAD, logits);
        }
        return logits;
    }

    private void step(ForwardObserver observer, boolean keep) {
        Engines.inferenceMode();
        LayerWeights w = layer();
        for (int b = 0; b < batches.size(); b++) {
            StepContext ctx = contexts.get(b).with(observer);
            try (NDManager step = manager.newSubManager()) {
                NDArray h = hidden.get(b);
                if (keep) {
                    h.attach(step);        // freed with the step
                } else {
                    h.tempAttach(step);    // returns to the pass
                }
                if (observer.observes(w.layer())) {
                    observer.tokenMask(step.create(batches.get(b).mask()).gt(0));   // [N] in the step
                }
                NDArray out = DecoderLayer.forward(spec, w, h, ctx, observer);
                if (keep) {
                    out.attach(manager);
                    hidden.set(b, out);
                }
            }
        }
    }

    @Override
    public void close() {
        if (loaded != null) {
            loaded.close();
        }
        manager.close();
    }
}
