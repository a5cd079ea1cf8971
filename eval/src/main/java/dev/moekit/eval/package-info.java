/** moekit eval module. */
package dev.moekit.eval;
