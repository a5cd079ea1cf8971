package dev.moekit.toolkit.method;

import java.util.List;

/**
 * Calibration text and how it is cut, shared by every method that observes activations.
 *
 * @param data       text files or globs (default: the {@code *.valid.txt} splits beside the reference models)
 * @param windows    number of windows taken from each file
 * @param window     tokens per window (bos prepended, as the evaluation protocol)
 * @param allExperts route every token through every expert when collecting per-expert statistics, while the layer
 *                   output keeps the real routing
 */
public record CalibrationSettings(List<String> data, int windows, int window, boolean allExperts) {
    public CalibrationSettings {
        data = List.copyOf(data);
        if (windows < 1 || window < 2) {
            throw new IllegalArgumentException("calibration needs windows >= 1 and window >= 2, got " + windows + " x " + window);
        }
    }
}
