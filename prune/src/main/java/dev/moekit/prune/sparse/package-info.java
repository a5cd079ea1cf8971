/**
 * STUN stage 2: Wanda (arXiv 2306.11695) and OWL (arXiv 2310.05175) unstructured or N:M pruning of every Linear of
 * the decoder layers, sequential layer by layer through {@link dev.moekit.prune.sparse.SequentialCalibration}, entry
 * point {@link dev.moekit.prune.sparse.UnstructuredPruner}.
 */
package dev.moekit.prune.sparse;
