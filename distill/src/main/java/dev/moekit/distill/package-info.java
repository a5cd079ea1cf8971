/** moekit distill module. */
package dev.moekit.distill;
