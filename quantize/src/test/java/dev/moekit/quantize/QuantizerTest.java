package dev.moekit.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.quantize.format.QuantizedCheckpoint;
import dev.moekit.quantize.method.GptqQuantizer;
import dev.moekit.quantize.method.Rtn;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.model.SpecChecker;
import dev.moekit.toolkit.select.Selector;
import dev.moekit.toolkit.tensor.Floats;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QuantizerTest {
    @TempDir
    Path tmp;

    private static QuantReport run(Path out, QuantOptions o) {
        try (Checkpoint in = Checkpoint.open(TestWeights.MIXTRAL)) {
            return Quantizer.run(in, out, o, null);
        }
    }

    private static float bf16(float v) {
        return Floats.bf16ToFloat(Floats.floatToBf16(v));
    }

    @Test
    void fakeQuantRewritesSelectedLinearsAndCopiesEverythingElse() {
        Path out = tmp.resolve("fake");
        QuantReport r = run(out, QuantOptions.defaults("fake-quant"));
        try (Checkpoint in = Checkpoint.open(TestWeights.MIXTRAL); Checkpoint o = Checkpoint.open(out)) {
            ModelSpec spec = ModelSpec.of(in);
            ModuleCatalog cat = ModuleCatalog.of(in, spec);
            assertEquals(in.names().stream().sorted().toList(), o.names().stream().sorted().toList());
            assertTrue(SpecChecker.check(o, ModelSpec.of(o)).isEmpty(), "output passes the structure check");
            int layers = spec.layers();
            int experts = spec.layer(0).experts();
            assertEquals(layers * (4 + 3 * experts), r.modules().size(), "attention and every expert linear quantized");
            for (int l = 0; l < layers; l++) {
                String router = spec.name(Role.ROUTER, l);
                assertArrayEquals(in.shard(router).readBytes(router), o.shard(router).readBytes(router), "router untouched");
            }
            String embed = spec.name(Role.EMBED);
            assertArrayEquals(in.shard(embed).readBytes(embed), o.shard(embed).readBytes(embed));
            LinearModule m = cat.linears().stream().filter(x -> x.role() == Role.EXPERT_DOWN).findFirst().orElseThrow();
            float[] expect = Rtn.quantize(in.floats(m.tensor()), m.rows(), m.cols(), new QuantScheme(4, 128, true), DType.BF16).dequantize();
            float[] got = o.floats(m.tensor());
            for (int i = 0; i < got.length; i++) {
                assertEquals(bf16(expect[i]), got[i], 0f);
            }
            assertEquals(in.config().deepCopy().without("x"), o.config().deepCopy().without("x"), "fake quant leaves config.json alone");
            assertFalse(o.dir().resolve("quantization_report.json").toFile().exists(), "the report goes to the provenance, not the checkpoint");
        }
        assertEquals(4.0, r.averageBits(), 1e-9);
        assertEquals(4.0 + 16.0 / 128, r.averageStoredBits(), 1e-9, "scales of bf16 per 128 weights");
        assertEquals(0, r.fallbacks());
    }

    @Test
    void packedFormatsReadBackToTheFakeQuantValuesForEveryWidthAndGroup() {
        int run = 0;
        for (int bits : new int[] {2, 3, 4, 8}) {
            for (int gs : new int[] {0, 32, 128}) {
                for (PackedFormat f : new PackedFormat[] {PackedFormat.named("compressed-tensors"), PackedFormat.named("gptq")}) {
                    boolean sym = f.name().equals("gptq") || gs != 32; // asymmetric compressed-tensors too
                    QuantOptions o = QuantOptions.defaults(f).withScheme(new QuantScheme(bits, gs, sym));
                    Path packed = tmp.resolve("p" + run);
                    Path fake = tmp.resolve("f" + run++);
                    run(packed, o);
                    run(fake, asFake(o, f));
                    assertPackedEqualsFake(packed, fake, bits, f);
                }
            }
        }
    }

    private static QuantOptions asFake(QuantOptions o, PackedFormat f) {
        return new QuantOptions(o.method(), PackedFormat.named("fake-quant"), o.scheme(), o.selector(), o.rules(), o.allocation(), false,
                o.writer(), f.name().equals("gptq") ? DType.F16 : null);
    }

    private static void assertPackedEqualsFake(Path packed, Path fake, int bits, PackedFormat f) {
        try (QuantizedCheckpoint q = QuantizedCheckpoint.open(packed); Checkpoint fk = Checkpoint.open(fake)) {
            ModelSpec spec = ModelSpec.of(fk);
            assertEquals(spec.layers() * (4 + 3 * spec.layer(0).experts()), q.modules().size(), f + " " + bits);
            for (var e : q.modules().entrySet()) {
                assertEquals(bits, e.getValue().bits());
                String tensor = e.getKey() + LinearModule.WEIGHT;
                assertFalse(q.checkpoint().has(tensor), "packed output has no dense " + tensor);
                float[] got = q.weight(tensor);
                float[] want = fk.floats(tensor);
                for (int i = 0; i < got.length; i++) {
                    if (bf16(got[i]) != want[i]) {
                        throw new AssertionError(f + " " + bits + " bits: " + tensor + "[" + i + "] reads " + got[i] + ", fake-quant has " + want[i]);
                    }
                }
            }
            for (int l = 0; l < spec.layers(); l++) {
                String router = spec.name(Role.ROUTER, l);
                assertArrayEquals(fk.shard(router).readBytes(router), q.checkpoint().shard(router).readBytes(router), "router kept dense");
            }
        }
    }

    @Test
    void mixedBitsAreWrittenAsConfigGroupsAndDynamicOverrides() {
        List<BitRule> rules = List.of(new BitRule(Selector.of("kind:attention"), 4), new BitRule(Selector.of("kind:routed_expert"), 2));
        for (PackedFormat f : new PackedFormat[] {PackedFormat.named("compressed-tensors"), PackedFormat.named("gptq")}) {
            Path out = tmp.resolve("mixed-" + f.name());
            QuantReport r = run(out, QuantOptions.defaults(f).withRules(rules));
            try (QuantizedCheckpoint q = QuantizedCheckpoint.open(out)) {
                ModelSpec spec = ModelSpec.of(Checkpoint.open(TestWeights.MIXTRAL));
                assertEquals(4, q.modules().get(LinearModule.moduleOf(spec.name(Role.Q, 1))).bits());
                assertEquals(2, q.modules().get(LinearModule.moduleOf(spec.name(Role.EXPERT_DOWN, 3, 5))).bits());
                JsonNode qc = q.checkpoint().config().path(PackedFormat.CONFIG_KEY);
                if (f.name().equals("compressed-tensors")) {
                    assertEquals(2, qc.path("config_groups").size());
                    assertTrue(qc.path("ignore").toString().contains(LinearModule.moduleOf(spec.name(Role.ROUTER, 0))));
                } else {
                    assertEquals(2, qc.path("bits").asInt(), "the most common width is the base");
                    assertTrue(qc.path("dynamic").size() > spec.layers() * 4, "one override per attention module plus router exclusions");
                }
            }
            double expected = 0;
            long params = 0;
            for (QuantReport.ModuleReport m : r.modules()) {
                expected += (double) m.bits() * m.params();
                params += m.params();
            }
            assertEquals(expected / params, r.averageBits(), 1e-9);
            assertTrue(r.averageBits() > 2 && r.averageBits() < 4);
        }
    }

    @Test
    void nonUniformExpertBitsAreRefusedWhenUniformityIsRequired() {
        List<BitRule> rules = List.of(new BitRule(Selector.of("re:.*experts\\.0\\..*"), 8));
        QuantOptions o = QuantOptions.defaults("compressed-tensors").withRules(rules);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> run(tmp.resolve("x"), o));
        assertTrue(e.getMessage().contains("uniform"));
        QuantReport ok = run(tmp.resolve("y"), o.withUniformExpertBits(false));
        assertTrue(ok.modules().stream().anyMatch(m -> m.bits() == 8) && ok.modules().stream().anyMatch(m -> m.bits() == 4));
    }

    @Test
    void gptqUsesCalibrationAndFallsBackToRtnForStarvedExperts() {
        Path out = tmp.resolve("gptq");
        Map<Integer, Integer> starved = Map.of(2, 3); // layer 2, expert 3 gets only a few tokens
        Map<Integer, float[]> inputs = new java.util.HashMap<>(); // by input width: synthetic activations, shared
        CalibrationSource calib = (m, sink) -> {
            int n = m.expert() >= 0 && starved.getOrDefault(m.layer(), -1) == m.expert() ? 16 : 256;
            sink.accept(inputs.computeIfAbsent(m.cols(), c -> TestWeights.correlatedInputs(256, c, c)), n);
        };
        QuantOptions o = QuantOptions.defaults("compressed-tensors")
                .withMethod(BoundQuantizer.of("gptq", new GptqQuantizer.Parameters(0.01, true, 128, 64L)))
                .withScheme(new QuantScheme(4, 64, true));
        QuantReport r;
        try (Checkpoint in = Checkpoint.open(TestWeights.MIXTRAL)) {
            r = Quantizer.run(in, out, o, calib);
        }
        List<QuantReport.ModuleReport> fallbacks = r.modules().stream().filter(m -> m.fallback() != null).toList();
        assertEquals(3, fallbacks.size(), "the starved expert's three linears fall back");
        fallbacks.forEach(m -> {
            assertEquals(2, m.layer());
            assertEquals(3, m.expert());
            assertEquals("rtn", m.method());
            assertEquals("16 calibration tokens < 64", m.fallback(), "the reason names the tokens seen and the threshold");
            assertEquals(16, m.calibrationRows());
        });
        assertTrue(r.modules().stream().filter(m -> m.fallback() == null).allMatch(m -> m.method().equals("gptq") && m.calibrationRows() == 256));
        try (QuantizedCheckpoint q = QuantizedCheckpoint.open(out)) {
            String anyExpert = r.modules().stream().filter(m -> m.method().equals("gptq") && m.expert() >= 0).findFirst().orElseThrow().module();
            assertNotNull(q.read(anyExpert).gIdx(), "activation order writes weight_g_idx");
            assertEquals("group", q.checkpoint().config().path(PackedFormat.CONFIG_KEY).path("config_groups").path("group_0").path("weights").path("actorder").asText());
        }
    }
}
