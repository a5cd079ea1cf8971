package dev.moekit.prune.testing;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.model.ModelSpec;
import java.nio.file.Path;

/** The shared reference checkpoints. */
public final class RefModels {
    private RefModels() {}

    public static Path shared() {
        return Path.of(System.getProperty("moekit.shared", "../../shared"));
    }

    public static Path model(String name) {
        return shared().resolve("models").resolve(name);
    }

    public static ModelSpec spec(Checkpoint c) {
        return ModelSpec.of(c);
    }
}
