package dev.moekit.toolkit.transform;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.RecordStage;
import dev.moekit.toolkit.method.StageContext;
import java.nio.file.Path;

/** Recipe stage {@code convert}: change dtype and/or shard size (see {@link Convert}). */
public final class ConvertStage extends RecordStage<ConvertStage.Parameters> {
    /**
     * @param dtype          target floating dtype: bf16, fp16, fp32, or null to keep
     * @param maxShardBytes  largest output shard in bytes (default 5e9)
     */
    public record Parameters(String dtype, Long maxShardBytes) {
        public Parameters {
            if (dtype != null) {
                DType.parseUser(dtype);
            }
            maxShardBytes = maxShardBytes == null ? CheckpointWriter.DEFAULT_MAX_SHARD : maxShardBytes;
        }
    }

    public ConvertStage() {
        super("convert", "change the floating dtype and/or the shard size", Parameters.class);
    }

    @Override
    protected JsonNode apply(Parameters p, Path input, Path output, StageContext context) {
        DType dt = p.dtype() == null ? null : DType.parseUser(p.dtype());
        Convert.Result r = Convert.run(input, output, new Convert.Options(dt,
                CheckpointWriter.Options.defaults().withMaxShardSize(p.maxShardBytes()), Runtime.getRuntime().availableProcessors()));
        var rep = Json.PRETTY.createObjectNode();
        rep.put("tensors", r.tensors());
        rep.put("converted", r.converted());
        rep.put("bytes_out", r.bytesOut());
        return rep;
    }
}
