/**
 * Evaluation and calibration on the DJL runtime.
 *
 * <ul>
 *   <li>{@link dev.moekit.eval.Evaluator#evaluate} scores a checkpoint folder under the evaluation protocol
 *       ({@link dev.moekit.eval.TextWindows}: whole text, no special tokens, bos prepended, windows of 256 from the
 *       start, first 32): perplexity per data file and, with a reference model, KL divergence (mean, median, p90,
 *       p99, max), top-1 agreement and routing counts. Options in {@link dev.moekit.eval.EvalOptions}; the
 *       {@link dev.moekit.eval.EvalResult} renders as JSON ({@code toJson()}) or a table ({@code table()}); a
 *       {@link dev.moekit.eval.Progress} callback reports windows done.</li>
 *   <li>{@link dev.moekit.eval.Calibration#run} streams calibration windows (default: {@code *.valid.txt}) through a
 *       model layer by layer for a {@link dev.moekit.eval.CalibrationObserver}, optionally through every expert and
 *       optionally sequentially (edits of layer l feed layer l+1), and returns a
 *       {@link dev.moekit.eval.CoverageReport}.</li>
 * </ul>
 * The model itself lives in {@link dev.moekit.eval.runtime}.
 */
package dev.moekit.eval;
