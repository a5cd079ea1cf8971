package dev.moekit.upcycle.stage;

import dev.moekit.pipeline.stage.StageContract;
import dev.moekit.upcycle.Refs;
import java.nio.file.Path;
import org.junit.jupiter.api.TestInstance;

/** The stage contract for every stage on this module's class path, planned on the dense seed upcycling starts from. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class UpcycleStageContractTest extends StageContract {
    @Override
    protected Path model() {
        return Refs.seed();
    }
}
