package dev.moekit.quantize.alloc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.quantize.BoundAllocator;
import dev.moekit.quantize.LinearModule;
import dev.moekit.quantize.QuantOptions;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.Quantizer;
import dev.moekit.quantize.TestWeights;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.model.Role;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class MixtureAllocatorTest {
    @Test
    void useMoreBitsPicksLlamaCppsLayers() {
        // llama.cpp's use_more_bits for 32 layers: the first 4, the last 4, and every third from layer 6
        List<Integer> want = new ArrayList<>(List.of(0, 1, 2, 3));
        for (int i = 6; i < 28; i += 3) {
            want.add(i);
        }
        want.addAll(List.of(28, 29, 30, 31));
        assertEquals(want, IntStream.range(0, 32).filter(i -> MixtureAllocator.moreBits(i, 32)).boxed().toList());
        // 6 layers (n/8 = 0): layers 2 and 5
        assertEquals(List.of(2, 5), IntStream.range(0, 6).filter(i -> MixtureAllocator.moreBits(i, 6)).boxed().toList());
    }

    @Test
    void raisesVAndDownProjectionsOnlyInThoseLayers() {
        for (var model : List.of(TestWeights.MIXTRAL, TestWeights.QWEN)) {
            for (boolean uniform : new boolean[] {false, true}) {
            QuantOptions o = QuantOptions.defaults("compressed-tensors").withScheme(new QuantScheme(4, 64, false)).withUniformExpertBits(uniform)
                    .withAllocation(BoundAllocator.of("mixture", new MixtureAllocator.Parameters(6, null, null)));
            Map<LinearModule, QuantScheme> plan;
            try (Checkpoint in = Checkpoint.open(model)) {
                plan = Quantizer.plan(in, o, null);
            }
            int layers = 1 + plan.keySet().stream().mapToInt(LinearModule::layer).max().orElseThrow();
            int raised = 0;
            for (var e : plan.entrySet()) {
                LinearModule m = e.getKey();
                boolean role = m.role() == Role.V || m.role() == Role.EXPERT_DOWN || m.role() == Role.SHARED_DOWN || m.role() == Role.MLP_DOWN;
                // with uniform expert bits (vLLM's fused MoE: one scheme per layer of experts) routed experts stay at the default
                boolean routed = m.role().kind() == Role.Kind.ROUTED_EXPERT;
                int want = role && MixtureAllocator.moreBits(m.layer(), layers) && !(uniform && routed) ? 6 : 4;
                assertEquals(want, e.getValue().bits(), m.module());
                assertEquals(64, e.getValue().groupSize(), "only the bits change");
                raised += want == 6 ? 1 : 0;
            }
            assertTrue(raised > 0, model + ": something is raised");
            }
        }
        assertThrows(IllegalArgumentException.class, () -> new MixtureAllocator.Parameters(6, List.of("v_proj"), null), "unknown role named");
        assertThrows(IllegalArgumentException.class, () -> new MixtureAllocator.Parameters(6, null, "some"));
        assertThrows(IllegalArgumentException.class, () -> new MixtureAllocator.Parameters(9, null, null));
    }
}
