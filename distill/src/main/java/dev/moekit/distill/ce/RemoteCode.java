package dev.moekit.distill.ce;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.model.ModelSpec;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The transformers (5.x) modeling code of a compressed-experts checkpoint: {@code configuration_moekit_ce.py} (the
 * family's config class, unchanged) and {@code modeling_moekit_ce.py} (the stock {@code *ForCausalLM} whose MoE
 * blocks gain {@code ces} and the compressed forward), named by {@code auto_map} so that
 * {@code AutoModelForCausalLM.from_pretrained(dir, trust_remote_code=True)} loads it. Self-contained: the Python
 * sources are resources of this package with the family's names filled in.
 *
 * @param module     transformers' module name ({@code transformers.models.<module>})
 * @param baseConfig the family's config class
 * @param baseModel  the family's causal-LM class
 */
record RemoteCode(String module, String baseConfig, String baseModel) {
    static final String CONFIG_FILE = "configuration_moekit_ce.py";
    static final String MODELING_FILE = "modeling_moekit_ce.py";

    /** transformers classes by {@code model_type}. DeepSeek-MoE (v1) has none (its checkpoints carry their own code). */
    private static final Map<String, RemoteCode> BY_TYPE = Map.of(
            "mixtral", new RemoteCode("mixtral", "MixtralConfig", "MixtralForCausalLM"),
            "qwen2_moe", new RemoteCode("qwen2_moe", "Qwen2MoeConfig", "Qwen2MoeForCausalLM"),
            "qwen3_moe", new RemoteCode("qwen3_moe", "Qwen3MoeConfig", "Qwen3MoeForCausalLM"),
            "olmoe", new RemoteCode("olmoe", "OlmoeConfig", "OlmoeForCausalLM"),
            "phimoe", new RemoteCode("phimoe", "PhimoeConfig", "PhimoeForCausalLM"),
            "deepseek_v2", new RemoteCode("deepseek_v2", "DeepseekV2Config", "DeepseekV2ForCausalLM"),
            "deepseek_v3", new RemoteCode("deepseek_v3", "DeepseekV3Config", "DeepseekV3ForCausalLM"));

    /** The code for {@code spec}'s {@code model_type}, or null when transformers has no class for it. */
    static RemoteCode of(ModelSpec spec) {
        String type = spec.config().path("model_type").asText("");
        RemoteCode c = BY_TYPE.get(type);
        if (c == null && type.isEmpty()) {
            c = BY_TYPE.get(spec.family().modelTypes().getFirst());
        }
        return c;
    }

    String ceConfig() {
        return "MoekitCe" + baseConfig;
    }

    String ceModel() {
        return "MoekitCe" + baseModel;
    }

    /** {@code auto_map} of config.json. */
    ObjectNode autoMap() {
        ObjectNode m = JsonNodeFactory.instance.objectNode();
        m.put("AutoConfig", CONFIG_FILE.replace(".py", "") + "." + ceConfig());
        m.put("AutoModelForCausalLM", MODELING_FILE.replace(".py", "") + "." + ceModel());
        return m;
    }

    /** File name to Python source. */
    Map<String, String> files() {
        Map<String, String> out = new LinkedHashMap<>();
        out.put(CONFIG_FILE, fill(resource(CONFIG_FILE + ".txt")));
        out.put(MODELING_FILE, fill(resource(MODELING_FILE + ".txt")));
        return out;
    }

    private String fill(String template) {
        return template.replace("@MODULE@", module).replace("@BASE_CONFIG@", baseConfig).replace("@BASE_CLASS@", baseModel)
                .replace("@CE_CONFIG@", ceConfig()).replace("@CE_MODEL@", ceModel());
    }

    private static String resource(String name) {
        try (InputStream in = RemoteCode.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("resource " + name + " is missing from the distill module");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
