package dev.moekit.quantize;

import dev.moekit.toolkit.select.Selector;

/**
 * Fixed bits for the modules a selector picks, e.g. attention at 4 bits, experts at 2; {@link #KEEP} (16) leaves the
 * matched modules unquantized. The first matching rule wins.
 *
 * @param selector which modules
 * @param bits     2, 3, 4, 8, or {@link #KEEP}
 */
public record BitRule(Selector selector, int bits) {
    /** Bits value meaning: do not quantize. */
    public static final int KEEP = 16;

    public BitRule {
        if (bits != 2 && bits != 3 && bits != 4 && bits != 8 && bits != KEEP) {
            throw new IllegalArgumentException("bit rule " + selector + ": bits must be 2, 3, 4, 8 or 16 (keep), got " + bits);
        }
    }
}
