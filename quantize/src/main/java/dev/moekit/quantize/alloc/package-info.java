/**
 * Bit allocators (plugin kind {@code bit-allocator}): {@link dev.moekit.quantize.alloc.UniformAllocator uniform},
 * {@link dev.moekit.quantize.alloc.BudgetAllocator budget} (the knapsack solver) and
 * {@link dev.moekit.quantize.alloc.QuantMoeAllocator quantmoe} (the QuantMoE-Bench heuristics).
 */
package dev.moekit.quantize.alloc;
