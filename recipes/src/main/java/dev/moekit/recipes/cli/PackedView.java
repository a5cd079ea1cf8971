package dev.moekit.recipes.cli;

import dev.moekit.pipeline.Events;
import dev.moekit.pipeline.Pipeline;
import dev.moekit.pipeline.eval.Dequantizer;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.FileTrees;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The structure a packed quantized checkpoint (compressed-tensors, GPTQ: every format moekit writes) stands for: its
 * weights read back through the format's {@link Dequantizer} into a temporary folder, deleted on close. Reading back
 * checks every packed tensor's shape and dtype against the format; the structural check and the NaN scan then run on
 * exactly the weights the packed checkpoint holds. Plain checkpoints are used as they are.
 *
 * @param path   the folder to check (the input, or the dequantized copy)
 * @param format the packed format's name, or null for a plain checkpoint
 * @param temp   the temporary folder to delete, or null
 */
record PackedView(Path path, String format, Path temp) implements AutoCloseable {
    static PackedView of(Path dir) {
        Optional<Dequantizer> d = Pipeline.standard(Events.NONE).evaluation().dequantizer(dir);
        if (d.isEmpty()) {
            return new PackedView(dir, null, null);
        }
        DType dtype;
        try (Checkpoint c = Checkpoint.open(dir)) {
            dtype = c.names().stream().map(n -> c.info(n).dtype()).filter(t -> t == DType.BF16 || t == DType.F16 || t == DType.F32)
                    .findFirst().orElse(DType.BF16);
        }
        try {
            Path tmp = Files.createTempDirectory("moekit-packed");
            d.get().dequantize(dir, tmp.resolve("model"), dtype);
            return new PackedView(tmp.resolve("model"), ((dev.moekit.toolkit.method.Method<?>) d.get()).name(), tmp);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a temporary folder to read the packed weights (" + e.getMessage() + ")", e);
        }
    }

    boolean packed() {
        return format != null;
    }

    @Override
    public void close() {
        if (temp != null) {
            try {
                FileTrees.delete(temp);
            } catch (IOException ignored) {
                // a temporary folder
            }
        }
    }
}
