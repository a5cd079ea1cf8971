package dev.moekit.distill;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.eval.runtime.Trainable;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.FileTrees;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.io.TensorSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * A training-state checkpoint: {@code <state>/step-NNNNNNNN/} with {@code model.safetensors} (fp32 masters
 * {@code p/<key>}, Adam moments {@code m/<key>} and {@code v/<key>}) and {@code state.json} (the run's key, step,
 * data position, loss scale, Adam's update count, the loss log, the number of parameters). Written through {@link CheckpointWriter},
 * so a folder exists only once complete; older ones are removed after a newer one is in place. The RNG needs no
 * state of its own: the data order follows from (seed, position) ({@link TrainWindows}).
 *
 * @param key       what the run was (student, teacher, data, parameters): a state is only resumed by the same run
 * @param step      optimizer steps done
 * @param position  windows consumed from the data stream
 * @param lossScale current loss scale
 * @param goodSteps steps since the loss scale last changed
 * @param adamSteps optimizer updates applied (steps skipped for fp16 overflow do not count)
 * @param tensors   trained tensors (a check on resume)
 * @param log       the loss log so far
 * @param tokens    training tokens so far
 * @param seconds   training time so far
 */
record TrainState(String key, int step, long position, double lossScale, int goodSteps, long adamSteps, int tensors,
                  List<StepLog> log, long tokens, double seconds) {
    private static final String JSON = "state.json";

    /** Writes the state of {@code params} and {@code opt} as step {@code step}'s folder and drops older ones. */
    void save(Path dir, Trainable params, AdamW opt) {
        List<Trainable.Param> ps = params.params();
        List<TensorSpec> plan = new ArrayList<>();
        for (String prefix : new String[] {"p/", "m/", "v/"}) {
            for (Trainable.Param p : ps) {
                plan.add(new TensorSpec(prefix + p.key(), DType.F32, p.master().getShape().getShape()));
            }
        }
        Path out = dir.resolve(String.format("step-%08d", step));
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot create the training-state folder", e);
        }
        List<float[]> m = opt.moments(false);
        List<float[]> v = opt.moments(true);
        try (CheckpointWriter w = CheckpointWriter.create(out, plan, CheckpointWriter.Options.defaults().withReplace(true))) {
            for (int i = 0; i < ps.size(); i++) {
                w.write("p/" + ps.get(i).key(), ps.get(i).floats());
                w.write("m/" + ps.get(i).key(), m.get(i));
                w.write("v/" + ps.get(i).key(), v.get(i));
            }
            w.writeJson(JSON, toJson());
            w.commit(null);
        }
        for (Path old : folders(dir)) {
            if (!old.equals(out)) {
                delete(old);
            }
        }
    }

    /**
     * The newest complete state in {@code dir} and its tensors loaded into {@code params} and {@code opt}, or null when
     * there is none. Fails naming the folder when the state belongs to another run.
     */
    static TrainState resume(Path dir, String key, Trainable params, AdamW opt) {
        List<Path> all = Files.isDirectory(dir) ? folders(dir) : List.of();
        if (all.isEmpty()) {
            return null;
        }
        Path last = all.getLast();
        TrainState s = read(last.resolve(JSON));
        if (!s.key().equals(key)) {
            throw new CheckpointException(last + ": training state of another run (key " + s.key() + ", this run " + key
                    + "); remove the state folder or use another one");
        }
        List<Trainable.Param> ps = params.params();
        if (s.tensors() != ps.size()) {
            throw new CheckpointException(last + ": training state holds " + s.tensors() + " tensors, this run trains " + ps.size());
        }
        try (Checkpoint c = Checkpoint.open(last)) {
            List<float[]> m = new ArrayList<>();
            List<float[]> v = new ArrayList<>();
            for (Trainable.Param p : ps) {
                for (String prefix : new String[] {"p/", "m/", "v/"}) {
                    if (!c.has(prefix + p.key())) {
                        throw new CheckpointException(last + ": tensor '" + prefix + p.key() + "' is missing from the training state");
                    }
                }
                p.load(c.floats("p/" + p.key()));
                m.add(c.floats("m/" + p.key()));
                v.add(c.floats("v/" + p.key()));
            }
            opt.restore(m, v, s.adamSteps());
        }
        return s;
    }

    /** Removes the step folders and the teacher cache of a finished run (the folder itself stays). */
    static void clear(Path dir) {
        if (!Files.isDirectory(dir)) {
            return;
        }
        for (Path p : folders(dir)) {
            delete(p);
        }
        try {
            Files.deleteIfExists(dir.resolve("teacher-topk.bin"));
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot remove the teacher cache", e);
        }
    }

    private ObjectNode toJson() {
        ObjectNode o = Json.PRETTY.createObjectNode();
        o.put("key", key);
        o.put("step", step);
        o.put("position", position);
        o.put("loss_scale", lossScale);
        o.put("good_steps", goodSteps);
        o.put("tokens", tokens);
        o.put("seconds", seconds);
        o.put("adam_steps", adamSteps);
        o.put("tensors", tensors);
        ArrayNode rows = o.putArray("log");
        for (StepLog r : log) {
            ArrayNode row = rows.addArray();
            for (double d : r.values()) {
                if (Double.isNaN(d)) {
                    row.addNull();
                } else {
                    row.add(d);
                }
            }
        }
        return o;
    }

    private static TrainState read(Path file) {
        JsonNode j;
        try {
            j = Json.STRICT.readTree(file.toFile());
        } catch (IOException e) {
            throw new CheckpointException(file + ": unreadable training state (" + e.getMessage() + ")");
        }
        List<StepLog> log = new ArrayList<>();
        for (JsonNode row : j.path("log")) {
            double[] v = new double[row.size()];
            for (int i = 0; i < v.length; i++) {
                v[i] = row.get(i).isNull() ? Double.NaN : row.get(i).asDouble();
            }
            log.add(StepLog.of(v));
        }
        return new TrainState(j.path("key").asText(), j.path("step").asInt(), j.path("position").asLong(),
                j.path("loss_scale").asDouble(), j.path("good_steps").asInt(), j.path("adam_steps").asLong(), j.path("tensors").asInt(), log, j.path("tokens").asLong(),
                j.path("seconds").asDouble());
    }

    /** Complete step folders, oldest first. */
    private static List<Path> folders(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().matches("step-\\d{8}") && Files.isRegularFile(p.resolve(JSON)))
                    .sorted(Comparator.comparing(p -> p.getFileName().toString())).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot list the training-state folder", e);
        }
    }

    private static void delete(Path p) {
        try {
            FileTrees.delete(p);
        } catch (IOException e) {
            throw new UncheckedIOException(p + ": cannot remove an old training state", e);
        }
    }
}
