package dev.moekit.toolkit.model;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A model family as described by its resource file {@code families/<name>.json}: which HF architectures it covers,
 * the tensor-name template of every role ({@code ${layer}}, {@code ${expert}}), and the config keys (with synonyms)
 * that give its numbers. See {@link FamilyRegistry}.
 *
 * <p>A family loaded from its file has the per-expert layout in {@code templates} and the fused 3-D expert layout of
 * transformers 5 in {@code fusedTemplates}; {@link #withLayout} resolves one of them, and the {@link ModelSpec} of a
 * checkpoint holds the resolved family, so {@link #name} always names tensors that the checkpoint uses.
 *
 * @param name           short name, e.g. {@code mixtral}
 * @param architectures  HF class names ({@code architectures[0]} of config.json)
 * @param modelTypes     HF {@code model_type} values
 * @param templates      tensor-name template per role; roles a family lacks are absent
 * @param configKeys     for each logical key (e.g. {@code num_experts}) the config keys to try, in order; the first is
 *                       the family's own spelling (used when writing configs); dotted keys descend into objects
 * @param fusedTemplates templates that replace or add to {@code templates} in the fused expert layout (the per-expert
 *                       roles are dropped there)
 * @param optional       roles whose tensors may be absent (biases, q/k norms, shared-expert gate, correction bias...)
 * @param defaults       value of a logical key when no config key is present; a key with no default is required
 * @param traits         structural facts the templates cannot express
 */
public record Family(String name, List<String> architectures, List<String> modelTypes, Map<Role, String> templates,
                     Map<String, List<String>> configKeys, Map<Role, String> fusedTemplates, Set<Role> optional,
                     Map<String, JsonNode> defaults, Traits traits) {

    /** Kind of normalisation layers. */
    public enum Norm { RMS, LAYER }

    /** Width of the q/k norms: per head ({@code [head_dim]}, Qwen3) or over all heads ({@code [heads*head_dim]}, OLMoE). */
    public enum QkNormScope { HEAD, ALL_HEADS }

    /**
     * Facts of a family that are code, not names.
     *
     * @param moe       whether the family has routed experts at all
     * @param norm      RMSNorm or LayerNorm (with bias)
     * @param qkNorm    width of q/k norm weights when present
     * @param attention standard multi-head attention, or DeepSeek-V2/V3 multi-head latent attention
     */
    public record Traits(boolean moe, Norm norm, QkNormScope qkNorm, Attention attention) {
        public static final Traits DENSE = new Traits(false, Norm.RMS, QkNormScope.HEAD, Attention.STANDARD);
    }

    /** Attention flavour. */
    public enum Attention { STANDARD, MLA }

    public Family {
        architectures = List.copyOf(architectures);
        modelTypes = List.copyOf(modelTypes);
        templates = Map.copyOf(templates);
        configKeys = Map.copyOf(configKeys);
        fusedTemplates = Map.copyOf(fusedTemplates);
        optional = optional.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(optional));
        defaults = Map.copyOf(defaults);
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("family name is empty");
        }
    }

    /** A family with only names and config keys (dense RMSNorm traits, nothing optional). */
    public Family(String name, List<String> architectures, List<String> modelTypes, Map<Role, String> templates,
                  Map<String, List<String>> configKeys) {
        this(name, architectures, modelTypes, templates, configKeys, Map.of(), Set.of(), Map.of(), Traits.DENSE);
    }

    public boolean has(Role role) {
        return templates.containsKey(role);
    }

    public boolean isOptional(Role role) {
        return optional.contains(role);
    }

    /** Whether this family can store experts fused (it has fused templates). */
    public boolean supportsFused() {
        return fusedTemplates.containsKey(Role.EXPERTS_GATE_UP);
    }

    /**
     * This family with one expert layout resolved: per-expert ({@code fused=false}, the file's {@code templates}) or
     * fused (the per-expert roles replaced by {@code fusedTemplates}). The result has no fused templates left.
     */
    public Family withLayout(boolean fused) {
        Map<Role, String> t = new EnumMap<>(Role.class);
        t.putAll(templates);
        if (fused) {
            if (!supportsFused()) {
                throw new IllegalArgumentException("family " + name + " has no fused expert layout");
            }
            t.keySet().removeIf(Role::perExpert);
            t.putAll(fusedTemplates);
        }
        return new Family(name, architectures, modelTypes, t, configKeys, Map.of(), optional, defaults, traits);
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
