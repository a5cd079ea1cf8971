package dev.moekit.recipes.cli;

import dev.moekit.eval.EvalOptions;
import dev.moekit.eval.EvalResult;
import dev.moekit.eval.Evaluator;
import dev.moekit.quantize.Dequantize;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.FileTrees;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * A checkpoint ready for the eval runtime: the folder itself, or for a packed quantized checkpoint (compressed-tensors,
 * GPTQ) a temporary fp32 dequantized copy, deleted on close. The runtime then scores exactly what the packed weights
 * hold.
 */
record EvalInput(Path path, Path temp) implements AutoCloseable {
    /** Evaluates {@code model} (dequantizing it first if packed), reporting it under its own name, progress on stderr. */
    static EvalResult evaluate(Path model, EvalOptions options, Consumer<String> log) {
        try (EvalInput in = of(model, log)) {
            return Evaluator.evaluate(in.path(), options, new ProgressBar(System.err)).withModel(model.toString());
        }
    }

    static EvalInput of(Path model, Consumer<String> log) {
        if (!Dequantize.isPacked(model)) {
            return new EvalInput(model, null);
        }
        try {
            Path tmp = Files.createTempDirectory("moekit-dequant");
            Path out = tmp.resolve("model");
            log.accept("dequantizing the packed checkpoint for evaluation");
            Dequantize.run(model, out, DType.F32, CheckpointWriter.Options.defaults());
            return new EvalInput(out, tmp);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a temporary folder for dequantization", e);
        }
    }

    @Override
    public void close() {
        if (temp == null) {
            return;
        }
        try {
            FileTrees.delete(temp);
        } catch (IOException ignored) {
            // temporary files; the OS cleans them eventually
        }
    }
}
