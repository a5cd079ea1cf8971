package dev.moekit.maven.gate;

/**
 * One rule's verdict on one measured value.
 *
 * @param rule    the parameter that sets the rule ({@code maxPerplexityRatio})
 * @param status  passed, violated, or not measured (a violation too: a gate that cannot be checked does not pass)
 * @param message the rule, the measured value and the limit, in words
 */
public record Outcome(String rule, Status status, String message) {
    public enum Status { PASSED, VIOLATED, NOT_MEASURED }

    public boolean failed() {
        return status != Status.PASSED;
    }

    @Override
    public String toString() {
        return message;
    }
}
