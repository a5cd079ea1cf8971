/** The shared tensor/module selector grammar ({@code targets}/{@code ignore}, exact names, {@code re:} regexes, kinds). */
package dev.moekit.toolkit.select;
