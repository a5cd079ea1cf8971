package dev.moekit.eval.runtime;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.TensorInfo;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.testing.TinyCheckpoints;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Errors of the runtime name the tensor or device at fault in one line. */
class RuntimeErrorsTest {
    @TempDir
    Path dir;

    @Test
    void aTransposedExpertWeightIsNamedBeforeAnyMatmul() {
        Path tiny = TinyCheckpoints.builder("mixtral").hidden(16).expertFfn(24).write(dir.resolve("tiny"));
        Path bad = dir.resolve("bad");
        String victim = "model.layers.1.block_sparse_moe.experts.0.w1.weight";
        try (Checkpoint c = Checkpoint.open(tiny)) {
            List<TensorSpec> specs = new ArrayList<>();
            for (String n : c.names()) {
                TensorInfo t = c.info(n);
                long[] shape = t.shape();
                if (n.equals(victim)) {
                    shape = new long[] {shape[1], shape[0]};
                }
                specs.add(new TensorSpec(n, t.dtype(), shape));
            }
            try (CheckpointWriter w = CheckpointWriter.create(bad, specs, CheckpointWriter.Options.defaults(), c.dir())) {
                for (String n : c.names()) {
                    w.copy(n, c.shard(n), n);
                }
                w.copyOtherFiles(c);
                w.commit(c.config());
            }
        }
        CheckpointException e = assertThrows(CheckpointException.class, () -> CausalLm.open(bad, RuntimeOptions.cpu()).close());
        assertTrue(e.getMessage().contains(victim) && !e.getMessage().contains("mat1"), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), "one line: " + e.getMessage());
    }

    @Test
    void aMissingGpuIsNamedInOneLine() {
        Path tiny = TinyCheckpoints.write(dir.resolve("tiny"), "mixtral");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CausalLm.open(tiny, new RuntimeOptions(RuntimeOptions.parseDevice("gpu:7"), Precision.FP32, false, 8)).close());
        assertTrue(e.getMessage().startsWith("device gpu:7 is not available") && !e.getMessage().contains("\n"), e.getMessage());
    }
}
