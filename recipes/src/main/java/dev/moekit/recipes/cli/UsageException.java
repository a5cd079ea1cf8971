package dev.moekit.recipes.cli;

/** The command line itself is wrong (missing argument, bad value): exit code 2 and the command's usage. */
final class UsageException extends RuntimeException {
    UsageException(String message) {
        super(message);
    }
}
