/**
 * STUN stage 1 ({@link dev.moekit.prune.expert.stun.StunPruner}): per layer a distance matrix (router rows,
 * co-activation, or both), greedy agglomerative clustering with a complete-linkage acceptance test under a threshold
 * tau, tau searched for the expert budget (one global tau, or per layer in the default uniform mode that stock loaders
 * accept), one representative per cluster (nearest to the members' mean by default, or averaged).
 */
package dev.moekit.prune.expert.stun;
