package dev.moekit.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class QuantSchemeTest {
    @Test
    void parsesWhatItWritesWithDefaultsForOmittedParts() {
        for (QuantScheme s : new QuantScheme[] {new QuantScheme(2, 64, false), new QuantScheme(3, 0, true), new QuantScheme(8, 32, true)}) {
            assertEquals(s, QuantScheme.parse("k", s.toString()));
        }
        assertEquals(new QuantScheme(3, 128, true), QuantScheme.parse("k", " int3 "));
        assertEquals(new QuantScheme(4, 128, false), QuantScheme.parse("k", "INT4/asym"));
        assertEquals(new QuantScheme(4, 0, true), QuantScheme.parse("k", "int4/channel"));
    }

    @Test
    void badTextFailsNamingTheKeyAndTheText() {
        for (String bad : new String[] {"int", "4", "int2/g64/asym/x", "int2/asym/g64", "int2/g", "int2/g0", "uint4", "int2/g64/g32", ""}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> QuantScheme.parse("candidate_schemes[3]", bad), bad);
            assertTrue(e.getMessage().startsWith("candidate_schemes[3]") && e.getMessage().contains("'" + bad + "'"), e.getMessage());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> QuantScheme.parse("k", "int9/g64"));
        assertTrue(e.getMessage().contains("9") && e.getMessage().contains(QuantScheme.WIDTHS), e.getMessage());
    }

    @Test
    void ggufTypeNamesAndKQuantSuffixesParse() {
        assertEquals(new QuantScheme(4, 32, false, 6), QuantScheme.parse("k", "Q4_K"));
        assertEquals(new QuantScheme(2, 16, false, 4), QuantScheme.parse("k", "int2/g16/asym/k4"));
        assertEquals(new QuantScheme(8, 32, true), QuantScheme.parse("k", "q8_0"), "legacy types have float scales");
        for (QuantScheme s : QuantScheme.GGUF_TYPES.values()) {
            assertEquals(s, QuantScheme.parse("k", s.toString()), "round trip of " + s);
        }
        assertTrue(new QuantScheme(6, 16, true, 8).quantizedScales());
        assertFalse(new QuantScheme(6, 16, true, 8).hasMins(), "symmetric k-grids keep the middle code as zero point");
        assertEquals(31, new QuantScheme(3, 16, true, 6).maxScaleCode(), "signed 6-bit scales");
        assertEquals(63, new QuantScheme(4, 32, false, 6).maxScaleCode());
    }

    @Test
    void kQuantBitsAreGgufBlockSizes() {
        // llama.cpp's block_q2_K .. block_q6_K: 84, 110, 144, 176 and 210 bytes per 256 weights
        int[] bytes = {84, 110, 144, 176, 210};
        String[] names = {"q2_k", "q3_k", "q4_k", "q5_k", "q6_k"};
        for (int i = 0; i < names.length; i++) {
            QuantScheme s = QuantScheme.parse("k", names[i]);
            assertEquals(bytes[i] * 8L, s.kBitsPerSuperBlock(), names[i]);
            assertEquals(bytes[i] * 8.0 / 256, s.kBitsPerWeight(), 0, names[i]);
        }
        assertThrows(IllegalStateException.class, () -> new QuantScheme(4, 32, false).kBitsPerWeight());
    }

    @Test
    void rowsAKQuantDoesNotFitTakeLlamaCppsFallback() {
        QuantScheme q4k = QuantScheme.parse("k", "q4_k");
        assertSame(q4k, q4k.forCols(512));
        assertEquals(new QuantScheme(5, 32, true), q4k.forCols(128), "Q4_K falls back to Q5_0");
        assertEquals(new QuantScheme(4, 32, true), QuantScheme.parse("k", "q2_k").forCols(128), "Q2_K and Q3_K to Q4_0");
        assertEquals(new QuantScheme(8, 32, true), QuantScheme.parse("k", "q6_k").forCols(160), "Q5_K and Q6_K to Q8_0");
        assertEquals(new QuantScheme(5, 0, true), q4k.forCols(100), "per channel where 32 does not divide the row");
        QuantScheme plain = new QuantScheme(3, 128, true);
        assertSame(plain, plain.forCols(100), "float-scale schemes fit any row");
    }

    @Test
    void badKQuantSchemesFailWithTheReason() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> QuantScheme.parse("scheme", "int2/g24/asym/k4")).getMessage()
                .contains("divide the 256-weight super-block"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> QuantScheme.parse("scheme", "int4/channel/asym/k6")).getMessage()
                .contains("per-channel"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> QuantScheme.parse("scheme", "int4/g32/asym/k3")).getMessage()
                .contains("4 to 8 bits"));
        assertThrows(IllegalArgumentException.class, () -> QuantScheme.parse("scheme", "q4_k_m"), "mixtures are not one scheme");
    }
}
