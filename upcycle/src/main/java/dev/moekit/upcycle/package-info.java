/** moekit upcycle module. */
package dev.moekit.upcycle;
