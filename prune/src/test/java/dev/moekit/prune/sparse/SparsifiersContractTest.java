package dev.moekit.prune.sparse;

/** The sparsifier contract over every sparsifier registered on the class path (wanda, owl). */
class SparsifiersContractTest extends SparsifierContract {}
