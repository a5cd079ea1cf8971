package dev.moekit.recipes.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.io.SafetensorsFile;
import dev.moekit.toolkit.model.LayerSpec;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.ParamCount;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.model.Routing;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.stream.Collectors;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;

/** {@code moekit inspect}: what a checkpoint is, from its config and tensor headers alone (no weights are read). */
final class InspectCommand implements Command {
    @Override
    public String name() {
        return "inspect";
    }

    @Override
    public String summary() {
        return "show family, layers, experts, parameters (total and active) and bytes by kind";
    }

    @Override
    public String arguments() {
        return "<checkpoint>";
    }

    @Override
    public Options options() {
        return Main.options(Main.flag("json", "print JSON instead of a table"));
    }

    @Override
    public int run(CommandLine cl, PrintStream out) throws Exception {
        Path p = Path.of(Main.arg(cl, 0, "<checkpoint> folder"));
        Main.expectArgs(cl, 1);
        try (PackedView view = PackedView.of(p); Checkpoint c = Checkpoint.open(view.path()); Checkpoint stored = Checkpoint.open(p)) {
            ModelSpec spec = ModelSpec.of(c);
            ObjectNode j = describe(c, spec, ParamCount.of(c, spec));
            j.put("checkpoint", p.toString());
            if (view.packed()) {
                // structure and parameters are the logical model's; bytes and shards are what is stored
                j.put("packed_format", view.format());
                j.put("logical_bytes", c.totalBytes());
                shards(j, stored);
            }
            if (cl.hasOption("json")) {
                out.println(Json.PRETTY.writeValueAsString(j));
            } else {
                print(j, out);
            }
        }
        return 0;
    }

    static ObjectNode describe(Checkpoint c, ModelSpec spec, ParamCount pc) {
        ObjectNode j = Json.PRETTY.createObjectNode();
        j.put("checkpoint", c.dir().toString());
        j.put("family", spec.family().name());
        j.put("architecture", c.config().path("architectures").path(0).asText(""));
        j.put("dtype", spec.dtype().torchName());
        j.put("layers", spec.layers());
        j.put("moe_layers", spec.layerSpecs().stream().filter(LayerSpec::moe).count());
        j.put("hidden_size", spec.hidden());
        j.put("attention_heads", spec.heads());
        j.put("kv_heads", spec.kvHeads());
        j.put("head_dim", spec.headDim());
        j.put("vocab_size", spec.vocab());
        j.put("tied_embeddings", spec.tiedEmbeddings());
        j.put("fused_experts", spec.fusedExperts());
        if (spec.isMoe()) {
            j.put("routing", routing(spec.routing()));
        }
        ArrayNode layers = j.putArray("per_layer");
        for (LayerSpec l : spec.layerSpecs()) {
            ObjectNode o = layers.addObject();
            o.put("layer", l.index());
            o.put("moe", l.moe());
            if (l.moe()) {
                o.put("experts", l.experts());
                o.put("top_k", l.topK());
                o.put("expert_ffn", l.expertFfn());
                o.put("shared_experts", l.sharedExperts());
                if (l.sharedExperts() > 0) {
                    o.put("shared_ffn", l.sharedFfn());
                }
            } else {
                o.put("ffn", l.ffn());
            }
        }
        j.put("parameters", pc.total());
        j.put("active_parameters", pc.active());
        ObjectNode bk = j.putObject("bytes_by_kind");
        ObjectNode pk = j.putObject("parameters_by_kind");
        for (Role.Kind k : Role.Kind.values()) {
            if (pc.params(k) > 0) {
                bk.put(k.name().toLowerCase(Locale.ROOT), pc.bytes(k));
                pk.put(k.name().toLowerCase(Locale.ROOT), pc.params(k));
            }
        }
        if (pc.unclassified() > 0) {
            pk.put("unclassified", pc.unclassified());
        }
        shards(j, c);
        return j;
    }

    /** Stored bytes and shards of {@code c}. */
    static void shards(ObjectNode j, Checkpoint c) {
        j.put("bytes", c.totalBytes());
        ArrayNode shards = j.putArray("shards");
        for (SafetensorsFile s : c.shards()) {
            ObjectNode o = shards.addObject();
            o.put("file", s.path().getFileName().toString());
            o.put("bytes", s.fileSize());
            o.put("tensors", s.tensors().size());
        }
    }

    static String routing(Routing r) {
        String s = switch (r.scoring()) {
            case SOFTMAX -> "softmax -> top-k";
            case SIGMOID -> "sigmoid -> top-k" + (r.correctionBias() ? " (selection with correction bias)" : "");
            case SPARSEMIXER -> "sparsemixer top-k";
        };
        if (r.groups() > 1) {
            s += ", group-limited (" + r.topkGroups() + " of " + r.groups() + " groups)";
        }
        s += r.renormalize() ? " -> renormalise" : ", no renormalisation";
        if (r.scalingFactor() != 1.0) {
            s += ", scaled by " + r.scalingFactor();
        }
        return s;
    }

    private static void print(ObjectNode j, PrintStream out) {
        String f = "%-18s %s%n";
        out.printf(f, "checkpoint", j.get("checkpoint").asText());
        out.printf(f, "family", j.get("family").asText() + " (" + j.get("architecture").asText() + ")");
        out.printf(f, "dtype", j.get("dtype").asText());
        out.printf(f, "layers", j.get("layers").asInt() + " (" + j.get("moe_layers").asInt() + " MoE)");
        out.printf(f, "attention", String.format("hidden %d, %d heads / %d KV heads, head dim %d", j.get("hidden_size").asInt(),
                j.get("attention_heads").asInt(), j.get("kv_heads").asInt(), j.get("head_dim").asInt()));
        out.printf(f, "vocab", j.get("vocab_size").asInt() + (j.get("tied_embeddings").asBoolean() ? " (tied embeddings)" : ""));
        if (j.has("routing")) {
            String experts = j.get("per_layer").valueStream().filter(l -> l.get("moe").asBoolean())
                    .map(l -> l.get("experts").asInt() + "/top-" + l.get("top_k").asInt()).distinct().collect(Collectors.joining(", "));
            out.printf(f, "experts", experts + " per MoE layer" + (j.get("fused_experts").asBoolean() ? " (fused 3-D tensors)" : ""));
            String per = j.get("per_layer").valueStream().map(l -> l.get("moe").asBoolean() ? String.valueOf(l.get("experts").asInt()) : "dense")
                    .collect(Collectors.joining(" "));
            out.printf(f, "experts by layer", per);
            j.get("per_layer").valueStream().filter(l -> l.path("shared_experts").asInt() > 0).findFirst()
                    .ifPresent(l -> out.printf(f, "shared experts", l.get("shared_experts").asInt() + " (ffn " + l.get("shared_ffn").asInt() + ")"));
            out.printf(f, "routing", j.get("routing").asText());
        }
        out.printf(Locale.ROOT, "%-18s %,d total, %,d active per token (%.1f%%)%n", "parameters", j.get("parameters").asLong(),
                j.get("active_parameters").asLong(), 100.0 * j.get("active_parameters").asLong() / j.get("parameters").asLong());
        out.printf(f, "bytes", Sizes.human(j.get("bytes").asLong()) + " in " + j.get("shards").size() + " shard(s)");
        j.get("bytes_by_kind").fields().forEachRemaining(e -> out.printf(Locale.ROOT, "  %-16s %12s  %,14d params%n",
                e.getKey().replace('_', ' '), Sizes.human(e.getValue().asLong()), j.get("parameters_by_kind").get(e.getKey()).asLong()));
    }
}
