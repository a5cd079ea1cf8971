package dev.moekit.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.method.MethodContract;
import dev.moekit.toolkit.method.MethodKind;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.select.Selector;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The contract of every registered {@link BitAllocator}: the method contract, plus on mixtral-tiny (written as
 * compressed-tensors) every selected module gets one of the allocator's candidate schemes (by default its widths at
 * the default group size and symmetry); rule-fixed modules keep their bits; the average stored bits stay within the allocator's limit;
 * uniform expert bits hold when required (or the allocator's per-expert choice is refused naming it); and an allocator
 * that needs neither weights nor routing counts plans the same from metadata alone.
 */
public abstract class BitAllocatorContract extends MethodContract<BitAllocator<?>> {
    @Override
    protected MethodKind<BitAllocator<?>> kind() {
        return BitAllocator.KIND;
    }

    private BoundAllocator<?> bound(BitAllocator<?> a) {
        return BoundAllocator.of(a, a.bind(sampleParams(a)));
    }

    /**
     * Calibration for allocators that use it: expert e of every layer got 100 * (e + 1) tokens, and a sensitivity whose
     * error at b bits is the module's RTN weight error (a stand-in for a measured one, enough for the contract).
     */
    private static CalibrationSource calibration(Checkpoint in, ModelSpec spec, List<QuantScheme> schemes) {
        ExpertUsage usage = usage(spec).usage().orElseThrow();
        Map<String, double[]> errors = new HashMap<>();
        for (LinearModule m : ModuleCatalog.of(in, spec).linears()) {
            float[] w = Weights.read(in, m);
            double[] e = new double[schemes.size()];
            for (int c = 0; c < e.length; c++) {
                float[] q = dev.moekit.quantize.method.Rtn.quantize(w, m.rows(), m.cols(), schemes.get(c),
                        dev.moekit.toolkit.io.DType.F32).dequantize();
                for (int i = 0; i < w.length; i++) {
                    e[c] += (w[i] - q[i]) * (double) (w[i] - q[i]);
                }
            }
            errors.put(m.module(), e);
        }
        Sensitivity s = new Sensitivity(Sensitivity.Proxy.HESSIAN, schemes, errors, Map.of(), java.util.Set.of(), 0, usage);
        return CalibrationSource.sensitivityOnly(s);
    }

    /** Routing counts for allocators that use them: expert e of every layer got 100 * (e + 1) tokens. */
    private static CalibrationSource usage(ModelSpec spec) {
        Map<Integer, long[]> counts = new HashMap<>();
        for (int l = 0; l < spec.layers(); l++) {
            long[] c = new long[spec.layer(l).experts()];
            for (int e = 0; e < c.length; e++) {
                c[e] = 100L * (e + 1);
            }
            counts.put(l, c);
        }
        return CalibrationSource.usageOnly(new ExpertUsage(counts));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void plansEveryModuleWithinItsWidthsAndBudget(BitAllocator<?> a) {
        BoundAllocator<?> b = bound(a);
        List<BitRule> attention8 = List.of(new BitRule(Selector.of("kind:attention"), 8));
        try (Checkpoint in = Checkpoint.open(TestWeights.MIXTRAL)) {
            ModelSpec spec = ModelSpec.of(in);
            QuantScheme scheme = QuantOptions.defaults("compressed-tensors").scheme();
            CalibrationSource src = b.needsCalibration() ? calibration(in, spec, b.candidates(scheme)) : null;
            int expected = spec.layers() * (4 + 3 * spec.layer(0).experts());
            for (boolean uniform : new boolean[] {true, false}) {
                for (List<BitRule> rules : List.of(List.<BitRule>of(), attention8)) {
                    QuantOptions o = QuantOptions.defaults("compressed-tensors").withUniformExpertBits(uniform).withRules(rules).withAllocation(b);
                    Map<LinearModule, QuantScheme> plan;
                    try {
                        plan = Quantizer.plan(in, o, src);
                    } catch (IllegalArgumentException e) {
                        assertTrue(uniform && e.getMessage().contains("uniform"), a.name() + ": only a per-expert choice under uniform bits may be refused: " + e.getMessage());
                        continue;
                    }
                    assertEquals(expected, plan.size(), a.name() + ": every selected module is planned");
                    List<QuantScheme> candidates = b.candidates(o.scheme());
                    long params = 0;
                    long stored = 0;
                    Map<Integer, Set<QuantScheme>> expertSchemes = new HashMap<>();
                    for (var e : plan.entrySet()) {
                        LinearModule m = e.getKey();
                        QuantScheme s = e.getValue();
                        if (!rules.isEmpty() && m.role().kind() == Role.Kind.ATTENTION) {
                            assertEquals(o.scheme().withBits(8), s, "rules come first: " + m.module());
                        } else {
                            assertTrue(candidates.contains(s), a.name() + " chose " + s + ", not among " + candidates);
                        }
                        if (m.role().kind() == Role.Kind.ROUTED_EXPERT) {
                            expertSchemes.computeIfAbsent(m.layer(), k -> new HashSet<>()).add(s);
                        }
                        params += m.params();
                        stored += o.format().storedBits(m, s, false, spec.dtype());
                    }
                    if (uniform) {
                        expertSchemes.values().forEach(x -> assertEquals(1, x.size(), "one scheme per layer's experts"));
                    }
                    OptionalDouble limit = b.averageBitsLimit();
                    double avg = (double) stored / params;
                    if (limit.isPresent()) {
                        assertTrue(avg <= limit.getAsDouble() + 1e-9, a.name() + ": " + avg + " stored bits over its limit " + limit.getAsDouble());
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void plansFromMetadataAloneWhenItNeedsNoData(BitAllocator<?> a) {
        BoundAllocator<?> b = bound(a);
        if (!b.dataFree()) {
            return;
        }
        try (Checkpoint in = Checkpoint.open(TestWeights.MIXTRAL)) {
            ModelSpec spec = ModelSpec.of(in);
            QuantOptions o = QuantOptions.defaults("compressed-tensors").withUniformExpertBits(false).withAllocation(b);
            Map<LinearModule, QuantScheme> metadata = Quantizer.planFor(spec, ModuleCatalog.of(in, spec), o, Optional.empty(), Optional.empty(), m -> {
                throw new AssertionError(a.name() + " says it reads no weights but read " + m.module());
            });
            assertEquals(Quantizer.plan(in, o, null), metadata);
        }
    }
}
