/**
 * Calibration statistics as plain records (routing counts, co-activations, gate and output-norm sums, per-Linear
 * input norms, MoE block inputs), so algorithms are tested on crafted numbers and fed by any collector.
 */
package dev.moekit.prune.stats;
