/**
 * STUN stage 1 ({@link dev.moekit.prune.expert.stun.StunPruner}): per layer a distance matrix (router rows,
 * co-activation, or both; by default scaled by the usage of the less used expert of each pair), greedy agglomerative
 * clustering with a complete-linkage acceptance test under a threshold tau, tau searched for the expert budget (one
 * global tau, or per layer in the default uniform mode that stock loaders accept), one representative per cluster
 * (by default the member nearest the usage-weighted centroid; the reference's nearest-to-mean, or averaged).
 */
package dev.moekit.prune.expert.stun;
