package dev.moekit.eval.runtime;

import dev.moekit.toolkit.model.Role;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Which parameters train, by role: {@code routers} (router weights and biases), {@code experts} (routed and shared
 * experts with the shared-expert gate), {@code attention} (q/k/v/o and their biases), {@code mlp} (dense MLPs),
 * {@code norms} (every norm weight and bias, q/k norms included), {@code embeddings} (embedding, lm_head and its
 * bias), {@code new} (parameters a method added with {@link CausalLm#addParameter}), {@code all} (all of these).
 */
public enum ParamGroup {
    ROUTERS, EXPERTS, ATTENTION, MLP, NORMS, EMBEDDINGS, NEW, ALL;

    /** The group a checkpoint tensor's role belongs to. */
    public static ParamGroup of(Role role) {
        return switch (role.kind()) {
            case ROUTER -> ROUTERS;
            case ROUTED_EXPERT, SHARED_EXPERT -> EXPERTS;
            case ATTENTION -> ATTENTION;
            case DENSE_MLP -> MLP;
            case NORM -> NORMS;
            case EMBEDDING -> EMBEDDINGS;
        };
    }

    /** Whether {@code groups} selects a tensor of {@code role} ({@code null}: an added parameter). */
    public static boolean selects(Set<ParamGroup> groups, Role role) {
        return groups.contains(ALL) || groups.contains(role == null ? NEW : of(role));
    }

    /** The recipe spelling, lowercase. */
    public String key() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses a comma-separated list such as {@code routers,experts}; fails naming the unknown entry. */
    public static Set<ParamGroup> parse(String csv) {
        List<ParamGroup> out = new ArrayList<>();
        for (String s : csv.split(",")) {
            String k = s.trim().toUpperCase(Locale.ROOT);
            if (k.isEmpty()) {
                continue;
            }
            try {
                out.add(valueOf(k));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown parameter group '" + s.trim()
                        + "' (use routers, experts, attention, mlp, norms, embeddings, new or all)");
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("no parameter group given (use routers, experts, attention, mlp, norms, embeddings, new or all)");
        }
        return EnumSet.copyOf(out);
    }
}
