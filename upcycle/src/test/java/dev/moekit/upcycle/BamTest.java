package dev.moekit.upcycle;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.moekit.eval.TextWindows;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.ForwardObserver;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.eval.runtime.TokenBatch;
import dev.moekit.pipeline.Events;
import dev.moekit.pipeline.Pipeline;
import dev.moekit.pipeline.recipe.Recipe;
import dev.moekit.pipeline.recipe.StageEntry;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.CalibrationSettings;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.SpecChecker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * BAM checkpoints (family moekit_bam) in moekit's runtime: identical attention experts (and FFN experts) reproduce the
 * seed's logits, Expert-KV and Shared-KV; assembled from the specialists each attention expert is its input's
 * attention; the modeling code and auto_map ship with the checkpoint; training reaches the attention experts.
 */
class BamTest {
    private static int threads;

    @BeforeAll
    static void one() {
        threads = Refs.oneThread();
    }

    @AfterAll
    static void back() {
        Refs.threads(threads);
    }

    private static float[] logits(Path model, int[][] windows) {
        try (CausalLm m = CausalLm.open(model, RuntimeOptions.cpu()); NDManager scope = NDManager.newBaseManager()) {
            return m.forward(TokenBatch.of(windows), scope, ForwardObserver.NONE).toFloatArray();
        }
    }

    private static int[][] windows() {
        try (TextWindows t = TextWindows.open(Refs.seed())) {
            return t.windows(Refs.testSplits().get(0), 64, 2);
        }
    }

    private static void identicalExpertsGiveTheSeed(Path tmp, boolean sharedKv) {
        Path out = tmp.resolve(sharedKv ? "shared" : "expert");
        List<Path> three = Collections.nCopies(3, Refs.seed());
        Assembly.write(Refs.seed(), new Assembly.Spec(three, List.of(Refs.seed()), Assembly.Layers.ALL, 1, Double.NaN, 3,
                new Assembly.Bam(sharedKv, false)), out);
        try (Checkpoint c = Checkpoint.open(out)) {
            ModelSpec s = ModelSpec.of(c);
            assertEquals("moekit_bam", s.family().name());
            assertEquals(3, s.attentionExperts());
            assertEquals(sharedKv, s.sharedKv());
            assertEquals(List.of(), SpecChecker.check(c, s));
            assertEquals(sharedKv, c.has("model.layers.0.self_attn.k_proj.weight"));
            assertFalse(c.has("model.layers.0.self_attn.q_proj.weight"));
            assertEquals(!sharedKv, c.has("model.layers.0.self_attn.experts.2.v_proj.weight"));
        }
        int[][] w = windows();
        float[] seed = logits(Refs.seed(), w);
        float[] bam = logits(out, w);
        double max = 0;
        for (int i = 0; i < seed.length; i++) {
            max = Math.max(max, Math.abs(seed[i] - bam[i]));
        }
        assertTrue(max < 1e-3, (sharedKv ? "Shared-KV" : "Expert-KV") + ": max |logit difference| " + max);
    }

    @Test
    void identicalAttentionExpertsReproduceTheSeedsLogitsExpertKv(@TempDir Path tmp) {
        identicalExpertsGiveTheSeed(tmp, false);
    }

    @Test
    void identicalAttentionExpertsReproduceTheSeedsLogitsSharedKv(@TempDir Path tmp) {
        identicalExpertsGiveTheSeed(tmp, true);
    }

    @Test
    void fromTheSpecialistsEachAttentionExpertIsItsInputsAttentionAndTheCodeShips(@TempDir Path tmp) throws Exception {
        List<Path> experts = new ArrayList<>(Refs.specialists());
        experts.add(Refs.seed());
        List<Path> averaged = new ArrayList<>(List.of(Refs.seed()));
        averaged.addAll(Refs.specialists());
        Path out = tmp.resolve("bam");
        Assembly.write(Refs.seed(), new Assembly.Spec(experts, averaged, Assembly.Layers.ALL, 1, Double.NaN, 3,
                new Assembly.Bam(true, false)), out);
        try (Checkpoint c = Checkpoint.open(out)) {
            for (int a = 0; a < experts.size(); a++) {
                try (Checkpoint src = Checkpoint.open(experts.get(a))) {
                    assertArrayEquals(src.floats("model.layers.3.self_attn.q_proj.weight"), c.floats("model.layers.3.self_attn.experts." + a + ".q_proj.weight"));
                    assertArrayEquals(src.floats("model.layers.3.self_attn.o_proj.weight"), c.floats("model.layers.3.self_attn.experts." + a + ".o_proj.weight"));
                }
            }
            assertEquals("MoekitBamForCausalLM", c.config().path("architectures").get(0).asText());
            assertEquals("modeling_moekit_bam.MoekitBamForCausalLM", c.config().path("auto_map").path("AutoModelForCausalLM").asText());
            assertTrue(c.config().path("attention_shared_kv").asBoolean());
        }
        for (String f : Assembly.BAM_CODE) {
            assertTrue(Files.readString(out.resolve(f)).contains("class MoekitBam"), f);
        }
        double[] ppl = Refs.eval(out, 1).domains().stream().mapToDouble(d -> d.perplexity()).toArray();
        for (double p : ppl) {
            assertTrue(Double.isFinite(p) && p > 1 && p < 1000, "perplexity " + p);
        }
    }

    @Test
    void theBamStageTrainsTheAttentionExperts(@TempDir Path tmp) throws Exception {
        var p = Json.PRETTY.createObjectNode();
        p.putArray("experts").add(Refs.specialists().get(0).toString()).add(Refs.specialists().get(2).toString());
        p.put("attention", "expert_kv");
        p.put("train_tokens", 3 * 2 * 32);
        p.put("batch_size", 2);
        p.put("window", 32);
        p.put("windows_per_file", 4);
        p.put("lr", 1e-3);
        Recipe r = new Recipe(Refs.seed(), tmp.resolve("out"), false, 1, "cpu",
                new CalibrationSettings(Refs.validSplits().stream().map(Path::toString).toList(), 4, 32, false),
                List.of(new StageEntry("bam", p)), null);
        Pipeline.Result res = Pipeline.standard(Events.NONE).run(r);
        assertEquals(3, res.provenance().path("stages").get(0).path("report").path("training").path("steps").asInt());
        try (Checkpoint c = Checkpoint.open(res.output()); Checkpoint python = Checkpoint.open(Refs.specialists().get(0))) {
            assertEquals(List.of(), SpecChecker.check(c, ModelSpec.of(c)));
            assertFalse(java.util.Arrays.equals(python.floats("model.layers.2.self_attn.k_proj.weight"),
                    c.floats("model.layers.2.self_attn.experts.0.k_proj.weight")), "attention expert 0 trained");
            assertTrue(Files.exists(res.output().resolve("modeling_moekit_bam.py")), "the modeling code survives training");
        }
    }
}
