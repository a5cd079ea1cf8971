package dev.moekit.pipeline.stage;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.SafetensorsFile;
import dev.moekit.toolkit.io.TensorSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splitting a stage's output tensors into work units and assembling the units' results, for stages whose tensors can
 * be computed independently (per decoder layer, or per group of layers). Each unit writes its tensors into a
 * safetensors file in its folder ({@link #unitWriter}); {@link #assemble} then writes the output checkpoint with one
 * writer in the planned tensor order, copying every tensor's bytes from the unit that made it. The output therefore
 * has the same bytes whatever the number of workers and whichever ran which unit.
 */
public final class TensorUnits {
    private static final Pattern LAYER = Pattern.compile("(?:^|\\.)layers\\.(\\d+)\\.");
    private static final String PART = "part";
    /** The unit of the tensors outside decoder layers. */
    public static final String REST = "rest";

    private TensorUnits() {}

    /** The decoder layer a tensor belongs to, or -1 (embeddings, final norm, lm_head). */
    public static int layerOf(String tensor) {
        Matcher m = LAYER.matcher(tensor);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    /** Unit id of a group: {@code layers-00-03}, or {@code rest} for tensors outside decoder layers. */
    public static String unitOf(String tensor, int layersPerUnit) {
        int l = layerOf(tensor);
        if (l < 0) {
            return REST;
        }
        int first = l / layersPerUnit * layersPerUnit;
        return String.format("layers-%02d-%02d", first, first + layersPerUnit - 1);
    }

    /** The output tensors grouped by unit, units in first-appearance order. */
    public static Map<String, List<TensorSpec>> group(List<TensorSpec> tensors, int layersPerUnit) {
        if (layersPerUnit < 1) {
            throw new IllegalArgumentException("layers per unit must be at least 1, got " + layersPerUnit);
        }
        Map<String, List<TensorSpec>> g = new LinkedHashMap<>();
        for (TensorSpec t : tensors) {
            g.computeIfAbsent(unitOf(t.name(), layersPerUnit), k -> new ArrayList<>()).add(t);
        }
        return g;
    }

    /** Work units of {@code groups}; {@code cost} gives each unit's cost from its tensors. */
    public static List<WorkUnit> units(Map<String, List<TensorSpec>> groups, long bytesInPerByteOut) {
        List<WorkUnit> out = new ArrayList<>();
        for (var e : groups.entrySet()) {
            long bytes = e.getValue().stream().mapToLong(TensorSpec::byteSize).sum();
            out.add(new WorkUnit(e.getKey(), e.getValue().size() + " tensor(s)" + (e.getKey().equals(REST) ? " outside decoder layers" : ""),
                    bytes * bytesInPerByteOut, bytes, bytes, List.of(), null));
        }
        return out;
    }

    /** A writer for a unit's tensors inside its folder (commit with a null config). */
    public static CheckpointWriter unitWriter(Path unitDir, List<TensorSpec> tensors) {
        return CheckpointWriter.create(unitDir.resolve(PART), tensors, CheckpointWriter.Options.defaults().withMaxShardSize(Long.MAX_VALUE / 4));
    }

    /**
     * Writes the output checkpoint: {@code planned} tensors in order, each copied from the unit that wrote it; the
     * non-weight files of {@code input}; {@code config} last.
     */
    public static void assemble(List<TensorSpec> planned, Map<String, StageType.UnitResult> units, Path output, Checkpoint input, ObjectNode config,
                                CheckpointWriter.Options options) {
        assemble(planned, units, output, input, config, options, w -> { });
    }

    /** {@link #assemble}, with {@code files} writing the stage's own further files (after the input's, before the config). */
    public static void assemble(List<TensorSpec> planned, Map<String, StageType.UnitResult> units, Path output, Checkpoint input, ObjectNode config,
                                CheckpointWriter.Options options, java.util.function.Consumer<CheckpointWriter> files) {
        List<Checkpoint> parts = new ArrayList<>();
        try {
            Map<String, Checkpoint> byTensor = new HashMap<>();
            for (var u : units.entrySet()) {
                if (!java.nio.file.Files.isDirectory(u.getValue().dir().resolve(PART))) {
                    continue; // a unit that writes no tensors (statistics, decisions, hidden states)
                }
                Checkpoint c = Checkpoint.open(u.getValue().dir().resolve(PART));
                parts.add(c);
                for (String n : c.names()) {
                    if (byTensor.put(n, c) != null) {
                        throw new CheckpointException(output + ": tensor '" + n + "' was written by two units");
                    }
                }
            }
            try (CheckpointWriter w = CheckpointWriter.create(output, planned, options, input.dir())) {
                for (TensorSpec t : planned) {
                    Checkpoint c = byTensor.get(t.name());
                    if (c == null) {
                        throw new CheckpointException(output + ": no unit wrote tensor '" + t.name() + "'");
                    }
                    SafetensorsFile s = c.shard(t.name());
                    w.copy(t.name(), s, t.name());
                }
                w.copyOtherFiles(input);
                files.accept(w);
                w.commit(config);
            }
        } finally {
            parts.forEach(Checkpoint::close);
        }
    }
}
