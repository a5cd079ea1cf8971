package dev.moekit.prune.expert;

/** The expert-pruner contract over every pruner registered on the class path (stun, frequency, ..., naee). */
class ExpertPrunersContractTest extends ExpertPrunerContract {}
