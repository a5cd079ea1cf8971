package dev.moekit.quantize;

/**
 * How one linear weight is quantized: integer bits, group size along the input dimension, symmetric or asymmetric
 * grid. {@code groupSize == 0} means one group per output channel (the whole row).
 *
 * <p>The grid is GPTQ's min-max grid (IST-DASLab/gptq {@code quant.py}, {@code Quantizer.find_params}): for the values
 * x of one row and group, {@code xmin = min(min x, 0)}, {@code xmax = max(max x, 0)}; symmetric grids use
 * {@code xmax = max(|xmin|, xmax)} and {@code xmin = -xmax} where {@code xmin < 0}; an all-zero group uses [-1, 1];
 * {@code scale = (xmax - xmin) / (2^bits - 1)}, {@code zero = 2^(bits-1)} (symmetric) or {@code round(-xmin/scale)};
 * codes {@code q = clamp(round(x/scale) + zero, 0, 2^bits - 1)} and values {@code scale * (q - zero)}.
 *
 * @param bits       2 to 8 ({@link #WIDTHS}); which a packed format can store is the format's to say
 *                   ({@code PackedFormat#check}): GPTQ's layout holds 2, 3, 4 and 8 only
 * @param groupSize  0 (per channel) or a positive group width, e.g. 32, 64, 128
 * @param symmetric  symmetric grid (zero point fixed at the middle code)
 */
public record QuantScheme(int bits, int groupSize, boolean symmetric) {
    public QuantScheme {
        checkWidth("quantization bits", bits, false);
        if (groupSize < 0) {
            throw new IllegalArgumentException("group size must be 0 (per channel) or positive, got " + groupSize);
        }
    }

    /** The widths a scheme may have, as users read them. */
    public static final String WIDTHS = "2, 3, 4, 5, 6, 7 or 8";

    /** {@code 16}: a module kept unquantized (bit rules, allocators' high width). */
    public static final int KEEP = 16;

    /**
     * Refuses {@code bits} that no scheme has (or, with {@code keep}, {@link #KEEP}), naming {@code key}: the one check
     * recipe keys, CLI options, bit rules and allocators share.
     */
    public static void checkWidth(String key, int bits, boolean keep) {
        if ((bits < 2 || bits > 8) && !(keep && bits == KEEP)) {
            throw new IllegalArgumentException(key + ": " + bits + " is not a supported width (allowed: " + WIDTHS
                    + (keep ? ", or 16 to keep the modules unquantized)" : ")"));
        }
    }

    /** Largest code, {@code 2^bits - 1}. */
    public int maxq() {
        return (1 << bits) - 1;
    }

    /** Group width for a row of {@code cols} inputs. */
    public int groupWidth(int cols) {
        return groupSize == 0 ? cols : groupSize;
    }

    /** Number of groups per row of {@code cols} inputs. */
    public int groups(int cols) {
        int g = groupWidth(cols);
        return (cols + g - 1) / g;
    }

    public QuantScheme withBits(int b) {
        return new QuantScheme(b, groupSize, symmetric);
    }

    /**
     * Parses the form {@link #toString()} writes, as recipes give candidate schemes: {@code int<bits>}, then optionally
     * {@code /g<size>} or {@code /channel} (default {@code g128}) and {@code /sym} or {@code /asym} (default symmetric),
     * e.g. {@code int2/g64/asym}, {@code int3}, {@code int4/channel}. Fails naming {@code key} and the text.
     */
    public static QuantScheme parse(String key, String text) {
        String[] parts = text.trim().toLowerCase(java.util.Locale.ROOT).split("/");
        String bad = key + ": '" + text + "' is not a scheme (expected e.g. int3, int2/g64/asym, int4/channel/sym)";
        if (parts.length > 3 || !parts[0].matches("int[0-9]+")) {
            throw new IllegalArgumentException(bad);
        }
        int bits = Integer.parseInt(parts[0].substring(3));
        checkWidth(key, bits, false);
        int group = 128;
        boolean symmetric = true;
        boolean groupSeen = false;
        boolean symSeen = false;
        for (int i = 1; i < parts.length; i++) {
            String p = parts[i];
            if (!groupSeen && !symSeen && (p.equals("channel") || p.matches("g[0-9]+"))) {
                group = p.equals("channel") ? 0 : Integer.parseInt(p.substring(1));
                groupSeen = true;
            } else if (!symSeen && (p.equals("sym") || p.equals("asym"))) {
                symmetric = p.equals("sym");
                symSeen = true;
            } else {
                throw new IllegalArgumentException(bad);
            }
        }
        if (groupSeen && group == 0 && parts[1].startsWith("g")) {
            throw new IllegalArgumentException(key + ": '" + text + "': write a per-channel group as /channel, not /g0");
        }
        return new QuantScheme(bits, group, symmetric);
    }

    @Override
    public String toString() {
        return "int" + bits + (groupSize == 0 ? "/channel" : "/g" + groupSize) + (symmetric ? "/sym" : "/asym");
    }
}
