/**
 * Upcycling dense checkpoints into mixtures of experts: {@link dev.moekit.upcycle.Assembly} builds the MoE
 * (sparse upcycling: copies of one MLP; BTX/BAM: one specialist's MLP per expert, averaged attention, norms and
 * embeddings, new routers) and {@link dev.moekit.upcycle.Training} fine-tunes it on the distillation engine. The recipe
 * stages are in {@code dev.moekit.upcycle.stage}.
 */
package dev.moekit.upcycle;
