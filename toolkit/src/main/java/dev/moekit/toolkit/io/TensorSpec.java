package dev.moekit.toolkit.io;

import java.util.Arrays;

/** A tensor an output will hold: name, dtype and shape, known before any data is written. */
public record TensorSpec(String name, DType dtype, long[] shape) {
    public TensorSpec {
        shape = shape.clone();
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("tensor " + Text.quote(name) + ": negative dimension in " + Arrays.toString(shape));
            }
        }
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public long numel() {
        return TensorInfo.numel(shape);
    }

    public long byteSize() {
        return Math.multiplyExact(numel(), dtype.size());
    }

    public static TensorSpec of(TensorInfo t) {
        return new TensorSpec(t.name(), t.dtype(), t.shape());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorSpec t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape);
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}
