package dev.moekit.prune.sparse;

import dev.moekit.toolkit.model.Role;

/**
 * A Linear of one decoder layer: its role and, for routed experts, the expert index (-1 otherwise).
 *
 * @param role   the tensor role (Q, K, V, O, router, expert gate/up/down, shared expert...)
 * @param expert routed expert index or -1
 */
public record LinearKey(Role role, int expert) {
    public static LinearKey of(Role role) {
        return new LinearKey(role, -1);
    }

    @Override
    public String toString() {
        return expert < 0 ? role.name() : role.name() + "[" + expert + "]";
    }
}
