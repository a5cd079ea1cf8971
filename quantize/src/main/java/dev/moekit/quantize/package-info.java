/** moekit quantize module. */
package dev.moekit.quantize;
