package dev.moekit.quantize;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.method.Methods;
import dev.moekit.toolkit.model.ModelSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a quantization writes once the schemes are fixed, from metadata alone: the output tensors (each quantized
 * module's as its format plans them, every other tensor as it is), the modules kept unquantized and the
 * {@code quantization_config}. A run ({@link QuantSession}) and a recipe's plan ({@link QuantizeStage}) both use it, so
 * the planned output is the written one.
 */
final class OutputPlan {
    final QuantOptions opts;
    final Map<LinearModule, QuantScheme> schemes;
    final Map<String, List<LinearModule>> byTensor = new LinkedHashMap<>();
    final List<String> kept;
    /** The model's weight dtype. */
    final DType weightType;
    /** The dtype scales are rounded to. */
    final DType scaleType;

    /** Checks {@code schemes} against the format ({@code where} names the input in messages). */
    OutputPlan(String where, ModelSpec spec, ModuleCatalog catalog, QuantOptions opts, Map<LinearModule, QuantScheme> schemes) {
        this.opts = opts;
        this.schemes = schemes;
        this.weightType = spec.dtype();
        PackedFormat f = opts.format();
        this.scaleType = opts.scaleType() != null ? opts.scaleType() : f.scaleType(weightType);
        schemes.keySet().forEach(m -> byTensor.computeIfAbsent(m.tensor(), k -> new ArrayList<>()).add(m));
        if (!f.fusedExperts()) {
            schemes.keySet().stream().filter(LinearModule::fused).findFirst().ifPresent(m -> {
                List<String> can = Methods.standard().kind(PackedFormat.KIND).all().stream().filter(PackedFormat::fusedExperts)
                        .map(PackedFormat::name).toList();
                throw new CheckpointException(where + ": '" + m.tensor() + "' holds fused experts; " + f.name()
                        + " export needs per-expert tensors (convert the checkpoint to the per-expert layout, or write " + String.join(" or ", can) + ")");
            });
        }
        this.kept = catalog.all().stream().filter(m -> !schemes.containsKey(m)).map(LinearModule::module).toList();
    }

    /** Whether a module with scheme {@code s} stores a column-to-group map (also after a fallback to RTN). */
    boolean gIdxPlanned(QuantScheme s) {
        return opts.format().packed() && opts.method().activationOrder() && s.groupSize() > 0;
    }

    /** The output tensors, in the order of {@code input} (the input checkpoint's tensors). */
    List<TensorSpec> tensors(List<TensorSpec> input) {
        List<TensorSpec> plan = new ArrayList<>();
        for (TensorSpec t : input) {
            List<LinearModule> mods = byTensor.get(t.name());
            if (mods == null) {
                plan.add(t);
                continue;
            }
            QuantScheme s = schemes.get(mods.getFirst());
            plan.addAll(opts.format().plan(t, mods.getFirst(), s, gIdxPlanned(s), weightType));
        }
        return plan;
    }

    /** The {@code quantization_config} the format writes, or null when it writes none. */
    ObjectNode quantizationConfig() {
        Map<String, QuantScheme> byName = new LinkedHashMap<>();
        schemes.forEach((m, s) -> byName.put(m.module(), s));
        boolean actOrder = gIdxPlanned(opts.scheme()) || schemes.values().stream().anyMatch(this::gIdxPlanned);
        return opts.format().config(byName, kept, actOrder);
    }

    /** The config an output with this plan has: {@code input}'s plus the quantization config, if any. */
    ObjectNode config(ObjectNode input) {
        ObjectNode config = input.deepCopy();
        ObjectNode qc = quantizationConfig();
        if (qc != null) {
            config.set(PackedFormat.CONFIG_KEY, qc);
        }
        return config;
    }
}
