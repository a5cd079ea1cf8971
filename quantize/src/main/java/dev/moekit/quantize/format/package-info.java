/**
 * Formats (plugin kind {@code format}): {@link dev.moekit.quantize.format.CompressedTensorsFormat compressed-tensors},
 * {@link dev.moekit.quantize.format.GptqFormat gptq} and {@link dev.moekit.quantize.format.FakeQuantFormat fake-quant},
 * with the packing, the reader ({@link dev.moekit.quantize.format.QuantizedCheckpoint}) and {@link
 * dev.moekit.quantize.format.Dequantize}.
 */
package dev.moekit.quantize.format;
