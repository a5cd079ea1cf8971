package dev.moekit.quantize;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.toolkit.io.Json;
import org.junit.jupiter.api.TestInstance;

/** Every registered bit allocator; the budget solver at 3 bits, the QuantMoE heuristic with first blocks and busy experts. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BitAllocatorContractTest extends BitAllocatorContract {
    @Override
    protected JsonNode sampleParams(BitAllocator<?> a) {
        return switch (a.name()) {
            case "budget" -> Json.PRETTY.createObjectNode().put("average_bits", 3.0);
            case "quantmoe" -> Json.PRETTY.createObjectNode().put("first_blocks", 1).put("top_experts", 2);
            default -> null;
        };
    }
}
