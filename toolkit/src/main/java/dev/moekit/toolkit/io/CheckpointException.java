package dev.moekit.toolkit.io;

/**
 * A checkpoint, shard, index or config is malformed or does not match what was expected. The message always names the
 * file, tensor or key at fault, in one line.
 */
public class CheckpointException extends RuntimeException {
    public CheckpointException(String message) {
        super(message);
    }

    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
