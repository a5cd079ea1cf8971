package dev.moekit.toolkit.select;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.toolkit.model.Role;
import java.util.List;
import org.junit.jupiter.api.Test;

class SelectorTest {
    private static Selector.Candidate c(String module, Role role) {
        return new Selector.Candidate(module, module + ".weight", role);
    }

    @Test
    void exactNamesMatchModuleOrTensorButNotPrefixes() {
        Selector s = Selector.of("model.layers.0.self_attn.q_proj");
        assertTrue(s.matches(c("model.layers.0.self_attn.q_proj", Role.Q)));
        assertFalse(s.matches(c("model.layers.0.self_attn.q_proj_extra", Role.Q)));
        assertTrue(Selector.of("model.layers.0.self_attn.q_proj.weight").matches(c("model.layers.0.self_attn.q_proj", Role.Q)));
    }

    @Test
    void regexMustMatchTheWholeName() {
        Selector s = Selector.of("re:model\\.layers\\.1\\..*experts\\.\\d+\\.w[13]");
        assertTrue(s.matches(c("model.layers.1.block_sparse_moe.experts.7.w1", Role.EXPERT_GATE)));
        assertFalse(s.matches(c("model.layers.1.block_sparse_moe.experts.7.w2", Role.EXPERT_DOWN)));
        assertFalse(s.matches(c("model.layers.11.block_sparse_moe.experts.7.w1", Role.EXPERT_GATE)));
        // a substring hit is not a match: "experts" alone would be found by find(), not by matches()
        assertFalse(Selector.of("re:experts").matches(c("model.layers.0.mlp.experts.0.up_proj", Role.EXPERT_UP)));
    }

    @Test
    void kindsAndRolesAndIgnore() {
        Selector s = new Selector(List.of("kind:attention", "role:expert_down"), List.of("re:.*\\.v_proj"));
        assertTrue(s.matches(c("model.layers.0.self_attn.q_proj", Role.Q)));
        assertFalse(s.matches(c("model.layers.0.self_attn.v_proj", Role.V)));
        assertTrue(s.matches(c("model.layers.0.mlp.experts.1.down_proj", Role.EXPERT_DOWN)));
        assertFalse(s.matches(c("model.layers.0.mlp.experts.1.up_proj", Role.EXPERT_UP)));
        assertFalse(s.matches("model.layers.0.self_attn.q_proj"), "kind entries never match a role-less name");
    }

    @Test
    void emptyTargetsSelectNothingAndBadEntriesFailEarly() {
        assertFalse(new Selector(List.of(), List.of()).matches(c("a", Role.Q)));
        assertThrows(IllegalArgumentException.class, () -> Selector.of("re:(unclosed"));
        assertThrows(IllegalArgumentException.class, () -> Selector.of("kind:nonsense"));
        assertThrows(IllegalArgumentException.class, () -> Selector.of(" "));
    }
}
