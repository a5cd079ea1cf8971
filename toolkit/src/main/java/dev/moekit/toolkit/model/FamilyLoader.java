package dev.moekit.toolkit.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Reads one family description. Format (every key required except {@code description} and {@code fused_templates}):
 * <pre>
 * { "name": "mixtral", "description": "...",
 *   "architectures": ["MixtralForCausalLM"], "model_types": ["mixtral"],
 *   "traits": {"moe": true, "norm": "rms|layer", "qk_norm": "head|all_heads", "attention": "standard|mla"},
 *   "templates": {"embed": "model.embed_tokens.weight", "expert_up": "model.layers.${layer}...${expert}...", ...},
 *   "fused_templates": {"experts_gate_up": "...", "experts_down": "...", "router": "..."},
 *   "optional": ["lm_head", "q_bias", ...],
 *   "config_keys": {"num_experts": ["num_local_experts", "num_experts"], ...},
 *   "defaults": {"rope_theta": 10000.0, ...} }
 * </pre>
 * Role keys are {@link Role} names in lower case. Unknown keys and roles are errors naming the resource.
 */
final class FamilyLoader {
    private static final Set<String> KEYS = Set.of("name", "description", "architectures", "model_types", "traits",
            "templates", "fused_templates", "optional", "config_keys", "defaults");

    private FamilyLoader() {}

    static Family parse(ObjectNode n, String res) {
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!KEYS.contains(k)) {
                throw new IllegalStateException(res + ": unknown key '" + k + "' (expected " + KEYS + ")");
            }
        }
        String name = req(n, "name", res).asText();
        Map<Role, String> templates = roles(req(n, "templates", res), res + " templates");
        Map<Role, String> fused = n.has("fused_templates") ? roles(n.get("fused_templates"), res + " fused_templates") : Map.of();
        Set<Role> optional = EnumSet.noneOf(Role.class);
        for (JsonNode o : req(n, "optional", res)) {
            Role r = role(o.asText(), res + " optional");
            if (!templates.containsKey(r) && !fused.containsKey(r)) {
                throw new IllegalStateException(res + ": optional role '" + o.asText() + "' has no template");
            }
            optional.add(r);
        }
        Map<String, List<String>> keys = new LinkedHashMap<>();
        req(n, "config_keys", res).fields().forEachRemaining(e -> {
            List<String> l = new ArrayList<>();
            e.getValue().forEach(v -> l.add(v.asText()));
            keys.put(e.getKey(), l);
        });
        Map<String, JsonNode> defaults = new LinkedHashMap<>();
        req(n, "defaults", res).fields().forEachRemaining(e -> {
            if (!keys.containsKey(e.getKey())) {
                throw new IllegalStateException(res + ": default for '" + e.getKey() + "' which config_keys lacks");
            }
            defaults.put(e.getKey(), e.getValue());
        });
        Family f = new Family(name, strings(req(n, "architectures", res)), strings(req(n, "model_types", res)), templates,
                keys, fused, optional, defaults, traits(req(n, "traits", res), res));
        if (f.traits().moe() && !f.supportsFused() && !templates.containsKey(Role.EXPERT_UP)) {
            throw new IllegalStateException(res + ": a MoE family needs expert templates");
        }
        return f;
    }

    private static Family.Traits traits(JsonNode t, String res) {
        try {
            return new Family.Traits(req(t, "moe", res).asBoolean(),
                    Family.Norm.valueOf(req(t, "norm", res).asText().toUpperCase(Locale.ROOT)),
                    Family.QkNormScope.valueOf(req(t, "qk_norm", res).asText().toUpperCase(Locale.ROOT)),
                    Family.Attention.valueOf(req(t, "attention", res).asText().toUpperCase(Locale.ROOT)));
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException(res + ": bad traits value (" + e.getMessage() + ")");
        }
    }

    private static Map<Role, String> roles(JsonNode obj, String where) {
        Map<Role, String> m = new EnumMap<>(Role.class);
        obj.fields().forEachRemaining(e -> {
            Role r = role(e.getKey(), where);
            String t = e.getValue().asText();
            if (r.perLayer() != t.contains("${layer}") || (r.indexed() != t.contains("${expert}"))) {
                throw new IllegalStateException(where + ": template of " + e.getKey() + " '" + t
                        + "' does not match its role (per layer: " + r.perLayer() + ", per expert: " + r.indexed() + ")");
            }
            m.put(r, t);
        });
        return m;
    }

    private static Role role(String s, String where) {
        try {
            return Role.valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException(where + ": unknown role '" + s + "'");
        }
    }

    private static List<String> strings(JsonNode arr) {
        List<String> l = new ArrayList<>();
        arr.forEach(v -> l.add(v.asText()));
        return l;
    }

    private static JsonNode req(JsonNode n, String key, String res) {
        JsonNode v = n.get(key);
        if (v == null) {
            throw new IllegalStateException(res + ": missing key '" + key + "'");
        }
        return v;
    }
}
