package dev.moekit.pipeline.stage;

/**
 * A stage parameter that does not bind: unknown key, wrong type, out of range. Front ends that build parameters
 * from their own options (the CLI's method commands) report it as a usage error of that option.
 */
public final class ParameterException extends IllegalArgumentException {
    public ParameterException(String message, Throwable cause) {
        super(message, cause);
    }
}
