/** CPU linear algebra (Cholesky, triangular solves, gemm) behind {@link dev.moekit.toolkit.linalg.Linalg}. */
package dev.moekit.toolkit.linalg;
