package dev.moekit.toolkit.method;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Registers a stage kind under a name, found with {@link java.util.ServiceLoader} across modules (each module lists
 * its providers in {@code META-INF/services/dev.moekit.toolkit.method.StageProvider}). {@link #create} binds and
 * validates the recipe parameters; unknown keys are errors (see {@link Params}).
 */
public interface StageProvider {
    /** Name used in recipes ({@code stages: - <name>: {...}}). */
    String name();

    /** One line for help and docs. */
    String summary();

    /** The parameter record type, for help and docs. */
    Class<? extends Record> parameters();

    /** Builds a stage from recipe parameters; throws {@link IllegalArgumentException} naming the bad key. */
    Stage create(JsonNode params);
}
