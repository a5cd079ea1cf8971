package dev.moekit.distill;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import dev.moekit.eval.runtime.ForwardExtension;
import dev.moekit.eval.runtime.ForwardObserver;
import dev.moekit.eval.runtime.LayerWeights;
import dev.moekit.eval.runtime.ParamGroup;
import dev.moekit.eval.runtime.Trainable;
import dev.moekit.pipeline.Events;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.TensorInfo;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.tensor.Floats;
import dev.moekit.toolkit.testing.TinyCheckpoints;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The trained student is written in its own layout: same names, dtypes and shapes (fused 3-D experts stay fused),
 * trained tensors as their fp32 masters rounded to bf16, everything else byte for byte; parameters a method adds train
 * alone through its {@link ForwardExtension} and are written under their tensor name.
 */
class StudentWriterTest {
    private static int[][] windows() {
        int[][] w = new int[4][12];
        for (int r = 0; r < 4; r++) {
            for (int t = 0; t < 12; t++) {
                w[r][t] = (5 * t + 9 * r + 2) % 64;
            }
        }
        return w;
    }

    @Test
    void fusedBf16ExpertsAreWrittenBackIntoTheirSlicesAndTheRestIsCopied(@TempDir Path tmp) throws Exception {
        try (AutoCloseable one = Fixtures.oneThread()) {
            fused(tmp);
        }
    }

    private static void fused(Path tmp) {
        Path in = TinyCheckpoints.builder("qwen2_moe").fused(true).std(0.2).write(tmp.resolve("in"));
        Path out = tmp.resolve("out");
        TrainSpec spec = TrainSpec.builder(in, new TrainData.Windows(windows())).train(EnumSet.of(ParamGroup.EXPERTS))
                .steps(3).batch(2).optim(Optim.of(1e-2)).output(out).build();
        List<Trainable.Param> params;
        try (Trainer t = Trainer.open(spec, Events.NONE)) {
            t.run();
            t.write(out);
            params = t.parameters().params();
            try (Checkpoint a = Checkpoint.open(in); Checkpoint b = Checkpoint.open(out)) {
                ModelSpec s = ModelSpec.of(a);
                assertTrue(s.fusedExperts());
                assertEquals(a.names().stream().sorted().toList(), b.names().stream().sorted().toList());
                assertEquals(a.config(), b.config());
                String fused = s.name(Role.EXPERTS_GATE_UP, 0);
                for (String n : a.names()) {
                    TensorInfo x = a.info(n);
                    TensorInfo y = b.info(n);
                    assertEquals(x.dtype(), y.dtype(), n);
                    assertArrayEquals(x.shape(), y.shape(), n);
                    boolean trained = n.contains("experts") || n.contains("shared_expert");
                    assertEquals(!trained, java.util.Arrays.equals(a.shard(n).readBytes(n), b.shard(n).readBytes(n)),
                            n + (trained ? " was trained and must change" : " was not trained and must be copied as is"));
                }
                // expert 1's up rows of layer 0 are the master rounded to bf16, at [1, ffn:2ffn, :]
                Trainable.Param up = params.stream().filter(p -> p.role() == Role.EXPERT_UP && p.layer() == 0 && p.expert() == 1).findFirst().orElseThrow();
                float[] master = up.floats();
                float[] all = b.floats(fused);
                int block = master.length;
                for (int i = 0; i < block; i++) {
                    assertEquals(Floats.bf16ToFloat(Floats.floatToBf16(master[i])), all[2 * block + block + i], "element " + i);
                }
                assertEquals(DType.BF16, b.info(fused).dtype());
            }
        }
        assertTrue(Files.isRegularFile(out.resolve("config.json")));
    }

    /** out * (1 + gain) on every MoE layer's output; gain [hidden] starts at zero, so the model starts unchanged. */
    static final class Gain implements ForwardExtension {
        @Override
        public NDArray feedForward(LayerWeights w, NDArray x, ForwardObserver.RouterOutput routing, NDArray out) {
            NDArray g = w.extra("gain");
            return g == null ? out : out.add(out.mul(g));        // activation first: results stay in the step's scope
        }
    }

    @Test
    void aMethodsAddedParametersTrainAloneAndAreWrittenUnderTheirNames(@TempDir Path tmp) {
        Path in = TinyCheckpoints.builder("mixtral").std(0.2).write(tmp.resolve("in"));
        Path out = tmp.resolve("out");
        List<AddedParameter> added = List.of(
                new AddedParameter("gain", 0, new long[] {32}, new float[32], "model.layers.0.block_sparse_moe.gain"),
                new AddedParameter("gain", 1, new long[] {32}, new float[32], null));
        TrainSpec spec = TrainSpec.builder(in, new TrainData.Windows(windows())).train(EnumSet.of(ParamGroup.NEW))
                .steps(4).batch(2).optim(Optim.of(1e-2)).added(added, new Gain()).output(out).build();
        TrainReport r = Trainer.train(spec, Events.NONE);
        assertEquals(64, r.parameters(), "only the two gains train");
        assertTrue(r.lastLoss() < r.firstLoss(), r.summary());
        try (Checkpoint a = Checkpoint.open(in); Checkpoint b = Checkpoint.open(out)) {
            for (String n : a.names()) {
                assertArrayEquals(a.shard(n).readBytes(n), b.shard(n).readBytes(n), n + " is not trained");
            }
            assertEquals(a.names().size() + 1, b.names().size(), "the written gain is added, the other is not");
            float[] gain = b.floats("model.layers.0.block_sparse_moe.gain");
            assertFalse(java.util.Arrays.equals(new float[32], gain), "the gain moved away from zero");
        }
    }
}
