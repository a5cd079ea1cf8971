package dev.moekit.distill.stage;

import dev.moekit.pipeline.stage.StageContract;
import org.junit.jupiter.api.TestInstance;

/** The stage contract, run against every registered stage (here: distill). */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DistillStageContractTest extends StageContract {}
