package dev.moekit.toolkit.method;

/**
 * A registered method: one small class with a name, a reference, a validated parameter record and whether it needs
 * calibration. Every plugin kind (expert pruners, sparsifiers, weight quantizers, bit allocators, packed formats,
 * recipe stages) extends this interface with the operations of its kind, and implementations are found with
 * {@link java.util.ServiceLoader} ({@code META-INF/services/dev.moekit.toolkit.method.Method}); see {@link Methods}.
 *
 * <p>Adding a method is one class, one line in the services file and, by extending the kind's abstract contract test,
 * one test.
 *
 * @param <P> the parameter record: immutable, defaults applied and values validated in its compact constructor, bound
 *            from recipe keys by {@link Params} (snake_case keys, unknown keys are errors)
 */
public interface Method<P extends Record> {
    /** The kind this method belongs to, e.g. {@code expert-pruner}; names are unique within a kind. */
    MethodKind<?> kind();

    /** Registered name, as used in recipes and on the command line ({@code stun}, {@code gptq}, ...). */
    String name();

    /** One line for {@code moekit methods} and the docs. */
    String summary();

    /** Paper or reference implementation (a URL), or "" for moekit's own. */
    String reference();

    /** The parameter record type. */
    Class<P> parameters();

    /** Whether this method reads calibration activations at all, and whether that depends on its parameters. */
    Calibration calibration();

    /** Whether a run with {@code params} needs calibration; by default what {@link #calibration()} says. */
    default boolean needsCalibration(P params) {
        return calibration() == Calibration.REQUIRED;
    }

    /** Binds recipe parameters (JSON/YAML object, may be null) to this method's record, naming the method on errors. */
    default P bind(com.fasterxml.jackson.databind.JsonNode params) {
        return Params.bind(kind().name() + " '" + name() + "'", params, parameters());
    }

    /** Parameters with every default resolved. */
    default P defaults() {
        return bind(null);
    }

    /** Whether a method needs calibration text. */
    enum Calibration {
        /** Data-free. */
        NONE,
        /** Always calibrates. */
        REQUIRED,
        /** Depends on the parameters (e.g. STUN's distance); see {@link Method#needsCalibration}. */
        DEPENDS
    }
}
