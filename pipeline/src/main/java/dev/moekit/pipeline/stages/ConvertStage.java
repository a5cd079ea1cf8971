package dev.moekit.pipeline.stages;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.pipeline.stage.Layout;
import dev.moekit.pipeline.stage.Plan;
import dev.moekit.pipeline.stage.PlanInput;
import dev.moekit.pipeline.stage.SingleUnitStage;
import dev.moekit.pipeline.stage.StageContext;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.method.Doc;
import dev.moekit.toolkit.model.TensorFacts;
import dev.moekit.toolkit.transform.Convert;
import java.nio.file.Path;
import java.util.List;

/** Recipe stage {@code convert}: change the floating dtype and/or the shard size (see {@link Convert}). */
public final class ConvertStage extends SingleUnitStage<ConvertStage.Parameters> {
    /**
     * @param dtype         target floating dtype: bf16, fp16, fp32, or null to keep
     * @param maxShardBytes largest output shard in bytes (default 5e9)
     */
    public record Parameters(@Doc("target floating dtype: bf16, fp16 or fp32 (default: keep)") String dtype,
                             @Doc("largest output shard in bytes") Long maxShardBytes,
                             @Doc("conversion threads (default: available cores; does not change the output)") Integer threads) {
        public Parameters {
            if (dtype != null) {
                DType.parseUser(dtype);
            }
            maxShardBytes = maxShardBytes == null ? CheckpointWriter.DEFAULT_MAX_SHARD : maxShardBytes;
            if (threads != null && (threads < 1 || threads > 4096)) {
                throw new IllegalArgumentException("threads must be in 1..4096, got " + threads);
            }
            if (maxShardBytes < 1) {
                throw new IllegalArgumentException("max_shard_bytes must be positive, got " + maxShardBytes);
            }
        }
    }

    public ConvertStage() {
        super("convert", "change the floating dtype and/or the shard size", "", Parameters.class, Calibration.NONE);
    }

    @Override
    protected Planned planOutput(Parameters p, PlanInput in, StageContext ctx) {
        Layout l = in.layout();
        if (p.dtype() == null) {
            return new Planned(l, false, List.of(), Json.PRETTY.createObjectNode());
        }
        DType dt = DType.parseUser(p.dtype());
        List<TensorSpec> ts = l.tensors().stream().map(t -> t.dtype().isFloating() ? new TensorSpec(t.name(), dt, t.shape()) : t).toList();
        var cfg = l.config().deepCopy();
        Convert.setDtype(cfg, dt);
        Layout out = new Layout(cfg, ts, new TensorFacts(l.facts().fused(), l.facts().present(), dt), l.exact());
        return new Planned(out, false, List.of(), Json.PRETTY.createObjectNode().put("dtype", dt.toString()));
    }

    @Override
    protected JsonNode run(Parameters p, Plan plan, Path input, List<Path> extra, Path output, StageContext context) {
        DType dt = p.dtype() == null ? null : DType.parseUser(p.dtype());
        Convert.Result r = Convert.run(input, output, new Convert.Options(dt,
                CheckpointWriter.Options.defaults().withMaxShardSize(p.maxShardBytes()), p.threads() == null ? Runtime.getRuntime().availableProcessors() : p.threads()));
        var rep = Json.PRETTY.createObjectNode();
        rep.put("tensors", r.tensors());
        rep.put("converted", r.converted());
        rep.put("bytes_out", r.bytesOut());
        rep.put("summary", String.format(java.util.Locale.ROOT, "%d tensors (%d converted), %.1f MB in %d shard(s)", r.tensors(), r.converted(),
                r.bytesOut() / 1e6, r.shards().size()));
        return rep;
    }
}
