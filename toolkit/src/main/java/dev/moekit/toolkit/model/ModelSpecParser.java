package dev.moekit.toolkit.model;

import dev.moekit.toolkit.io.Checkpoint;

/** Builds a {@link ModelSpec} from a checkpoint's config and tensors. */
final class ModelSpecParser {
    private ModelSpecParser() {}

    static ModelSpec parse(Checkpoint checkpoint) {
        throw new UnsupportedOperationException("ModelSpec parsing is not written yet");
    }
}
