package dev.moekit.upcycle.stage;

import dev.moekit.pipeline.stage.StageContract;
import dev.moekit.pipeline.stage.StageType;
import dev.moekit.upcycle.Refs;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.TestInstance;

/**
 * The stage contract for this module's stages (upcycle, btx, bam), planned on the dense seed they start from. The
 * other stages on the class path (distill's slim and compress_experts need an MoE input) have their contract run in
 * their own modules on a reference MoE.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class UpcycleStageContractTest extends StageContract {
    @Override
    protected Path model() {
        return Refs.seed();
    }

    @Override
    protected Stream<StageType<?>> methods() {
        return super.methods().filter(s -> s.getClass().getPackageName().startsWith("dev.moekit.upcycle"));
    }
}
