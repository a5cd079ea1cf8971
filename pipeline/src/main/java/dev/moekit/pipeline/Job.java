package dev.moekit.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.eval.EvalResult;
import dev.moekit.pipeline.io.DataFiles;
import dev.moekit.pipeline.io.Fingerprint;
import dev.moekit.pipeline.io.Outputs;
import dev.moekit.pipeline.recipe.Recipe;
import dev.moekit.pipeline.stage.BoundStage;
import dev.moekit.pipeline.stage.Layout;
import dev.moekit.pipeline.stage.Plan;
import dev.moekit.pipeline.stage.PlanInput;
import dev.moekit.pipeline.stage.StageContext;
import dev.moekit.pipeline.stage.StageType;
import dev.moekit.pipeline.stage.UnitContext;
import dev.moekit.pipeline.stage.WorkUnit;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.FileTrees;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.CalibrationSettings;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A run's state on disk, in {@code <output>.work/}: what every process working on the same recipe shares, so that
 * one process ({@link Pipeline#run}) or many (batch workers on one machine or on Slurm) produce the same bytes.
 *
 * <pre>
 * &lt;out&gt;.work/job.json                 the recipe (resolved), stage keys, moekit version
 * &lt;out&gt;.work/NN-&lt;stage&gt;/units/&lt;id&gt;/   a finished unit (unit.json written last inside, then the folder renamed in)
 * &lt;out&gt;.work/NN-&lt;stage&gt;/out/          the stage's committed checkpoint
 * &lt;out&gt;.work/NN-&lt;stage&gt;/moekit_stage.json   the stage marker (key, plan, report), written last
 * </pre>
 * A unit runs in a temporary folder named by host and pid and is renamed into place when complete, so two workers
 * never write the same file and a unit finished once is never redone. Stage keys are computed up front from the input
 * fingerprint, each stage's resolved parameters, seed, device, calibration data hashes, further inputs and the moekit
 * version (see {@link Pipeline}); a folder of another key is removed before the stage runs.
 */
public final class Job {
    static final String JOB = "job.json";
    static final String UNIT = "unit.json";

    private final Pipeline pipeline;
    private final Prepared prepared;
    private final Path dir;
    private final List<String> keys;
    private final String inputPrint;
    private final StageContext ctx;
    private final java.util.Set<Integer> reused = new java.util.HashSet<>();

    private Job(Pipeline pipeline, Prepared prepared, Path dir, List<String> keys, String inputPrint, StageContext ctx) {
        this.pipeline = pipeline;
        this.prepared = prepared;
        this.dir = dir;
        this.keys = keys;
        this.inputPrint = inputPrint;
        this.ctx = ctx;
    }

    /** The work folder of {@code output}. */
    public static Path folder(Path output) {
        return output.resolveSibling(output.getFileName() + ".work");
    }

    /** Opens (creating if needed) the job of a prepared recipe; refuses NaN/Inf in the input. */
    static Job open(Pipeline pipeline, Prepared p) throws IOException {
        Recipe r = p.recipe();
        Path dir = folder(p.output());
        String inputPrint = Fingerprint.of(p.input());
        String calKey = p.calibration().stream().map(DataFiles.DataFile::sha256).toList() + "|" + r.calibration().windows() + "|"
                + r.calibration().window() + "|" + r.calibration().allExperts();
        List<String> keys = new ArrayList<>();
        String key = Fingerprint.sha256(Version.VERSION + "|" + inputPrint);
        for (int i = 0; i < p.stages().size(); i++) {
            BoundStage<?> s = p.stages().get(i);
            StringBuilder k = new StringBuilder(key).append('|').append(s.name()).append('|').append(s.resolved()).append('|').append(r.seed())
                    .append('|').append(deviceKind(r.device())).append('|').append(s.needsCalibration() ? calKey : "-");
            for (Path e : p.extra().get(i)) {
                k.append('|').append(Fingerprint.of(e));
            }
            key = Fingerprint.sha256(k.toString());
            keys.add(key);
        }
        CalibrationSettings c = r.calibration();
        StageContext ctx = new StageContext(p.input(), new CalibrationSettings(DataFiles.paths(p.calibration()), c.windows(), c.window(), c.allExperts()),
                r.device(), r.seed(), pipeline.events());
        Job job = new Job(pipeline, p, dir, List.copyOf(keys), inputPrint, ctx);
        if (!Files.isDirectory(dir)) {
            pipeline.checkFinite(p.input(), "input");
            Files.createDirectories(dir);
        }
        ObjectNode j = Json.PRETTY.createObjectNode();
        j.put("moekit_version", Version.VERSION);
        j.set("recipe", r.toJson());
        keys.forEach(j.putArray("stage_keys")::add);
        atomicWrite(dir.resolve(JOB), Json.PRETTY.writeValueAsBytes(j));
        return job;
    }

    public Path dir() {
        return dir;
    }

    /** The stage keys, in order. */
    public List<String> keys() {
        return keys;
    }

    public Prepared prepared() {
        return prepared;
    }

    public int stages() {
        return prepared.stages().size();
    }

    /** The folder of stage {@code i} (0-based). */
    public Path stageDir(int i) {
        return dir.resolve(String.format("%02d-%s", i + 1, prepared.stages().get(i).name()));
    }

    /** The finished stage's marker, or null when stage {@code i} has not committed under its key. */
    public ObjectNode marker(int i) {
        Path d = stageDir(i);
        Path m = d.resolve(Pipeline.MARKER);
        if (!Files.isRegularFile(m, LinkOption.NOFOLLOW_LINKS) || !Files.isDirectory(d.resolve("out"))) {
            return null;
        }
        try {
            JsonNode n = Json.STRICT.readTree(m.toFile());
            return n.path("key").asText().equals(keys.get(i)) ? (ObjectNode) n : null;
        } catch (IOException e) {
            return null;
        }
    }

    /** Notes that this process took stage {@code i}'s result from an earlier run (recorded in the provenance). */
    void reused(int i) {
        reused.add(i);
    }

    public boolean stageDone(int i) {
        return marker(i) != null;
    }

    /** The checkpoint stage {@code i} reads: the model, or the previous stage's committed output. */
    public Path stageInput(int i) {
        if (i == 0) {
            return prepared.input();
        }
        if (!stageDone(i - 1)) {
            throw new IllegalStateException("stage " + i + " (" + prepared.stages().get(i - 1).name() + ") has not committed yet");
        }
        return stageDir(i - 1).resolve("out");
    }

    /**
     * Prepares stage {@code i} for its units: removes a folder left under another key (or by a stage that never
     * committed and whose units no longer match), then plans on the real input.
     */
    public Plan plan(int i) throws IOException {
        Path d = stageDir(i);
        Path keyFile = d.resolve("key");
        if (Files.exists(d) && !(Files.isRegularFile(keyFile) && Files.readString(keyFile).equals(keys.get(i)))) {
            FileTrees.delete(d);
        }
        Files.createDirectories(d.resolve("units"));
        atomicWrite(keyFile, keys.get(i).getBytes(java.nio.charset.StandardCharsets.UTF_8));
        Path in = stageInput(i);
        try (Checkpoint c = Checkpoint.open(in)) {
            return prepared.stages().get(i).plan(new PlanInput(Layout.of(c), in, prepared.extra().get(i)), ctx);
        }
    }

    /** Whether unit {@code id} of stage {@code i} has finished. */
    public boolean unitDone(int i, String id) {
        return Files.isRegularFile(stageDir(i).resolve("units").resolve(id).resolve(UNIT));
    }

    /**
     * Runs one unit unless it is done: in a temporary folder of this process, renamed into place when complete.
     *
     * @param running told the temporary folder while the unit runs (null after), for cleanup on signals
     */
    public void runUnit(int i, Plan plan, WorkUnit u, Consumer<Path> running) throws Exception {
        if (unitDone(i, u.id())) {
            return;
        }
        Path units = stageDir(i).resolve("units");
        Path tmp = units.resolve("." + u.id() + ".tmp-" + host() + "-" + ProcessHandle.current().pid());
        FileTrees.delete(tmp);
        Files.createDirectories(tmp);
        running.accept(tmp);
        long t0 = System.nanoTime();
        JsonNode report = prepared.stages().get(i).execute(plan, u, new UnitContext(stageInput(i), prepared.extra().get(i), tmp, ctx));
        ObjectNode m = Json.PRETTY.createObjectNode();
        m.put("unit", u.id());
        m.put("seconds", (System.nanoTime() - t0) / 1e9);
        m.put("host", host());
        m.put("pid", ProcessHandle.current().pid());
        m.set("report", report == null ? Json.PRETTY.createObjectNode() : report);
        Json.PRETTY.writeValue(tmp.resolve(UNIT).toFile(), m);
        try {
            Files.move(tmp, units.resolve(u.id()), StandardCopyOption.ATOMIC_MOVE);
        } catch (java.nio.file.FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException e) {
            FileTrees.delete(tmp); // another worker finished it first: same bytes, keep theirs
        }
        running.accept(null);
    }

    /** Commits stage {@code i} once every unit is done; writes the marker last. Returns the marker. */
    public ObjectNode commit(int i, Plan plan, double seconds) throws Exception {
        Path d = stageDir(i);
        Map<String, StageType.UnitResult> results = new LinkedHashMap<>();
        double unitSeconds = 0;
        ObjectNode perUnit = Json.PRETTY.createObjectNode();
        for (WorkUnit u : plan.units()) {
            Path ud = d.resolve("units").resolve(u.id());
            if (!unitDone(i, u.id())) {
                throw new IllegalStateException("stage " + (i + 1) + " (" + plan.stage() + "): unit " + u.id() + " has not finished");
            }
            JsonNode m = Json.STRICT.readTree(ud.resolve(UNIT).toFile());
            unitSeconds += m.path("seconds").asDouble();
            perUnit.put(u.id(), m.path("seconds").asDouble());
            results.put(u.id(), new StageType.UnitResult(ud, m.path("report")));
        }
        Path out = d.resolve("out");
        FileTrees.delete(out);
        long t0 = System.nanoTime();
        BoundStage<?> s = prepared.stages().get(i);
        JsonNode report = s.commit(plan, results, new dev.moekit.pipeline.stage.CommitContext(stageInput(i), prepared.extra().get(i), out, ctx));
        pipeline.checkFinite(out, "output of stage " + (i + 1) + " (" + s.name() + ")");
        FileTrees.delete(d.resolve("units"));
        ObjectNode m = Json.PRETTY.createObjectNode();
        m.put("stage", s.name());
        m.set("params", s.resolved());
        prepared.extra().get(i).forEach(e -> m.withArray("extra_inputs").add(e.toString()));
        m.put("key", keys.get(i));
        m.put("seconds", seconds > 0 ? seconds : unitSeconds + (System.nanoTime() - t0) / 1e9);
        m.put("units", plan.units().size());
        m.set("unit_seconds", perUnit);
        m.put("commit_seconds", (System.nanoTime() - t0) / 1e9);
        m.set("plan", plan.toJson());
        m.set("report", report == null ? Json.PRETTY.createObjectNode() : report);
        atomicWrite(d.resolve(Pipeline.MARKER), Json.PRETTY.writeValueAsBytes(m));
        return m;
    }

    /**
     * Evaluates the last stage's output, writes the provenance into it and moves it into place (call under the
     * output lock), then removes the work folder.
     */
    public Pipeline.Result finish() throws Exception {
        if (!Files.isDirectory(dir) && Files.isRegularFile(prepared.output().resolve(Outputs.PROVENANCE))) {
            throw new IllegalStateException(prepared.output() + ": this job has already finished");
        }
        Recipe r = prepared.recipe();
        ObjectNode prov = Json.PRETTY.createObjectNode();
        prov.put("moekit_version", Version.VERSION);
        prov.put("java", System.getProperty("java.version"));
        prov.set("recipe", r.toJson());
        ObjectNode in = prov.putObject("input");
        in.put("path", prepared.input().toString());
        in.put("fingerprint", inputPrint);
        prov.put("output", prepared.output().toString());
        prov.put("device", r.device());
        ObjectNode calJson = prov.putObject("calibration");
        calJson.set("files", DataFiles.toJson(prepared.calibration()));
        calJson.put("windows", r.calibration().windows());
        calJson.put("window", r.calibration().window());
        calJson.put("all_experts", r.calibration().allExperts());
        var reports = prov.putArray("stages");
        for (int i = 0; i < stages(); i++) {
            ObjectNode m = marker(i);
            if (m == null) {
                throw new IllegalStateException("stage " + (i + 1) + " has not committed");
            }
            if (reused.contains(i)) {
                m.put("reused", true);
            }
            reports.add(m);
        }
        Path current = stageDir(stages() - 1).resolve("out");
        EvalResult ev = null;
        if (r.eval() != null) {
            pipeline.events().info("evaluating the result" + (r.eval().reference() ? " against the input" : ""));
            ev = pipeline.evaluation().evaluate(current, r.eval().reference() ? prepared.input() : null, r.eval(), prepared.evalData(), r.device(),
                    pipeline.events()).withModel(prepared.output().toString());
            ObjectNode e = ev.toJson();
            e.set("data", DataFiles.toJson(prepared.evalData()));
            prov.set("eval", e);
        }
        prov.put("finished", Instant.now().toString());
        Path provFile = current.resolve(Outputs.PROVENANCE);
        Files.deleteIfExists(provFile);
        Json.PRETTY.writeValue(provFile.toFile(), prov);
        Outputs.publish(current, prepared.output(), r.replace());
        FileTrees.delete(dir);
        return new Pipeline.Result(prepared.output(), prov, ev);
    }

    /** The device as far as results go: every GPU computes the same, CPU and GPU differ in the last digits. */
    static String deviceKind(String device) {
        return device.startsWith("gpu") ? "gpu" : "cpu";
    }

    static String host() {
        try {
            return InetAddress.getLocalHost().getHostName().replaceAll("[^A-Za-z0-9._-]", "_");
        } catch (IOException e) {
            return "host";
        }
    }

    static void atomicWrite(Path file, byte[] bytes) throws IOException {
        Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp-" + ProcessHandle.current().pid());
        Files.write(tmp, bytes);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
