/** moekit recipes module. */
package dev.moekit.recipes;
