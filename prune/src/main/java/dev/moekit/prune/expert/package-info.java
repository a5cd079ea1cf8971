/**
 * Expert pruning of MoE checkpoints: STUN stage 1 (arXiv 2409.06211) and the baselines frequency, weighted frequency,
 * EAN, REAP (arXiv 2510.13999), random and NAEE (arXiv 2402.14800), all behind {@link dev.moekit.prune.expert.ExpertPruner}.
 *
 * <p>STUN: per layer a distance matrix (router rows, co-activation, or both), greedy agglomerative clustering with a
 * complete-linkage acceptance test under a threshold tau, tau searched for the expert budget (one global tau, or per
 * layer in the default uniform mode that stock loaders accept), one representative per cluster (nearest to the
 * members' mean by default, or averaged). Removal keeps expert tensors, router rows, router biases and correction
 * biases in step, renumbers survivors in order, never touches shared experts or dense layers, and rewrites the
 * config's expert count.
 */
package dev.moekit.prune.expert;
