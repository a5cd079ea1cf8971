package dev.moekit.toolkit.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.testing.TinyCheckpoints;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ParamCountTest {
    @TempDir
    Path tmp;

    @Test
    void mixtralTinyTotalsAndActive() {
        try (Checkpoint c = Checkpoint.open(RefModels.model("mixtral-tiny"))) {
            ParamCount p = ParamCount.of(c, ModelSpec.of(c));
            assertEquals(24_263_936L, p.total()); // README and index metadata
            long perExpert = 3L * 512 * 256; // w1, w3 [512, 256] and w2 [256, 512]
            assertEquals(6 * 8 * perExpert, p.params(Role.Kind.ROUTED_EXPERT));
            assertEquals(p.total() - 6 * (8 - 2) * perExpert, p.active());
            assertEquals(2 * 6 * 8 * perExpert, p.bytes(Role.Kind.ROUTED_EXPERT)); // bf16
            assertEquals(2L * 8192 * 256, p.params(Role.Kind.EMBEDDING)); // embed + untied lm_head
            assertEquals(6 * 8 * 256L, p.params(Role.Kind.ROUTER));
            assertEquals(0, p.unclassified());
        }
    }

    @Test
    void qwen2MoeTinyCountsSharedExpertsAsActive() {
        try (Checkpoint c = Checkpoint.open(RefModels.model("qwen2moe-tiny"))) {
            ParamCount p = ParamCount.of(c, ModelSpec.of(c));
            assertEquals(26_664_704L, p.total());
            long perExpert = 3L * 128 * 256;
            long shared = 3L * 512 * 256 + 256; // gate/up/down plus the [1, hidden] sigmoid gate
            assertEquals(6 * shared, p.params(Role.Kind.SHARED_EXPERT));
            assertEquals(p.total() - 6 * (32 - 4) * perExpert, p.active());
        }
    }

    @Test
    void tiedDenseModelCountsTheEmbeddingOnce() {
        try (Checkpoint c = Checkpoint.open(RefModels.model("llama-tiny-seed"))) {
            ParamCount p = ParamCount.of(c, ModelSpec.of(c));
            assertEquals(c.totalParameters(), p.total());
            assertEquals(p.total(), p.active());
            assertEquals(8192L * 256, p.params(Role.Kind.EMBEDDING));
        }
    }

    @Test
    void deepseekTinyHasDenseFirstLayer() {
        Path dir = TinyCheckpoints.write(tmp.resolve("ds"), "deepseek");
        try (Checkpoint c = Checkpoint.open(dir)) {
            ParamCount p = ParamCount.of(c, ModelSpec.of(c));
            long perExpert = 3L * 16 * 32;
            assertEquals(8 * perExpert, p.params(Role.Kind.ROUTED_EXPERT)); // only layer 1 is MoE
            assertEquals(3L * 48 * 32, p.params(Role.Kind.DENSE_MLP));
            assertEquals(3L * 32 * 32, p.params(Role.Kind.SHARED_EXPERT)); // 2 shared experts of width 16
            assertEquals(p.total() - 6 * perExpert, p.active());
        }
    }
}
