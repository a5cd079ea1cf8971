package dev.moekit.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.pipeline.eval.Dequantizer;
import dev.moekit.quantize.format.QuantizedCheckpoint;
import dev.moekit.quantize.method.Rtn;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.method.MethodContract;
import dev.moekit.toolkit.method.MethodKind;
import dev.moekit.toolkit.method.Methods;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.select.Selector;
import dev.moekit.toolkit.tensor.Floats;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The contract of every registered {@link PackedFormat}: the method contract, plus an RTN run on mixtral-tiny
 * (attention and expert 0 of every layer, 4-bit g128 and 3-bit g32) writes exactly the tensors the format plans; every
 * module reads back to the quantizer's values (bit for bit for packed formats, rounded to the tensor dtype for dense
 * ones); stored bits are no more than the tensors hold; a packed format writes a {@code quantization_config} that it
 * alone reads, gives each module its scheme and routers none, and its {@link Dequantizer} recognises the output,
 * dequantizes it to the same values and opens it as a view with the same tensors and values.
 */
public abstract class PackedFormatContract extends MethodContract<PackedFormat> {
    @Override
    protected MethodKind<PackedFormat> kind() {
        return PackedFormat.KIND;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void writesWhatItPlansAndReadsBackTheQuantizersValues(PackedFormat f) throws IOException {
        Path tmp = Files.createTempDirectory("moekit-format-" + f.name());
        try {
            int run = 0;
            for (QuantScheme s : new QuantScheme[] {new QuantScheme(4, 128, true), new QuantScheme(3, 32, true), new QuantScheme(5, 64, false),
                    new QuantScheme(6, 128, true)}) {
                try {
                    f.checkWidth(s.bits());
                } catch (IllegalArgumentException refused) { // a format that cannot hold the width says so, naming it
                    assertTrue(refused.getMessage().contains(Integer.toString(s.bits())), refused.getMessage());
                    assertThrows(IllegalArgumentException.class, () -> QuantOptions.defaults(f).withScheme(s));
                    continue;
                }
                check(f, s, tmp.resolve("r" + run++));
            }
        } finally {
            dev.moekit.toolkit.io.FileTrees.delete(tmp);
        }
    }

    private static void check(PackedFormat f, QuantScheme s, Path out) {
        QuantOptions o = QuantOptions.defaults(f).withScheme(s)
                .withSelector(new Selector(List.of("kind:attention", "re:.*experts\\.0\\..*"), List.of()));
        QuantReport r;
        try (Checkpoint in = Checkpoint.open(TestWeights.MIXTRAL)) {
            r = Quantizer.run(in, out, o, null);
        }
        assertEquals(f.name(), r.format());
        try (Checkpoint in = Checkpoint.open(TestWeights.MIXTRAL); Checkpoint c = Checkpoint.open(out)) {
            ModelSpec spec = ModelSpec.of(in);
            ModuleCatalog cat = ModuleCatalog.of(in, spec);
            Map<String, LinearModule> byName = new java.util.HashMap<>();
            cat.all().forEach(m -> byName.put(m.module(), m));
            QuantizedCheckpoint q = f.packed() ? QuantizedCheckpoint.open(out) : null;
            try {
                for (QuantReport.ModuleReport mr : r.modules()) {
                    LinearModule m = byName.get(mr.module());
                    DType dt = in.info(m.tensor()).dtype();
                    long held = 0;
                    for (TensorSpec t : f.plan(TensorSpec.of(in.info(m.tensor())), m, s, false, spec.dtype())) {
                        assertTrue(c.has(t.name()), f.name() + " planned " + t.name() + " but did not write it");
                        assertEquals(t, TensorSpec.of(c.info(t.name())), f.name() + " wrote " + t.name() + " as planned");
                        held += t.byteSize() * 8;
                    }
                    assertTrue(mr.storedBits() <= held, f.name() + ": " + m.module() + " accounts " + mr.storedBits() + " bits, holds " + held);
                    if (f.packed()) { // honest: everything the tensors hold but a shape record (I64 [2]), word padding included
                        assertTrue(held - mr.storedBits() <= 128, f.name() + " " + s + ": " + m.module() + " accounts " + mr.storedBits()
                                + " bits, its tensors hold " + held);
                    }
                    assertTrue(mr.storedBits() >= m.params() * s.bits(), "stored bits include the codes");
                    float[] want = Rtn.quantize(Weights.read(in, m), m.rows(), m.cols(), s, o.scaleType() != null ? o.scaleType() : f.scaleType(spec.dtype())).dequantize();
                    String tensor = m.module() + LinearModule.WEIGHT;
                    if (f.packed()) {
                        assertFalse(c.has(tensor), "a packed module has no dense weight");
                        assertEquals(s, q.modules().get(m.module()));
                        assertArrayEquals(want, q.weight(tensor), 0f, f.name() + " reads back " + tensor + " as quantized");
                    } else {
                        float[] got = c.floats(tensor);
                        for (int i = 0; i < got.length; i++) {
                            assertEquals(round(want[i], dt), got[i], 0f, f.name() + ": " + tensor + "[" + i + "]");
                        }
                    }
                }
                ObjectNode qc = c.config().get(PackedFormat.CONFIG_KEY) instanceof ObjectNode x ? x : null;
                if (f.packed()) {
                    assertTrue(qc != null && f.reads(qc), f.name() + " reads the quantization_config it writes");
                    for (PackedFormat other : Methods.standard().kind(PackedFormat.KIND).all()) {
                        assertTrue(other == f || !other.reads(qc), other.name() + " must not claim " + f.name() + "'s config");
                    }
                    assertEquals(f, q.format());
                    assertNull(f.schemeOf(qc, LinearModule.moduleOf(spec.name(Role.ROUTER, 0))), "routers stay unquantized");
                    assertTrue(f instanceof Dequantizer, "packed formats dequantize for evaluation");
                    Dequantizer d = (Dequantizer) f;
                    assertTrue(d.recognizes(c));
                    Path plain = out.resolveSibling(out.getFileName() + "-plain");
                    d.dequantize(out, plain, DType.F32);
                    try (Checkpoint p = Checkpoint.open(plain)) {
                        assertFalse(p.config().has(PackedFormat.CONFIG_KEY));
                        for (String m : q.modules().keySet()) {
                            assertArrayEquals(q.weight(m + LinearModule.WEIGHT), p.floats(m + LinearModule.WEIGHT), 0f);
                        }
                        f.files(qc).keySet().forEach(n -> assertFalse(Files.exists(plain.resolve(n)), n + " is dropped"));
                    }
                    try (Checkpoint v = d.open(out)) { // the view evaluation reads: the same values, computed on read
                        assertFalse(v.config().has(PackedFormat.CONFIG_KEY));
                        for (String m : q.modules().keySet()) {
                            String w = m + LinearModule.WEIGHT;
                            assertTrue(v.isComputed(w) && v.names().contains(w), w);
                            assertArrayEquals(q.weight(w), v.floats(w), 0f);
                            assertTrue(v.names().stream().noneMatch(n -> n.startsWith(m + ".") && !n.equals(w) && !n.endsWith(".bias")),
                                    m + "'s packed tensors are hidden");
                        }
                        try (Checkpoint p = Checkpoint.open(plain)) {
                            assertEquals(p.names().stream().sorted().toList(), v.names().stream().sorted().toList(), "the view has the plain copy's tensors");
                        }
                    }
                } else {
                    assertEquals(in.config(), c.config(), "a dense format leaves config.json as it was");
                    assertFalse(f instanceof Dequantizer d && d.recognizes(c));
                }
                if (qc != null) {
                    f.files(qc).keySet().forEach(n -> assertTrue(Files.exists(out.resolve(n)), n + " written"));
                }
            } finally {
                if (q != null) {
                    q.close();
                }
            }
        }
    }

    private static float round(float v, DType t) {
        return switch (t) {
            case BF16 -> Floats.bf16ToFloat(Floats.floatToBf16(v));
            case F16 -> Float.float16ToFloat(Float.floatToFloat16(v));
            default -> v;
        };
    }
}
