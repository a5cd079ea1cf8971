/**
 * Causal-LM forward passes on DJL's PyTorch engine for every family the toolkit describes (Llama, Mistral, Qwen2,
 * Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE, DeepSeek-MoE, Phi-3.5-MoE; DeepSeek-V2/V3 multi-head latent attention and
 * RoPE scalings other than linear are refused with a clear error).
 *
 * <p>One code path serves CPU and GPU ({@link dev.moekit.eval.runtime.RuntimeOptions}: device, fp32/fp16,
 * layer-at-a-time loading, batch size). Weights are read through the toolkit's {@code ModelSpec} names, converted
 * from bf16 in Java and handed to DJL from off-heap memory. Reading order, top-down:
 * {@link dev.moekit.eval.runtime.CausalLm} (embedding, layers, final norm, lm_head) →
 * {@link dev.moekit.eval.runtime.Pass} (layer-by-layer over batches, memory scoping) → {@code DecoderLayer} →
 * {@code Attention} and {@code FeedForward} ({@code Router}) → {@code Ops}. Hooks for calibration and statistics:
 * {@link dev.moekit.eval.runtime.ForwardObserver}.
 *
 * <p>Memory: weights live in the model's (or, layerwise, the layer's) manager and arena; each layer step of each
 * batch runs in a sub-manager closed at its end, so native memory does not grow with the number of forwards.
 * Autograd is off on every thread that runs a pass.
 *
 * <p>Training (module {@code distill}) uses the same layers: {@link dev.moekit.eval.runtime.Trainable} swaps the
 * weights of chosen {@link dev.moekit.eval.runtime.ParamGroup}s for fp32 masters that take gradients, and
 * {@link dev.moekit.eval.runtime.CausalLm#forward} runs a batch in the caller's scope and grad mode; dtype casts stay
 * differentiable then ({@code Ops.cast}). Methods add parameters ({@link dev.moekit.eval.runtime.CausalLm#addParameter})
 * and computation ({@link dev.moekit.eval.runtime.ForwardExtension}).
 */
package dev.moekit.eval.runtime;
