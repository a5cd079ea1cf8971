package dev.moekit.distill.ce;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.SafetensorsFile;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.model.CompressedExperts;
import dev.moekit.toolkit.model.ConfigWriter;
import dev.moekit.toolkit.model.LayerSpec;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.model.TensorFacts;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The compressed-experts checkpoint: the input's tensors unchanged, one {@code ces} per MoE layer (ones), and a config
 * with {@code use_ce: true}, {@code n_ce} = k - main, {@code ce_layout}, {@code num_experts_per_tok} unchanged, the
 * base {@code model_type} kept (moekit finds the family by it) and {@code architectures}/{@code auto_map} naming the
 * modeling code {@link RemoteCode} writes beside it. Without compressed experts (the baseline of the same training)
 * the config only sets {@code num_experts_per_tok} = main.
 */
final class CeCheckpoint {
    private CeCheckpoint() {}

    /** The output config. */
    static ObjectNode config(ModelSpec spec, int main, boolean compressed, CompressedExperts.Layout layout) {
        ConfigWriter w = ConfigWriter.of(spec);
        if (!compressed) {
            return w.set("top_k", main).build();
        }
        int topK = spec.layerSpecs().stream().filter(LayerSpec::moe).mapToInt(LayerSpec::topK).max().orElseThrow();
        w.set("use_ce", true).set("n_ce", topK - main).raw("ce_layout", JsonNodeFactory.instance.textNode(layout.key()));
        RemoteCode code = RemoteCode.of(spec);
        if (code != null) {
            w.raw("architectures", JsonNodeFactory.instance.arrayNode().add(code.ceModel()));
            w.raw("auto_map", code.autoMap());
        }
        return w.build();
    }

    /** The facts of the output: the input's, with {@code ces} present when compressed. */
    static TensorFacts facts(ModelSpec spec, boolean withCes) {
        Set<Role> present = EnumSet.noneOf(Role.class);
        present.addAll(spec.present());
        if (withCes) {
            present.add(Role.CES);
        }
        return new TensorFacts(spec.fusedExperts(), present, spec.dtype());
    }

    /** The spec of {@code config} over the input's storage facts. */
    static ModelSpec spec(ObjectNode config, ModelSpec input, boolean withCes) {
        return ModelSpec.fromConfig(config, facts(input, withCes));
    }

    /** The {@code ces} tensors of {@code out} (one per MoE layer, the checkpoint's dtype). */
    static List<TensorSpec> cesTensors(ModelSpec out) {
        CompressedExperts ce = CompressedExperts.of(out);
        List<TensorSpec> t = new ArrayList<>();
        if (!ce.enabled()) {
            return t;
        }
        for (LayerSpec ls : out.layerSpecs()) {
            if (ls.moe()) {
                t.add(new TensorSpec(out.name(Role.CES, ls.index()), out.dtype(), ce.shape(out, ls)));
            }
        }
        return t;
    }

    /**
     * Writes {@code in}'s tensors (byte for byte), the {@code ces} tensors as ones when {@code withCes}, the other
     * files, the modeling code and {@code config}; returns the bytes of tensors written.
     */
    static long write(Checkpoint in, ModelSpec inSpec, ObjectNode config, boolean withCes, Path out, Path... inputs) {
        ModelSpec outSpec = spec(config, inSpec, withCes);
        List<TensorSpec> plan = new ArrayList<>();
        for (String n : in.names()) {
            plan.add(TensorSpec.of(in.info(n)));
        }
        List<TensorSpec> ces = withCes ? cesTensors(outSpec) : List.of();
        for (TensorSpec t : ces) {
            if (in.has(t.name())) {
                throw new IllegalArgumentException(in.dir() + ": already holds tensor '" + t.name() + "'");
            }
        }
        plan.addAll(ces);
        long shard = in.shards().stream().mapToLong(SafetensorsFile::fileSize).max().orElse(CheckpointWriter.DEFAULT_MAX_SHARD);
        CompressedExperts ce = CompressedExperts.of(outSpec);
        try (CheckpointWriter w = CheckpointWriter.create(out, plan,
                CheckpointWriter.Options.defaults().withMaxShardSize(Math.max(shard, 1)), inputs)) {
            int at = 0;
            for (TensorSpec t : plan) {
                if (in.has(t.name())) {
                    w.copy(t.name(), in.shard(t.name()), t.name());
                } else {
                    LayerSpec ls = outSpec.layerSpecs().stream().filter(LayerSpec::moe).toList().get(at++);
                    w.write(t.name(), ce.ones(outSpec, ls));
                }
            }
            w.copyOtherFiles(in);
            RemoteCode code = ce.enabled() ? RemoteCode.of(inSpec) : null;
            if (code != null) {
                for (Map.Entry<String, String> f : code.files().entrySet()) {
                    w.writeText(f.getKey(), f.getValue());
                }
            }
            w.commit(config);
        }
        return plan.stream().mapToLong(TensorSpec::byteSize).sum();
    }
}
