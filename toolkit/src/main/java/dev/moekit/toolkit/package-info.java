/** moekit toolkit module. */
package dev.moekit.toolkit;
