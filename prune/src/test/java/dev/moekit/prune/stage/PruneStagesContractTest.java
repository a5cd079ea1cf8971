package dev.moekit.prune.stage;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.pipeline.stage.StageContract;
import dev.moekit.pipeline.stage.StageType;
import dev.moekit.toolkit.io.Json;
import org.junit.jupiter.api.TestInstance;

/** The stage contract over every stage on the class path, with sample parameters for prune's two. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PruneStagesContractTest extends StageContract {
    @Override
    protected JsonNode sampleParams(StageType<?> m) {
        try {
            return switch (m.name()) {
                case "prune" -> Json.STRICT.readTree("{\"method\": \"stun\", \"experts\": 0.25}");
                case "sparsify" -> Json.STRICT.readTree("{\"method\": \"wanda\", \"sparsity\": 0.5}");
                default -> null;
            };
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
