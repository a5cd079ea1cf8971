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
 * <p><b>Quantized group scales</b> ({@code scaleBits > 0}, llama.cpp's k-quants): the row is cut into super-blocks of
 * {@link #SUPER_BLOCK} weights, each holding {@code 256 / groupSize} groups; a group's scale is {@code d * sc} with
 * {@code d} one fp16 per super-block and {@code sc} a {@code scaleBits}-bit integer ({@code 1..2^scaleBits - 1}, or
 * {@code 1..2^(scaleBits-1) - 1} on a symmetric grid, whose stored scales are signed). An asymmetric k-grid has a
 * <em>minimum</em> per group instead of an integer zero point, {@code dmin * m} with {@code dmin} fp16 per super-block
 * and {@code m} a {@code scaleBits}-bit integer, and values {@code scale * q - min}; a symmetric one keeps the middle
 * code as zero point. Small groups then cost few bits: {@code int2/g16/asym/k4} is 2.625 bits a weight (GGUF's Q2_K),
 * {@code int4/g32/asym/k6} 4.5 (Q4_K). Rows must be a whole number of super-blocks ({@link #fits}); others take
 * {@link #forCols} (as llama.cpp does). {@link #parse} also reads GGUF's type names ({@code q2_k} ... {@code q8_0}).
 *
 * <p><b>Vector codebooks</b> ({@code vectorDim > 0}, GPTVQ: van Baalen et al., "GPTVQ: The Blessing of
 * Dimensionality for LLM Quantization", arXiv 2402.15319): each row is cut into vectors of {@code vectorDim}
 * consecutive weights, and one code of {@code bits * vectorDim} bits picks the vector from a codebook of
 * {@code 2^(bits * vectorDim)} centroids. Codebooks belong to tiles of {@code groupSize} columns (the whole row when
 * 0) spanning all rows; each row of a tile has a scale, and the weight is {@code scale * centroid[code][j % vectorDim]}.
 * Codebook entries and scales are stored in the scale dtype, so {@code int2/g256/vq2} costs
 * {@code 2 + 16/256} bits a weight plus 16 centroids of 2 halves per tile. The symmetry flag has no meaning there
 * and is always set.
 *
 * @param bits       2 to 8 ({@link #WIDTHS}); which a packed format can store is the format's to say
 *                   ({@code PackedFormat#check}): GPTQ's layout holds 2, 3, 4 and 8 only
 * @param groupSize  0 (per channel) or a positive group width, e.g. 32, 64, 128
 * @param symmetric  symmetric grid (zero point fixed at the middle code)
 * @param scaleBits  0: scales stored as floats (the format's scale dtype); 4 to 8: k-quant scales, see above
 * @param vectorDim  0: scalar codes; 1, 2 or 4: weights a codebook vector spans, see above
 */
public record QuantScheme(int bits, int groupSize, boolean symmetric, int scaleBits, int vectorDim) {
    public QuantScheme {
        checkWidth("quantization bits", bits, false);
        if (vectorDim != 0) {
            if (vectorDim != 1 && vectorDim != 2 && vectorDim != 4) {
                throw new IllegalArgumentException("codebook vectors span 1, 2 or 4 weights, got " + vectorDim);
            }
            if (bits * vectorDim > 8) {
                throw new IllegalArgumentException("a codebook code holds at most 8 bits: " + bits + " bits x " + vectorDim + " weights is " + bits * vectorDim);
            }
            if (scaleBits != 0) {
                throw new IllegalArgumentException("codebook schemes keep float row scales; quantized group scales (/k) do not apply");
            }
            if (groupSize % vectorDim != 0) {
                throw new IllegalArgumentException("a codebook tile of " + groupSize + " columns is not a whole number of " + vectorDim + "-weight vectors");
            }
            symmetric = true;
        }
        if (groupSize < 0) {
            throw new IllegalArgumentException("group size must be 0 (per channel) or positive, got " + groupSize);
        }
        if (scaleBits != 0) {
            if (scaleBits < 4 || scaleBits > 8) {
                throw new IllegalArgumentException("quantized group scales take 4 to 8 bits, got " + scaleBits);
            }
            if (groupSize == 0 || SUPER_BLOCK % groupSize != 0 || groupSize < 8) {
                throw new IllegalArgumentException("quantized group scales need groups of 8 to 256 weights that divide the "
                        + SUPER_BLOCK + "-weight super-block, got " + (groupSize == 0 ? "per-channel" : "g" + groupSize));
            }
        }
    }

    /** A scheme whose scales are floats. */
    public QuantScheme(int bits, int groupSize, boolean symmetric) {
        this(bits, groupSize, symmetric, 0, 0);
    }

    /** A scalar scheme (no codebook). */
    public QuantScheme(int bits, int groupSize, boolean symmetric, int scaleBits) {
        this(bits, groupSize, symmetric, scaleBits, 0);
    }

    /** Whether codes index a codebook of vectors ({@code vectorDim > 0}) rather than a uniform grid. */
    public boolean codebook() {
        return vectorDim > 0;
    }

    /**
     * Whether this is a plain integer grid with float group scales: neither k-quant scales nor a codebook. Only
     * those take activation order (their groups may be any columns, through g_idx) and run in {@code DeviceGptq};
     * k-quant super-blocks and codebook vectors are consecutive columns and are found on the host.
     */
    public boolean plainGrid() {
        return scaleBits == 0 && vectorDim == 0;
    }

    /** Centroids of each tile's codebook, {@code 2^(bits * vectorDim)}. */
    public int codebookSize() {
        return 1 << (bits * vectorDim);
    }

    /**
     * Bits a [rows, cols] weight costs under a {@link #codebook} scheme: {@code bits} a weight in codes, a
     * {@code valueBits}-bit scale per row and tile, and {@code codebookSize * vectorDim} values of {@code valueBits}
     * per tile.
     */
    public long codebookBits(long rows, int cols, int valueBits) {
        long tiles = groups(cols);
        return rows * cols * bits + rows * tiles * valueBits + tiles * (long) codebookSize() * vectorDim * valueBits;
    }

    /** Weights per super-block of a k-quant scheme (GGUF's {@code QK_K}). */
    public static final int SUPER_BLOCK = 256;

    /** Whether group scales are quantized integers of a per-super-block fp16 (a k-quant scheme). */
    public boolean quantizedScales() {
        return scaleBits > 0;
    }

    /** Whether groups have a float minimum ({@code scale * q - min}) rather than an integer zero point. */
    public boolean hasMins() {
        return scaleBits > 0 && !symmetric;
    }

    /** Largest quantized group scale (and minimum): see the class comment. */
    public int maxScaleCode() {
        return symmetric ? (1 << (scaleBits - 1)) - 1 : (1 << scaleBits) - 1;
    }

    /** Whether a row of {@code cols} inputs can take this scheme (k-quants need whole super-blocks). */
    public boolean fits(int cols) {
        return vectorDim > 0 ? cols % vectorDim == 0 : scaleBits == 0 || cols % SUPER_BLOCK == 0;
    }

    /**
     * The scheme a row of {@code cols} inputs takes: this one where it {@link #fits}, else llama.cpp's fallback for
     * its k-quant (2 and 3 bits: int4/g32/sym, GGUF's Q4_0; 4: int5/g32/sym, Q5_0; 5 to 8: int8/g32/sym, Q8_0), with
     * groups of 32 where those divide the row and per-channel grids where they do not.
     */
    public QuantScheme forCols(int cols) {
        if (fits(cols)) {
            return this;
        }
        if (vectorDim > 0) { // rows that are no whole number of vectors: the scalar grid at the same width
            return new QuantScheme(bits, groupSize, false);
        }
        int b = bits <= 3 ? 4 : bits == 4 ? 5 : 8;
        return new QuantScheme(b, cols % 32 == 0 ? 32 : 0, true);
    }

    /**
     * Bits a weight of a row of {@code cols} costs in codes and grids when stored tightly (a GGUF block, or a
     * fake-quant output's accounting of one): codes, plus per group the quantized scale (and minimum), plus per
     * super-block the fp16 scale (and minimum scale); only for schemes with {@link #quantizedScales}.
     */
    public double kBitsPerWeight() {
        return (double) kBitsPerSuperBlock() / SUPER_BLOCK;
    }

    /** Bits one super-block of 256 weights takes stored tightly: see {@link #kBitsPerWeight}. */
    public long kBitsPerSuperBlock() {
        if (!quantizedScales()) {
            throw new IllegalStateException(this + " has float scales");
        }
        int perGroup = hasMins() ? 2 * scaleBits : scaleBits;
        int perSuper = hasMins() ? 32 : 16;
        return (long) bits * SUPER_BLOCK + (long) perGroup * (SUPER_BLOCK / groupSize) + perSuper;
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
        return new QuantScheme(b, groupSize, symmetric, scaleBits, vectorDim);
    }

    /** GGUF's quantization types that are schemes, by their lower-case names: k-quants and the 32-weight legacy types. */
    public static final java.util.Map<String, QuantScheme> GGUF_TYPES = java.util.Map.of(
            "q2_k", new QuantScheme(2, 16, false, 4),
            "q3_k", new QuantScheme(3, 16, true, 6),
            "q4_k", new QuantScheme(4, 32, false, 6),
            "q5_k", new QuantScheme(5, 32, false, 6),
            "q6_k", new QuantScheme(6, 16, true, 8),
            "q4_0", new QuantScheme(4, 32, true),
            "q5_0", new QuantScheme(5, 32, true),
            "q8_0", new QuantScheme(8, 32, true));

    /**
     * Parses the form {@link #toString()} writes, as recipes give candidate schemes: {@code int<bits>}, then optionally
     * {@code /g<size>} or {@code /channel} (default {@code g128}) and {@code /sym} or {@code /asym} (default symmetric),
     * e.g. {@code int2/g64/asym}, {@code int3}, {@code int4/channel}; then optionally {@code /k<bits>} for quantized
     * group scales ({@code int4/g32/asym/k6}), or {@code /vq<d>} for a codebook of {@code d}-weight vectors per tile of
     * the group's columns ({@code int2/g256/vq2}, {@code int2/channel/vq4}). GGUF's type names ({@link #GGUF_TYPES}: {@code q4_k}, {@code q8_0}, ...)
     * are read as their schemes. Fails naming {@code key} and the text.
     */
    public static QuantScheme parse(String key, String text) {
        String lower = text.trim().toLowerCase(java.util.Locale.ROOT);
        if (GGUF_TYPES.containsKey(lower)) {
            return GGUF_TYPES.get(lower);
        }
        String[] parts = lower.split("/");
        String bad = key + ": '" + text + "' is not a scheme (expected e.g. int3, int2/g64/asym, int4/channel/sym, int4/g32/asym/k6, int2/g256/vq2, q4_k)";
        int scaleBits = 0;
        int vectorDim = 0;
        if (parts.length > 1 && parts[parts.length - 1].matches("vq[0-9]+")) {
            vectorDim = Integer.parseInt(parts[parts.length - 1].substring(2));
            parts = java.util.Arrays.copyOf(parts, parts.length - 1);
        } else if (parts.length > 1 && parts[parts.length - 1].matches("k[0-9]+")) {
            scaleBits = Integer.parseInt(parts[parts.length - 1].substring(1));
            parts = java.util.Arrays.copyOf(parts, parts.length - 1);
        }
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
        try {
            return new QuantScheme(bits, group, symmetric, scaleBits, vectorDim);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(key + ": '" + text + "': " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        String group = groupSize == 0 ? "/channel" : "/g" + groupSize;
        if (vectorDim > 0) {
            return "int" + bits + group + "/vq" + vectorDim;
        }
        return "int" + bits + group + (symmetric ? "/sym" : "/asym") + (scaleBits > 0 ? "/k" + scaleBits : "");
    }
}
