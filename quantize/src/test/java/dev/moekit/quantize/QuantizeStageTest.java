package dev.moekit.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.Stage;
import dev.moekit.toolkit.method.StageContext;
import dev.moekit.toolkit.method.StageProvider;
import java.nio.file.Path;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QuantizeStageTest {
    @TempDir
    Path tmp;

    private static StageProvider provider() {
        return ServiceLoader.load(StageProvider.class).stream().map(ServiceLoader.Provider::get)
                .filter(p -> p.name().equals("quantize")).findFirst().orElseThrow(() -> new AssertionError("quantize stage not registered"));
    }

    @Test
    void recipeParametersBindAndRun() throws Exception {
        JsonNode params = Json.STRICT.readTree("""
                {"format": "gptq", "bits": 4, "group_size": 64,
                 "rules": [{"targets": ["kind:routed_expert"], "bits": 2}]}""");
        Stage s = provider().create(params);
        JsonNode report = s.apply(TestWeights.MIXTRAL, tmp.resolve("out"), new StageContext(TestWeights.MIXTRAL, null, "cpu", 0, m -> { }));
        assertTrue(report.path("averageBits").asDouble() < 2.5, "experts dominate at 2 bits: " + report.path("averageBits"));
        try (QuantizedCheckpoint q = QuantizedCheckpoint.open(tmp.resolve("out"))) {
            assertEquals(2, q.checkpoint().config().path(Quantizer.CONFIG_KEY).path("bits").asInt());
            assertEquals(64, q.checkpoint().config().path(Quantizer.CONFIG_KEY).path("group_size").asInt());
        }
    }

    @Test
    void badParametersFailAtRecipeLoad() throws Exception {
        assertThrows(IllegalArgumentException.class, () -> provider().create(Json.STRICT.readTree("{\"bits\": 5}")));
        assertThrows(IllegalArgumentException.class, () -> provider().create(Json.STRICT.readTree("{\"format\": \"awq\"}")));
        assertThrows(IllegalArgumentException.class, () -> provider().create(Json.STRICT.readTree("{\"bitz\": 4}")));
        assertThrows(IllegalArgumentException.class, () -> provider().create(Json.STRICT.readTree("{\"average_bits\": 3, \"quantmoe\": \"4/2\"}")));
    }
}
