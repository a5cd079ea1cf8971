package dev.moekit.distill.stage;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.pipeline.stage.StageContract;
import dev.moekit.pipeline.stage.StageType;
import dev.moekit.toolkit.io.Json;
import org.junit.jupiter.api.TestInstance;

/** The stage contract, run against every registered stage (here: distill and compress_experts). */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DistillStageContractTest extends StageContract {
    @Override
    protected JsonNode sampleParams(StageType<?> s) {
        return s.name().equals("compress_experts") ? Json.PRETTY.createObjectNode().put("main", 1) : null;
    }
}
