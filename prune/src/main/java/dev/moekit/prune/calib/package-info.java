/**
 * Collectors that fill the {@link dev.moekit.prune.stats} records from the eval runtime's calibration hooks, and the
 * runtime-backed {@link dev.moekit.prune.sparse.SequentialCalibration}.
 */
package dev.moekit.prune.calib;
