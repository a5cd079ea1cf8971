/**
 * Expert pruners that score each expert and keep the best per layer ({@link dev.moekit.prune.expert.score.ScoringPruner}):
 * frequency, weighted frequency, EAN, REAP, random, and NAEE's exhaustive reconstruction search.
 */
package dev.moekit.prune.expert.score;
