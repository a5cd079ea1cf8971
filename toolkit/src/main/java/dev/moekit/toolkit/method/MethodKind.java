package dev.moekit.toolkit.method;

/**
 * A kind of plugin: its name in listings and error messages and the interface its methods implement. Each kind
 * interface declares one constant, e.g. {@code MethodKind<ExpertPruner> KIND = new MethodKind<>("expert-pruner",
 * ExpertPruner.class, "...")}.
 *
 * @param name        kind name, e.g. {@code expert-pruner}
 * @param type        the interface every method of the kind implements
 * @param description one line for listings
 */
public record MethodKind<M extends Method<?>>(String name, Class<M> type, String description) {
    public MethodKind {
        if (name == null || !name.matches("[a-z][a-z0-9-]*")) {
            throw new IllegalArgumentException("method kind names are lowercase words joined by '-', got '" + name + "'");
        }
    }
}
