package dev.moekit.pipeline.recipe;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One stage of a recipe as written: its registered name and raw parameters (bound by the stage plugin).
 *
 * @param name   stage name, e.g. {@code prune}
 * @param params the parameter mapping, or null
 */
public record StageEntry(String name, JsonNode params) {}
