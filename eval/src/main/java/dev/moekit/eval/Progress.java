package dev.moekit.eval;

/** Progress of a long run: {@code done} of {@code total} units of {@code stage} (e.g. windows of a domain). */
@FunctionalInterface
public interface Progress {
    Progress NONE = (stage, done, total) -> { };

    void update(String stage, int done, int total);
}
