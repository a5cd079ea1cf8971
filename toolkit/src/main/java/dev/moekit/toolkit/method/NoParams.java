package dev.moekit.toolkit.method;

/** The parameter record of a method that takes none. */
public record NoParams() {}
