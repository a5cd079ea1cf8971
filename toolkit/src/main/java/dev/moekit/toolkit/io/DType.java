package dev.moekit.toolkit.io;

import java.util.Locale;

/** Element types of safetensors files, with their on-disk names and sizes in bytes. */
public enum DType {
    F64(8, true), F32(4, true), F16(2, true), BF16(2, true),
    I64(8, false), I32(4, false), I16(2, false), I8(1, false),
    U64(8, false), U32(4, false), U16(2, false), U8(1, false),
    BOOL(1, false), F8_E4M3(1, true), F8_E5M2(1, true);

    private final int size;
    private final boolean floating;

    DType(int size, boolean floating) {
        this.size = size;
        this.floating = floating;
    }

    /** Bytes per element. */
    public int size() {
        return size;
    }

    public boolean isFloating() {
        return floating;
    }

    /** The name safetensors headers use. */
    public String safetensorsName() {
        return name();
    }

    /** Parses a safetensors dtype name; {@code where} names the file and tensor for the error. */
    public static DType parse(String name, String where) {
        try {
            return valueOf(name);
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new CheckpointException(where + ": unknown dtype " + Text.quote(name));
        }
    }

    /** Parses a user-facing dtype name such as bf16, fp16, float32. */
    public static DType parseUser(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "bf16", "bfloat16" -> BF16;
            case "fp16", "f16", "float16", "half" -> F16;
            case "fp32", "f32", "float32", "float" -> F32;
            case "fp64", "f64", "float64", "double" -> F64;
            default -> throw new IllegalArgumentException("unknown dtype " + Text.quote(s) + " (expected bf16, fp16 or fp32)");
        };
    }

    /** The torch dtype name HF configs use ("bfloat16", "float16", "float32"). */
    public String torchName() {
        return switch (this) {
            case BF16 -> "bfloat16";
            case F16 -> "float16";
            case F32 -> "float32";
            case F64 -> "float64";
            default -> name().toLowerCase(Locale.ROOT);
        };
    }
}
