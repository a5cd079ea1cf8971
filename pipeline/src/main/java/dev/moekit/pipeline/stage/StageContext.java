package dev.moekit.pipeline.stage;

import dev.moekit.pipeline.Events;
import dev.moekit.toolkit.method.CalibrationSettings;
import java.nio.file.Path;

/**
 * What a stage may know beyond its parameters and input: the recipe's original model (the reference for metrics and
 * total budgets), calibration data (files resolved, globs expanded), where to compute, the seed, and where to report.
 *
 * @param original    the checkpoint the recipe started from
 * @param calibration calibration settings; {@code data} holds resolved absolute file paths
 * @param device      {@code cpu} or {@code gpu:N}
 * @param seed        seed for every random choice
 * @param events      progress and notices
 */
public record StageContext(Path original, CalibrationSettings calibration, String device, long seed, Events events) {
    public void info(String message) {
        events.info(message);
    }
}
