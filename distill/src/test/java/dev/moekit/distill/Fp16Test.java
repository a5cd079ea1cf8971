package dev.moekit.distill;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import dev.moekit.eval.runtime.ParamGroup;
import dev.moekit.eval.runtime.Precision;
import dev.moekit.pipeline.Events;
import dev.moekit.toolkit.testing.TinyCheckpoints;
import java.nio.file.Path;
import java.util.EnumSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * fp16 compute with fp32 masters and dynamic loss scaling (the GPU setting; CPU runs it too, slowly): gradients cross
 * every fp16/fp32 cast of the forward (DJL's own cast would cut the graph) and training tracks the fp32 run.
 */
class Fp16Test {
    @Test
    void fp16ComputeTrainsFp32MastersWithLossScalingLikeFp32(@TempDir Path tmp) throws Exception {
        Path dir = TinyCheckpoints.builder("mixtral").std(0.2).write(tmp.resolve("tiny"));
        int[][] rows = new int[8][16];
        for (int r = 0; r < 8; r++) {
            for (int t = 0; t < 16; t++) {
                rows[r][t] = (7 * t + 13 * r + 1) % 64;
            }
        }
        double[] last = new double[2];
        try (AutoCloseable one = Fixtures.oneThread()) {
            for (Precision p : Precision.values()) {
                TrainSpec spec = TrainSpec.builder(dir, new TrainData.Windows(rows)).train(EnumSet.of(ParamGroup.ALL))
                        .steps(12).batch(4).precision(p).optim(Optim.of(1e-2)).build();
                try (Trainer t = Trainer.open(spec, Events.NONE)) {
                    TrainReport r = t.run();
                    assertTrue(r.lastLoss() < 0.5 * r.firstLoss(), p + ": " + r.summary());
                    assertEquals(0, r.skippedSteps(), p.name());
                    assertEquals(p == Precision.FP16 ? 65536 : 1, r.lossScale(), p.name());
                    assertTrue(t.parameters().params().stream().allMatch(x -> x.master().getDataType() == DataType.FLOAT32));
                    last[p.ordinal()] = r.lastLoss();
                }
            }
        }
        assertEquals(last[0], last[1], 0.05 * last[0], "fp16 training follows fp32");
    }
}
