/** moekit prune module. */
package dev.moekit.prune;
