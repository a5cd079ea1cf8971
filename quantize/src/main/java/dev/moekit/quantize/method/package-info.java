/**
 * Weight quantizers (plugin kind {@code weight-quantizer}): {@link dev.moekit.quantize.method.RtnQuantizer rtn} and
 * {@link dev.moekit.quantize.method.GptqQuantizer gptq}, with the algorithms they run ({@link
 * dev.moekit.quantize.method.Rtn}, {@link dev.moekit.quantize.method.Gptq}).
 */
package dev.moekit.quantize.method;
