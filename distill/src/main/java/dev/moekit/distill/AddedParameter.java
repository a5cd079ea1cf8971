package dev.moekit.distill;

/**
 * A parameter a method adds to the student for training (compressed experts' {@code ces}, BAM's attention experts):
 * registered with {@code CausalLm.addParameter}, read by the method's {@code ForwardExtension}, trained with the
 * {@code new} group, and written to the output under {@code tensor} (null: not written; the method reads it back
 * from {@link Trainer#parameters()}).
 *
 * @param name   name within its layer ({@code LayerWeights.extra(name)})
 * @param layer  decoder layer, or -1 for a model-level parameter
 * @param shape  shape
 * @param init   initial fp32 values, row-major
 * @param tensor checkpoint tensor name to write it under, or null
 */
public record AddedParameter(String name, int layer, long[] shape, float[] init, String tensor) {
    public AddedParameter {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        if (name == null || name.isBlank() || n != init.length) {
            throw new IllegalArgumentException("added parameter '" + name + "': " + init.length + " values do not fit shape " + java.util.Arrays.toString(shape));
        }
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }
}
