package dev.moekit.maven.gate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.model.TensorFacts;
import dev.moekit.toolkit.model.TensorLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Whether inference engines (vLLM, SGLang, transformers) can load a quantized MoE as it is: they build routers
 * unquantized, and they run a layer's routed experts as one fused kernel, so every expert module of a layer must have
 * the same bit width. Read from {@code quantization_config} in {@code config.json} (GPTQ with {@code dynamic}
 * overrides, or compressed-tensors with {@code config_groups}/{@code ignore}), matched the way those loaders match
 * module names; which modules are routers and experts comes from the model's family description.
 */
public final class EngineCompatibility {
    private static final Set<Role> ROUTERS = EnumSet.of(Role.ROUTER, Role.SHARED_EXPERT_GATE);
    private static final Set<Role> EXPERTS = EnumSet.of(Role.EXPERT_GATE, Role.EXPERT_UP, Role.EXPERT_DOWN, Role.EXPERTS_GATE_UP, Role.EXPERTS_DOWN);
    private static final int UNQUANTIZED = 16;

    /**
     * Findings.
     *
     * @param quantized whether config.json has a quantization_config
     * @param format    its quant_method, or "none"
     * @param routers   routers present and checked
     * @param blocks    fused expert blocks (MoE layers) checked
     * @param problems  violations, in words (empty: compatible)
     */
    public record Result(boolean quantized, String format, int routers, int blocks, List<String> problems) {
        public Result {
            problems = List.copyOf(problems);
        }
    }

    private EngineCompatibility() {}

    /** Checks the checkpoint folder {@code dir} (its config and tensor names; no weights are read). */
    public static Result check(Path dir) {
        try (Checkpoint c = Checkpoint.open(dir)) {
            return check(c.config(), c.names());
        }
    }

    /** Checks a config against the tensor names of its checkpoint. */
    public static Result check(ObjectNode config, Collection<String> tensors) {
        JsonNode qc = config.get("quantization_config");
        if (!(qc instanceof ObjectNode q)) {
            return new Result(false, "none", 0, 0, List.of());
        }
        String method = q.path("quant_method").asText("");
        if (!method.equals("gptq") && !method.equals("compressed-tensors")) {
            return new Result(true, method, 0, 0, List.of("quant_method '" + method + "' cannot be checked (moekit checks gptq and compressed-tensors"
                    + " configs); the rule requires routers unquantized and one bit width per fused expert block"));
        }
        Set<String> modules = new HashSet<>(tensors);
        for (String t : tensors) {
            int i = t.lastIndexOf('.');
            if (i > 0) {
                modules.add(t.substring(0, i));
            }
        }
        List<TensorLayout.Planned> planned;
        try {
            planned = layout(config, modules);
        } catch (RuntimeException e) {
            return new Result(true, method, 0, 0, List.of("the model structure cannot be read from config.json (" + e.getMessage() + ")"));
        }
        List<String> problems = new ArrayList<>();
        List<String> quantizedRouters = new ArrayList<>();
        int routers = 0;
        Map<Integer, Map<Integer, List<String>>> blocks = new TreeMap<>();
        for (TensorLayout.Planned p : planned) {
            if (ROUTERS.contains(p.role())) {
                String m = moduleOf(p.name());
                if (modules.contains(m)) {
                    routers++;
                    Integer b = bits(q, method, m);
                    if (b != null) {
                        quantizedRouters.add(m + " at " + b + " bits");
                    }
                }
            } else if (EXPERTS.contains(p.role())) {
                for (String m : expertModules(p)) {
                    if (modules.contains(m)) {
                        Integer b = bits(q, method, m);
                        blocks.computeIfAbsent(p.layer(), k -> new TreeMap<>()).computeIfAbsent(b == null ? UNQUANTIZED : b, k -> new ArrayList<>()).add(m);
                    }
                }
            }
        }
        if (!quantizedRouters.isEmpty()) {
            problems.add(quantizedRouters.size() + " of " + routers + " router(s) quantized (" + String.join(", ", quantizedRouters.subList(0, Math.min(3,
                    quantizedRouters.size()))) + (quantizedRouters.size() > 3 ? ", ..." : "") + "); the rule requires unquantized routers"
                    + " (engines load routers in 16 bits)");
        }
        for (var e : blocks.entrySet()) {
            if (e.getValue().size() > 1) {
                List<String> parts = new ArrayList<>();
                e.getValue().forEach((b, ms) -> parts.add(label(b) + ": " + ms.size() + " module(s), e.g. " + ms.get(0)));
                problems.add("layer " + e.getKey() + "'s fused expert block mixes " + e.getValue().size() + " bit widths (" + String.join("; ", parts)
                        + "); the rule requires one bit width per block (engines run a layer's experts as one fused kernel)");
            }
        }
        return new Result(true, method, routers, blocks.size(), problems);
    }

    /** The family layout whose expert tensors the checkpoint holds: per-expert 2-D tensors, or fused 3-D ones. */
    private static List<TensorLayout.Planned> layout(ObjectNode config, Set<String> modules) {
        ObjectNode plain = config.deepCopy();
        plain.remove("quantization_config");
        List<TensorLayout.Planned> first = null;
        RuntimeException failure = null;
        for (boolean fused : new boolean[] {false, true}) {
            List<TensorLayout.Planned> p;
            try {
                p = TensorLayout.expected(ModelSpec.fromConfig(plain, new TensorFacts(fused, EnumSet.allOf(Role.class), DType.BF16)));
            } catch (RuntimeException e) {
                failure = e;
                continue;
            }
            if (first == null) {
                first = p;
            }
            if (p.stream().filter(x -> EXPERTS.contains(x.role())).flatMap(x -> expertModules(x).stream()).anyMatch(modules::contains)) {
                return p;
            }
        }
        if (first == null) {
            throw failure;
        }
        return first;
    }

    private static List<String> expertModules(TensorLayout.Planned p) {
        if (!p.role().fused()) {
            return List.of(moduleOf(p.name()));
        }
        List<String> out = new ArrayList<>();
        for (int e = 0; e < p.tensor().shape()[0]; e++) {
            out.add(p.name() + "." + e);
        }
        return out;
    }

    private static String moduleOf(String tensor) {
        return tensor.endsWith(".weight") ? tensor.substring(0, tensor.length() - ".weight".length()) : tensor;
    }

    private static String label(int bits) {
        return bits == UNQUANTIZED ? "unquantized" : bits + " bits";
    }

    /** The bit width {@code module} is loaded with, or null when the config leaves it unquantized. */
    static Integer bits(ObjectNode q, String method, String module) {
        if (method.equals("gptq")) {
            int bits = q.path("bits").asInt();
            var it = q.path("dynamic").properties().iterator();
            while (it.hasNext()) {
                var e = it.next();
                String key = e.getKey();
                boolean negative = key.startsWith("-:");
                String regex = negative || key.startsWith("+:") ? key.substring(2) : key;
                if (Pattern.compile(regex).matcher(module).lookingAt()) {
                    return negative ? null : e.getValue().path("bits").asInt(bits);
                }
            }
            return bits;
        }
        for (JsonNode ig : q.path("ignore")) {
            if (matches(ig.asText(), module)) {
                return null;
            }
        }
        Integer byClass = null;
        for (JsonNode g : q.path("config_groups")) {
            for (JsonNode t : g.path("targets")) {
                if (matches(t.asText(), module)) {
                    return g.path("weights").path("num_bits").asInt();
                }
                if (t.asText().equals("Linear") && byClass == null) {
                    byClass = g.path("weights").path("num_bits").asInt();
                }
            }
        }
        return byClass;
    }

    /** compressed-tensors target matching: the exact module name, or {@code re:} with Python {@code re.match} semantics. */
    private static boolean matches(String target, String module) {
        return target.startsWith("re:") ? Pattern.compile(target.substring(3)).matcher(module).lookingAt() : target.equals(module);
    }
}
