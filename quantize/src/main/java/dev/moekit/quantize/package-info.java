/**
 * moekit quantize: weight quantization of MoE checkpoints. This package holds the public API ({@link
 * dev.moekit.quantize.Quantizer}, {@link dev.moekit.quantize.CalibratedGptq}, {@link dev.moekit.quantize.QuantOptions},
 * {@link dev.moekit.quantize.QuantReport}), the recipe stage {@link dev.moekit.quantize.QuantizeStage}, the numeric
 * core (schemes, grids, quantized matrices) and the three plugin kinds: {@link dev.moekit.quantize.WeightQuantizer}
 * ({@code quantize.method}), {@link dev.moekit.quantize.BitAllocator} ({@code quantize.alloc}) and {@link
 * dev.moekit.quantize.PackedFormat} ({@code quantize.format}), all registered as {@code dev.moekit.toolkit.method.Method}s.
 */
package dev.moekit.quantize;
