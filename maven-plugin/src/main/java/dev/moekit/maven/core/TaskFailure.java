package dev.moekit.maven.core;

/**
 * A goal's work failed for a reason the build's user can act on (a bad recipe, a failed gate, a broken checkpoint):
 * the mojos turn it into a build failure carrying exactly this message.
 */
public final class TaskFailure extends Exception {
    public TaskFailure(String message) {
        super(message);
    }
}
