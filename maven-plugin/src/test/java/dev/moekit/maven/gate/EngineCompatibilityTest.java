package dev.moekit.maven.gate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Engine compatibility of quantization configs for mixtral-tiny's structure (6 MoE layers of 8 experts): the tensor
 * names are those a packed checkpoint of it has (qweight/scales for quantized modules, weight for the rest).
 */
class EngineCompatibilityTest {
    static Path model;
    static ObjectNode config;

    @BeforeAll
    static void read() throws Exception {
        model = Path.of(System.getProperty("moekit.shared", "../../shared"), "models", "mixtral-tiny");
        config = (ObjectNode) Json.STRICT.readTree(Files.readString(model.resolve("config.json")));
    }

    static List<String> tensors(String quantSuffix) {
        List<String> t = new ArrayList<>(List.of("model.embed_tokens.weight", "lm_head.weight", "model.norm.weight"));
        for (int l = 0; l < 6; l++) {
            String p = "model.layers." + l;
            t.add(p + ".block_sparse_moe.gate.weight");
            for (String a : new String[] {"q_proj", "k_proj", "v_proj", "o_proj"}) {
                t.add(p + ".self_attn." + a + quantSuffix);
            }
            for (int e = 0; e < 8; e++) {
                for (String w : new String[] {"w1", "w2", "w3"}) {
                    t.add(p + ".block_sparse_moe.experts." + e + "." + w + quantSuffix);
                }
            }
        }
        return t;
    }

    static ObjectNode with(String quantizationConfig) throws Exception {
        ObjectNode c = config.deepCopy();
        c.set("quantization_config", Json.STRICT.readTree(quantizationConfig));
        return c;
    }

    @Test
    void unquantizedCheckpointPasses() {
        EngineCompatibility.Result r = EngineCompatibility.check(model);
        assertFalse(r.quantized());
        assertTrue(r.problems().isEmpty());
        Outcome o = Gates.check(new Limits(null, null, null, null, null, null, null, true), new Gates.Measured(null, null, null, null, "", r)).get(0);
        assertFalse(o.failed());
    }

    @Test
    void gptqWithRoutersKeptAndOneWidthPerBlockPasses() throws Exception {
        StringBuilder dyn = new StringBuilder();
        for (int l = 0; l < 6; l++) {
            dyn.append(l == 0 ? "" : ",").append("\"-:model\\\\.layers\\\\.").append(l).append("\\\\.block_sparse_moe\\\\.gate$\": {}");
        }
        // layer 2's experts all at 3 bits: one width per block, blocks may differ from each other
        dyn.append(",\"+:model\\\\.layers\\\\.2\\\\.block_sparse_moe\\\\.experts\\\\.\": {\"bits\": 3}");
        EngineCompatibility.Result r = EngineCompatibility.check(with("{\"quant_method\": \"gptq\", \"bits\": 4, \"group_size\": 128, \"dynamic\": {" + dyn
                + "}}"), tensors(".qweight"));
        assertTrue(r.problems().isEmpty(), r.problems().toString());
        assertEquals(6, r.routers());
        assertEquals(6, r.blocks());
        Outcome o = Gates.check(new Limits(null, null, null, null, null, null, null, true), new Gates.Measured(null, null, null, null, "", r)).get(0);
        assertEquals("engineCompatible: gptq: 6 router(s) unquantized and one bit width in each of 6 fused expert block(s), as required", o.message());
    }

    @Test
    void gptqQuantizingRoutersFails() throws Exception {
        EngineCompatibility.Result r = EngineCompatibility.check(with("{\"quant_method\": \"gptq\", \"bits\": 4, \"dynamic\": {}}"), tensors(".qweight"));
        assertEquals(List.of("6 of 6 router(s) quantized (model.layers.0.block_sparse_moe.gate at 4 bits, model.layers.1.block_sparse_moe.gate at 4 bits,"
                + " model.layers.2.block_sparse_moe.gate at 4 bits, ...); the rule requires unquantized routers (engines load routers in 16 bits)"), r.problems());
    }

    @Test
    void mixedWidthsInOneExpertBlockFail() throws Exception {
        String qc = """
                {"quant_method": "compressed-tensors", "format": "pack-quantized",
                 "config_groups": {
                   "group_0": {"targets": ["Linear"], "weights": {"num_bits": 4, "type": "int", "symmetric": true, "group_size": 128}},
                   "group_1": {"targets": ["model.layers.3.block_sparse_moe.experts.5.w1"], "weights": {"num_bits": 2, "type": "int"}}},
                 "ignore": ["lm_head", "re:.*block_sparse_moe\\\\.gate$"]}""";
        EngineCompatibility.Result r = EngineCompatibility.check(with(qc), tensors(".weight_packed"));
        assertEquals(List.of("layer 3's fused expert block mixes 2 bit widths (2 bits: 1 module(s), e.g. model.layers.3.block_sparse_moe.experts.5.w1;"
                + " 4 bits: 23 module(s), e.g. model.layers.3.block_sparse_moe.experts.0.w1); the rule requires one bit width per block (engines run a"
                + " layer's experts as one fused kernel)"), r.problems());
        List<Outcome> o = Gates.check(new Limits(null, null, null, null, null, null, null, true), new Gates.Measured(null, null, null, null, "", r));
        assertEquals(1, o.size());
        assertTrue(o.get(0).failed());
        assertTrue(o.get(0).message().startsWith("engineCompatible: layer 3's fused expert block mixes 2 bit widths"));
    }

    @Test
    void anExpertLeftUnquantizedInAQuantizedBlockFails() throws Exception {
        String qc = """
                {"quant_method": "compressed-tensors", "config_groups": {
                   "group_0": {"targets": ["Linear"], "weights": {"num_bits": 4, "type": "int"}}},
                 "ignore": ["lm_head", "re:.*block_sparse_moe\\\\.gate$", "model.layers.0.block_sparse_moe.experts.7.w2"]}""";
        EngineCompatibility.Result r = EngineCompatibility.check(with(qc), tensors(".weight_packed"));
        assertEquals(1, r.problems().size());
        assertTrue(r.problems().get(0).contains("layer 0's fused expert block mixes 2 bit widths (4 bits: 23 module(s)"), r.problems().get(0));
        assertTrue(r.problems().get(0).contains("unquantized: 1 module(s), e.g. model.layers.0.block_sparse_moe.experts.7.w2"), r.problems().get(0));
    }

    @Test
    void unknownMethodCannotBeChecked() throws Exception {
        EngineCompatibility.Result r = EngineCompatibility.check(with("{\"quant_method\": \"awq\", \"bits\": 4}"), tensors(".qweight"));
        assertEquals(1, r.problems().size());
        assertTrue(r.problems().get(0).startsWith("quant_method 'awq' cannot be checked"));
    }
}
