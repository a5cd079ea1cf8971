package dev.moekit.quantize;

import dev.moekit.toolkit.select.Selector;

/**
 * Fixed bits for the modules a selector picks, e.g. attention at 4 bits, experts at 2; {@link #KEEP} (16) leaves the
 * matched modules unquantized. The first matching rule wins.
 *
 * @param selector which modules
 * @param bits     2 to 8, or {@link #KEEP}
 */
public record BitRule(Selector selector, int bits) {
    /** Bits value meaning: do not quantize. */
    public static final int KEEP = QuantScheme.KEEP;

    public BitRule {
        QuantScheme.checkWidth("bit rule " + selector, bits, true);
    }
}
