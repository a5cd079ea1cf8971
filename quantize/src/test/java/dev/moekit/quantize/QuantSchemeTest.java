package dev.moekit.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
}
