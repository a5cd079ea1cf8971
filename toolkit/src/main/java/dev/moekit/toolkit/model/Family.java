package dev.moekit.toolkit.model;

import java.util.List;
import java.util.Map;

/**
 * A model family as described by its resource file {@code families/<name>.json}: which HF architectures it covers,
 * the tensor-name template of every role ({@code ${layer}}, {@code ${expert}}), and the config keys (with synonyms)
 * that give its numbers. See {@link FamilyRegistry}.
 *
 * @param name          short name, e.g. {@code mixtral}
 * @param architectures HF class names ({@code architectures[0]} of config.json)
 * @param modelTypes    HF {@code model_type} values
 * @param templates     tensor-name template per role; roles a family lacks are absent
 * @param configKeys    for each logical key (e.g. {@code num_experts}) the config keys to try, in order
 */
public record Family(String name, List<String> architectures, List<String> modelTypes, Map<Role, String> templates,
                     Map<String, List<String>> configKeys) {
    public Family {
        architectures = List.copyOf(architectures);
        modelTypes = List.copyOf(modelTypes);
        templates = Map.copyOf(templates);
        configKeys = Map.copyOf(configKeys);
    }

    public boolean has(Role role) {
        return templates.containsKey(role);
    }

    /** Fills the template of {@code role}; {@code layer}/{@code expert} are ignored where the template lacks them. */
    public String name(Role role, int layer, int expert) {
        String t = templates.get(role);
        if (t == null) {
            throw new IllegalArgumentException("family " + name + " has no tensor for role " + role);
        }
        if (t.contains("${layer}")) {
            if (layer < 0) {
                throw new IllegalArgumentException("role " + role + " of family " + name + " needs a layer index");
            }
            t = t.replace("${layer}", Integer.toString(layer));
        }
        if (t.contains("${expert}")) {
            if (expert < 0) {
                throw new IllegalArgumentException("role " + role + " of family " + name + " needs an expert index");
            }
            t = t.replace("${expert}", Integer.toString(expert));
        }
        return t;
    }
}
