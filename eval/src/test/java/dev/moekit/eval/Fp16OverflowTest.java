package dev.moekit.eval;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.ForwardObserver;
import dev.moekit.eval.runtime.Precision;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.testing.TinyCheckpoints;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Activations past fp16's range are refused with the way out, not averaged into a NaN perplexity. */
class Fp16OverflowTest {
    @TempDir
    Path tmp;

    @Test
    void fp16OverflowIsRefusedWithTheFp32HintWhileFp32ScoresTheSameModel() {
        // weights of std 300: activations reach ~1e10 and more, far past fp16's 65504, finite in fp32
        Path dir = TinyCheckpoints.builder("mixtral").seed(1).std(300).write(tmp.resolve("loud"));
        int[][] windows = {{1, 5, 9, 3, 7, 2, 11, 4}, {1, 6, 2, 8, 3, 9, 4, 10}};
        try (CausalLm lm = CausalLm.open(dir, RuntimeOptions.cpu())) {
            double nll = new Evaluator(lm, null, ForwardObserver.NONE).score(windows, (d, t) -> { }).meanNll();
            assertTrue(Double.isFinite(nll), "fp32 mean NLL " + nll);
        }
        RuntimeOptions half = new RuntimeOptions(RuntimeOptions.parseDevice("cpu"), Precision.FP16, false, 2);
        try (CausalLm lm = CausalLm.open(dir, half)) {
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> new Evaluator(lm, null, ForwardObserver.NONE).score(windows, (d, t) -> { }));
            assertTrue(e.getMessage().contains("--dtype fp32") && e.getMessage().contains(dir.toString()), e.getMessage());
        }
    }
}
