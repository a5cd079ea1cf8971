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
 * @param bits       2, 3, 4 or 8
 * @param groupSize  0 (per channel) or a positive group width, e.g. 32, 64, 128
 * @param symmetric  symmetric grid (zero point fixed at the middle code)
 */
public record QuantScheme(int bits, int groupSize, boolean symmetric) {
    public QuantScheme {
        if (bits != 2 && bits != 3 && bits != 4 && bits != 8) {
            throw new IllegalArgumentException("quantization bits must be 2, 3, 4 or 8, got " + bits);
        }
        if (groupSize < 0) {
            throw new IllegalArgumentException("group size must be 0 (per channel) or positive, got " + groupSize);
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

    @Override
    public String toString() {
        return "int" + bits + (groupSize == 0 ? "/channel" : "/g" + groupSize) + (symmetric ? "/sym" : "/asym");
    }
}
