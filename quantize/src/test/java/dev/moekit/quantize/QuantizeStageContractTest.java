package dev.moekit.quantize;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.pipeline.stage.StageContract;
import dev.moekit.pipeline.stage.StageType;
import dev.moekit.toolkit.io.Json;
import org.junit.jupiter.api.TestInstance;

/** The stage contract for every registered stage, the quantize stage with {@code {method: rtn, bits: 4}}. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class QuantizeStageContractTest extends StageContract {
    @Override
    protected JsonNode sampleParams(StageType<?> s) {
        return s.name().equals("quantize") ? Json.PRETTY.createObjectNode().put("method", "rtn").put("bits", 4) : null;
    }
}
