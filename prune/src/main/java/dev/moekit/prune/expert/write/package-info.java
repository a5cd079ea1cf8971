/**
 * Writing a pruned checkpoint: which tensors hold a layer's experts and router
 * ({@link dev.moekit.prune.expert.write.ExpertRoles}), the output plan and the copy with kept rows
 * ({@link dev.moekit.prune.expert.write.ExpertRemoval}), and the config's new expert count
 * ({@link dev.moekit.prune.expert.write.ConfigEdit}). Plans work on real or planned tensors
 * ({@link dev.moekit.prune.expert.write.TensorTable}).
 */
package dev.moekit.prune.expert.write;
