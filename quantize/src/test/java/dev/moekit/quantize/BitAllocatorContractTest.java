package dev.moekit.quantize;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.toolkit.io.Json;
import org.junit.jupiter.api.TestInstance;

/**
 * Every registered bit allocator; the budget solver at 3 bits choosing among whole schemes (group sizes and asymmetric
 * grids mixed), the QuantMoE heuristic with first blocks and busy experts. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BitAllocatorContractTest extends BitAllocatorContract {
    @Override
    protected JsonNode sampleParams(BitAllocator<?> a) {
        return switch (a.name()) {
            case "budget" -> {
                var p = Json.PRETTY.createObjectNode().put("average_bits", 3.0);
                for (String c : new String[] {"int2/g64/asym", "int3/g128/sym", "int4/g32/asym", "int8/g128/sym"}) {
                    p.withArray("candidate_schemes").add(c);
                }
                yield p;
            }
            case "quantmoe" -> Json.PRETTY.createObjectNode().put("first_blocks", 1).put("top_experts", 2);
            default -> null;
        };
    }
}
