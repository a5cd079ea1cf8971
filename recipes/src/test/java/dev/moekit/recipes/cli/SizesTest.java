package dev.moekit.recipes.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class SizesTest {
    @Test
    void parsesDecimalAndBinaryUnitsAsHfDoes() {
        assertEquals(5_000_000_000L, Sizes.parse("5GB"));
        assertEquals(2L << 30, Sizes.parse("2GiB"));
        assertEquals(500_000_000L, Sizes.parse("500MB"));
        assertEquals(1_500_000L, Sizes.parse("1.5mb"));
        assertEquals(123L, Sizes.parse("123"));
        assertThrows(UsageException.class, () -> Sizes.parse("lots"));
        assertThrows(UsageException.class, () -> Sizes.parse("0GB"));
    }

    @Test
    void printsHumanSizes() {
        assertEquals("48.53 MB", Sizes.human(48_527_872L));
        assertEquals("999 B", Sizes.human(999));
    }
}
