package dev.moekit.toolkit.io;

import java.util.Arrays;

/**
 * One tensor entry of a safetensors header. {@code begin}/{@code end} are byte offsets relative to the start of the
 * data buffer (after the 8-byte length and the JSON header), as in the file format.
 */
public record TensorInfo(String name, DType dtype, long[] shape, long begin, long end) {
    public TensorInfo {
        shape = shape.clone();
    }

    public long numel() {
        return numel(shape);
    }

    public long byteSize() {
        return end - begin;
    }

    public int rank() {
        return shape.length;
    }

    /** The size of dimension {@code i}; negative indices count from the end. */
    public long dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public String shapeString() {
        return Arrays.toString(shape);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape)
                && begin == t.begin && end == t.end;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + shapeString();
    }
}
