/**
 * STUN stage 2: Wanda (arXiv 2306.11695) and OWL (arXiv 2310.05175) unstructured or N:M pruning of every Linear of
 * the decoder layers. The plugin kind {@link dev.moekit.prune.sparse.Sparsifier} sets per-layer targets
 * ({@link dev.moekit.prune.sparse.WandaSparsifier}, {@link dev.moekit.prune.sparse.OwlSparsifier});
 * {@link dev.moekit.prune.sparse.UnstructuredPruner} applies Wanda masks sequentially through eval's calibration.
 */
package dev.moekit.prune.sparse;
