package dev.moekit.distill.slim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.ForwardObserver;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.eval.runtime.TokenBatch;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.model.Family;
import dev.moekit.toolkit.model.LayerSpec;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.model.SpecChecker;
import dev.moekit.toolkit.testing.TinyCheckpoints;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Slicing in every MoE family moekit reads, in both expert layouts, on generated checkpoints: removing neurons and a
 * GQA group gives the logits of the unsliced model with those neurons' down columns and that group's o columns zeroed
 * (so every kept value went where it belongs), the fused layout gives the logits of the per-expert one, and the output
 * passes the checkpoint checks.
 */
class SlimFamiliesTest {
    private static final TokenBatch BATCH = new TokenBatch(new int[] {1, 5, 9, 3, 7, 2, 11, 4, 1, 5, 9, 3, 7, 13, 17, 19}, new int[] {
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 2, 8);

    static float[] logits(Path dir) {
        List<float[]> out = new ArrayList<>();
        try (CausalLm m = CausalLm.open(dir, RuntimeOptions.cpu())) {
            m.run(List.of(BATCH), ForwardObserver.NONE, (i, b, l) -> out.add(l.toFloatArray()));
        }
        return out.getFirst();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"mixtral", "qwen2_moe", "qwen3_moe", "olmoe", "deepseek", "phimoe"})
    void slicingEqualsMaskingInBothLayouts(String family, @TempDir Path tmp) {
        Path flat = TinyCheckpoints.builder(family).std(0.2).write(tmp.resolve("flat"));
        Path fused = TinyCheckpoints.builder(family).std(0.2).fused(true).write(tmp.resolve("fused"));
        ModelSpec s = SlimTest.spec(flat);
        // OLMoE normalises q and k over all heads together: removing a head changes the others, so no group is dropped there
        boolean allHeads = s.family().traits().qkNorm() == Family.QkNormScope.ALL_HEADS;
        Target t = Target.of(s, 0.5, allHeads ? null : s.kvHeads() - 1);
        Scores sc = Scores.zeros(s);
        Random r = new Random(11);
        for (int l = 0; l < s.layers(); l++) {
            for (double[] e : sc.experts()[l]) {
                IntStream.range(0, e.length).forEach(i -> e[i] = r.nextDouble());
            }
            double[] sh = sc.shared()[l];
            if (sh != null) {
                IntStream.range(0, sh.length).forEach(i -> sh[i] = r.nextDouble());
            }
            double[] g = sc.groups()[l];
            IntStream.range(0, g.length).forEach(i -> g[i] = r.nextDouble());
        }
        Selection sel = Selection.top(s, sc, t);
        Path slimFlat = tmp.resolve("slim-flat");
        Path slimFused = tmp.resolve("slim-fused");
        try (Checkpoint c = Checkpoint.open(flat)) {
            SlimWriter.write(c, s, sel, slimFlat);
        }
        try (Checkpoint c = Checkpoint.open(fused)) {
            SlimWriter.write(c, SlimTest.spec(fused), sel, slimFused);
        }
        for (Path p : List.of(slimFlat, slimFused)) {
            try (Checkpoint c = Checkpoint.open(p)) {
                ModelSpec o = ModelSpec.of(c);
                assertEquals(List.of(), SpecChecker.checkAll(c, o), family + " " + p.getFileName());
                for (LayerSpec ls : o.layerSpecs()) {
                    if (ls.moe()) {
                        assertEquals(t.ffn(), ls.expertFfn());
                        assertEquals(t.sharedFfn(), ls.sharedFfn());
                    }
                }
                assertEquals(t.kvGroups(), o.kvHeads());
            }
        }
        Path masked = SlimTest.edited(flat, tmp.resolve("masked"), (name, v) -> mask(s, sel, name, v));
        float[] want = logits(masked);
        double flatDiff = SlimTest.maxDiff(want, logits(slimFlat));
        double fusedDiff = SlimTest.maxDiff(want, logits(slimFused));
        assertTrue(flatDiff < 1e-3, family + ": sliced vs masked differ by " + flatDiff);
        assertTrue(fusedDiff < 1e-3, family + ": fused sliced vs masked differ by " + fusedDiff);
        assertTrue(SlimTest.maxDiff(want, logits(flat)) > 1e-2, family + ": the removed units mattered");
    }

    /** Zeroes the down columns of removed neurons and the o columns of removed groups; null for other tensors. */
    private static float[] mask(ModelSpec s, Selection sel, String name, float[] v) {
        for (int l = 0; l < s.layers(); l++) {
            LayerSpec ls = s.layer(l);
            Map<String, int[]> downs = new java.util.HashMap<>();
            if (ls.moe()) {
                for (int e = 0; e < ls.experts(); e++) {
                    downs.put(s.name(Role.EXPERT_DOWN, l, e), sel.experts()[l][e]);
                }
                if (ls.sharedFfn() > 0) {
                    downs.put(s.name(Role.SHARED_DOWN, l), sel.shared()[l]);
                }
            }
            int[] keep = downs.get(name);
            if (keep != null) {
                return zeroColumns(v, s.hidden(), keep);
            }
            if (name.equals(s.name(Role.O, l)) && sel.kvGroups() != s.kvHeads()) {
                int width = s.headDim() * s.heads() / s.kvHeads();
                int[] cols = IntStream.of(sel.groups()[l]).flatMap(g -> IntStream.range(g * width, (g + 1) * width)).toArray();
                return zeroColumns(v, s.hidden(), cols);
            }
        }
        return null;
    }

    private static float[] zeroColumns(float[] v, int rows, int[] keep) {
        int cols = v.length / rows;
        boolean[] kept = new boolean[cols];
        for (int k : keep) {
            kept[k] = true;
        }
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                if (!kept[c]) {
                    v[r * cols + c] = 0;
                }
            }
        }
        return v;
    }
}
