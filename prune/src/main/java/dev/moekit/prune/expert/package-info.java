/**
 * Expert pruning of MoE checkpoints, public API: the plugin kind {@link dev.moekit.prune.expert.ExpertPruner}
 * (registered methods: STUN stage 1, arXiv 2409.06211, in {@code stun}; the criteria frequency, weighted frequency,
 * EAN, REAP (arXiv 2510.13999), random and NAEE (arXiv 2402.14800) in {@code score}), what a method may read while it
 * selects ({@link dev.moekit.prune.expert.Selection}), the budget ({@link dev.moekit.prune.expert.ExpertPruneOptions}),
 * and the entry point {@link dev.moekit.prune.expert.ExpertPruning} with its report.
 *
 * <p>Removal ({@code write}) keeps expert tensors, router rows, router biases and correction biases in step,
 * renumbers survivors in order, never touches shared experts or dense layers, and rewrites the config's expert count.
 */
package dev.moekit.prune.expert;
