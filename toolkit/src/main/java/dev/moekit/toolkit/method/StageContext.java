package dev.moekit.toolkit.method;

import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * What a running stage may know beyond its input: the recipe's original model (the reference for metrics), how to
 * calibrate, where to compute, the seed, and where to report progress.
 *
 * @param original    the checkpoint the recipe started from
 * @param calibration calibration data settings
 * @param device      {@code cpu} or {@code gpu[:N]}
 * @param seed        seed for every random choice
 * @param log         progress and notices for people
 */
public record StageContext(Path original, CalibrationSettings calibration, String device, long seed, Consumer<String> log) {
    public void info(String message) {
        log.accept(message);
    }
}
