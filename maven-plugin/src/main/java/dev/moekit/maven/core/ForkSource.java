package dev.moekit.maven.core;

/** Makes the fork when a goal has work to do (an up-to-date goal never looks for a JDK). */
@FunctionalInterface
public interface ForkSource {
    Fork fork() throws TaskFailure;
}
