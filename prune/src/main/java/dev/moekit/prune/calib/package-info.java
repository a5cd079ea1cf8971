/**
 * The calibration side of pruning: {@link dev.moekit.prune.calib.CalibratedModel} (a model and its calibration
 * batches, every pass through eval's {@link dev.moekit.eval.Calibration}) and the collector that fills the
 * {@link dev.moekit.prune.stats} records of expert pruning from the runtime's hooks.
 */
package dev.moekit.prune.calib;
