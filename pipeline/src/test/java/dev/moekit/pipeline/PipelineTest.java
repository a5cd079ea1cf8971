package dev.moekit.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.pipeline.io.Outputs;
import dev.moekit.pipeline.recipe.Recipe;
import dev.moekit.pipeline.stage.Plan;
import dev.moekit.pipeline.stage.PlanInput;
import dev.moekit.pipeline.stage.SingleUnitStage;
import dev.moekit.pipeline.stage.StageContext;
import dev.moekit.pipeline.stages.ConvertStage;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.Methods;
import dev.moekit.toolkit.testing.TinyCheckpoints;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PipelineTest {
    @TempDir
    Path dir;

    private Path recipe(String yaml) throws Exception {
        Path p = dir.resolve("r.yaml");
        Files.writeString(p, yaml);
        return p;
    }

    /** convert that fails the first {@code failures} times a unit runs. */
    static class Flaky implements dev.moekit.pipeline.stage.StageType<ConvertStage.Parameters> {
        private final ConvertStage convert = new ConvertStage();
        int failures;
        int runs;

        Flaky(int failures) {
            this.failures = failures;
        }

        @Override
        public String name() {
            return "flaky";
        }

        @Override
        public String summary() {
            return "test stage";
        }

        @Override
        public String reference() {
            return "";
        }

        @Override
        public Class<ConvertStage.Parameters> parameters() {
            return ConvertStage.Parameters.class;
        }

        @Override
        public Calibration calibration() {
            return Calibration.NONE;
        }

        @Override
        public ConvertStage.Parameters bind(JsonNode params) {
            return convert.bind(params);
        }

        @Override
        public Plan plan(ConvertStage.Parameters p, PlanInput in, StageContext ctx) {
            Plan c = convert.plan(p, in, ctx);
            return new Plan(name(), c.output(), c.bytesIn(), false, c.units(), c.notes(), c.details());
        }

        @Override
        public JsonNode execute(ConvertStage.Parameters p, Plan plan, dev.moekit.pipeline.stage.WorkUnit unit,
                                dev.moekit.pipeline.stage.UnitContext ctx) throws Exception {
            runs++;
            if (failures-- > 0) {
                throw new IllegalStateException("interrupted");
            }
            return convert.execute(p, plan, unit, ctx);
        }

        @Override
        public JsonNode commit(ConvertStage.Parameters p, Plan plan, java.util.Map<String, UnitResult> units,
                               dev.moekit.pipeline.stage.CommitContext ctx) throws Exception {
            return convert.commit(p, plan, units, ctx);
        }
    }

    private static Pipeline pipeline(List<String> log, dev.moekit.toolkit.method.Method<?>... stages) {
        return new Pipeline(Methods.of(List.of(stages)), log::add);
    }

    @Test
    void runsStagesInOrderAndWritesProvenance() throws Exception {
        Path tiny = TinyCheckpoints.write(dir.resolve("tiny"), "qwen2_moe");
        Path out = dir.resolve("out");
        Recipe r = Recipe.read(recipe("model: tiny\noutput: out\nstages:\n  - convert: {dtype: fp32}\n  - convert: {dtype: fp16, max_shard_bytes: 4096}\n"));
        List<String> log = new ArrayList<>();
        Pipeline.Result res = pipeline(log, new ConvertStage()).run(r);
        try (Checkpoint c = Checkpoint.open(out)) {
            assertTrue(c.names().stream().allMatch(n -> c.info(n).dtype() == DType.F16));
            assertTrue(c.shards().size() > 1);
        }
        JsonNode prov = Json.STRICT.readTree(out.resolve(Outputs.PROVENANCE).toFile());
        assertEquals(2, prov.get("stages").size(), "two stages of one kind both recorded");
        assertEquals(64, prov.get("input").get("fingerprint").asText().length());
        assertEquals(tiny.toRealPath().toString(), prov.get("input").get("path").asText(), "relative paths resolve against the recipe's folder");
        assertEquals(out.toString(), prov.get("output").asText());
        assertEquals("cpu", prov.get("device").asText());
        assertEquals(Version.VERSION, prov.get("moekit_version").asText());
        assertEquals(res.provenance().get("input"), prov.get("input"));
        assertFalse(Files.exists(dir.resolve("out.work")));
        assertFalse(Files.exists(dir.resolve("out.lock")));
        assertEquals(4, log.stream().filter(s -> s.startsWith("stage")).count(), log.toString());
        try (var files = Files.list(out)) {
            assertTrue(files.noneMatch(f -> f.getFileName().toString().equals(Pipeline.MARKER)));
        }
    }

    @Test
    void dryRunPlansEveryStageAndWritesNothing() throws Exception {
        TinyCheckpoints.write(dir.resolve("tiny"), "mixtral");
        Recipe r = Recipe.read(recipe("model: tiny\noutput: out\nstages:\n  - convert: {dtype: fp32}\n  - convert: {dtype: fp16}\n"));
        Prepared p = pipeline(new ArrayList<>(), new ConvertStage()).prepare(r);
        assertEquals(2, p.plans().size());
        long f32 = p.plans().get(0).bytesOut();
        assertEquals(f32 / 2, p.plans().get(1).bytesOut(), "the second stage is planned on the first one's planned output");
        assertTrue(p.describe().contains("stage 2/2 convert"), p.describe());
        assertEquals(2, p.toJson().get("stages").size());
        try (var files = Files.list(dir)) {
            assertEquals(List.of("r.yaml", "tiny"), files.map(f -> f.getFileName().toString()).sorted().toList());
        }
    }

    @Test
    void resumesAfterAFailedStageReusingFinishedOnes() throws Exception {
        TinyCheckpoints.write(dir.resolve("tiny"), "mixtral");
        Path out = dir.resolve("out");
        Recipe r = Recipe.read(recipe("model: tiny\noutput: out\nstages:\n  - convert: {dtype: fp32}\n  - flaky: {dtype: fp16}\n"));
        Flaky flaky = new Flaky(1);
        assertThrows(IllegalStateException.class, () -> pipeline(new ArrayList<>(), new ConvertStage(), flaky).run(r));
        assertFalse(Files.exists(out), "no output after a failure");
        assertTrue(Files.exists(dir.resolve("out.work/01-convert/" + Pipeline.MARKER)));
        List<String> log = new ArrayList<>();
        pipeline(log, new ConvertStage(), flaky).run(r);
        assertTrue(log.stream().anyMatch(s -> s.contains("stage 1/2 convert: reusing")), log.toString());
        assertTrue(flaky.runs >= 2, "the failed unit ran again");
        try (Checkpoint c = Checkpoint.open(out)) {
            assertTrue(c.names().stream().allMatch(n -> c.info(n).dtype() == DType.F16));
        }
        Recipe changed = Recipe.read(recipe("model: tiny\noutput: out\nreplace: true\nstages:\n  - convert: {dtype: bf16}\n  - flaky: {dtype: fp16}\n"));
        flaky.failures = 1;
        assertThrows(IllegalStateException.class, () -> pipeline(new ArrayList<>(), new ConvertStage(), flaky).run(changed));
        assertTrue(Files.exists(out.resolve("config.json")), "a failed replace leaves the previous output in place");
    }

    @Test
    void resumeDoesNotReuseAStageWhenTheInputWeightsChangedInPlace() throws Exception {
        Path tiny = TinyCheckpoints.write(dir.resolve("tiny"), "mixtral");
        Recipe r = Recipe.read(recipe("model: tiny\noutput: out\nstages:\n  - convert: {dtype: fp32}\n  - flaky: {dtype: fp32}\n"));
        Flaky flaky = new Flaky(1);
        assertThrows(IllegalStateException.class, () -> pipeline(new ArrayList<>(), new ConvertStage(), flaky).run(r));
        // same path, same config, other weights
        Path shard;
        long offset;
        String name;
        try (Checkpoint c = Checkpoint.open(tiny)) {
            name = c.names().getFirst();
            shard = c.shard(name).path();
            offset = c.shard(name).dataStart() + c.info(name).begin();
        }
        Thread.sleep(20);
        try (RandomAccessFile f = new RandomAccessFile(shard.toFile(), "rw")) {
            f.seek(offset);
            f.write(new byte[] {0x11, 0x3f});
        }
        List<String> log = new ArrayList<>();
        pipeline(log, new ConvertStage(), flaky).run(r);
        assertFalse(log.stream().anyMatch(s -> s.contains("reusing")), log.toString());
        try (Checkpoint in = Checkpoint.open(tiny); Checkpoint out = Checkpoint.open(dir.resolve("out"))) {
            assertEquals(in.floats(name)[0], out.floats(name)[0], "the output holds the new weights");
        }
    }

    @Test
    void rejectsUnknownKeysAndBadParametersBeforeAnyWork() throws Exception {
        TinyCheckpoints.write(dir.resolve("tiny"), "mixtral");
        Pipeline pl = pipeline(new ArrayList<>(), new ConvertStage());
        IllegalArgumentException top = assertThrows(IllegalArgumentException.class, () -> Recipe.read(recipe("model: tiny\noutput: x\nstagez: []\n")));
        assertTrue(top.getMessage().contains("unknown key 'stagez' (did you mean 'stages'?)"), top.getMessage());
        Recipe r = Recipe.read(recipe("model: tiny\noutput: o\nstages:\n  - convert: {dtyp: fp32}\n"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> pl.run(r));
        assertTrue(e.getMessage().contains("'dtyp' (did you mean 'dtype'?)"), e.getMessage());
        Recipe bad = Recipe.read(recipe("model: tiny\noutput: o\nstages:\n  - convert: {dtype: int3}\n"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> pl.run(bad)).getMessage().contains("int3"));
        IllegalArgumentException stage = assertThrows(IllegalArgumentException.class,
                () -> pl.run(Recipe.read(recipe("model: tiny\noutput: o\nstages: [convrt]\n"))));
        assertTrue(stage.getMessage().contains("unknown stage 'convrt' (did you mean 'convert'?)"), stage.getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Recipe.read(recipe("model: tiny\noutput: x\ncalibration: {windowz: 3}\nstages: [convert]\n")))
                .getMessage().contains("windowz"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Recipe.read(recipe("model: tiny\noutput: x\nseed: abc\nstages: [convert]\n")))
                .getMessage().contains("'seed' must be an integer"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Recipe.read(recipe("model: tiny\noutput: x\ndevice: tpu\nstages: [convert]\n")))
                .getMessage().contains("tpu"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> Recipe.read(recipe("model: tiny\noutput: x\nstages: [convert]\neval: {windows: 0}\n"))).getMessage().contains("eval.windows"));
        assertFalse(Files.exists(dir.resolve("o")));
        assertFalse(Files.exists(dir.resolve("o.work")));
    }

    @Test
    void outputReachedThroughASymlinkIntoTheInputIsRefused() throws Exception {
        Path tiny = TinyCheckpoints.write(dir.resolve("tiny"), "mixtral");
        Files.createSymbolicLink(dir.resolve("link"), tiny);
        Recipe r = Recipe.read(recipe("model: tiny\noutput: link/sub\nstages: [convert]\n"));
        CheckpointException e = assertThrows(CheckpointException.class, () -> pipeline(new ArrayList<>(), new ConvertStage()).run(r));
        assertTrue(e.getMessage().contains("inside the input"), e.getMessage());
        assertFalse(Files.exists(tiny.resolve("sub")));
        Files.createSymbolicLink(dir.resolve("tinylink"), tiny);
        Recipe r2 = Recipe.read(recipe("model: tinylink\noutput: tiny/x\nstages: [convert]\n"));
        assertThrows(CheckpointException.class, () -> pipeline(new ArrayList<>(), new ConvertStage()).run(r2));
        assertFalse(Files.exists(tiny.resolve("x")));
    }

    @Test
    void replaceOnlyReplacesCheckpointsOrMoekitOutputs() throws Exception {
        TinyCheckpoints.write(dir.resolve("tiny"), "mixtral");
        Files.writeString(dir.resolve("plain.txt"), "keep me");
        Files.createDirectories(dir.resolve("notes"));
        Files.writeString(dir.resolve("notes/a.txt"), "keep me");
        Pipeline pl = pipeline(new ArrayList<>(), new ConvertStage());
        for (String target : List.of("plain.txt", "notes", "r.yaml")) {
            Recipe r = Recipe.read(recipe("model: tiny\noutput: " + target + "\nreplace: true\nstages: [convert]\n"));
            assertThrows(CheckpointException.class, () -> pl.run(r), target);
        }
        assertEquals("keep me", Files.readString(dir.resolve("plain.txt")));
        assertEquals("keep me", Files.readString(dir.resolve("notes/a.txt")));
        assertTrue(Files.exists(dir.resolve("r.yaml")));
        Recipe ok = Recipe.read(recipe("model: tiny\noutput: out\nreplace: true\nstages: [convert]\n"));
        pl.run(ok);
        String first = Files.readString(dir.resolve("out").resolve(Outputs.PROVENANCE));
        pl.run(ok);
        assertNotEquals(first, Files.readString(dir.resolve("out").resolve(Outputs.PROVENANCE)), "a moekit output is replaced");
    }

    @Test
    void aSecondWriterOfTheSameOutputIsRefusedWhileTheFirstHoldsTheLock() throws Exception {
        TinyCheckpoints.write(dir.resolve("tiny"), "mixtral");
        Path out = dir.resolve("out");
        try (var lock = dev.moekit.pipeline.io.OutputLock.acquire(out)) {
            Recipe r = Recipe.read(recipe("model: tiny\noutput: out\nstages: [convert]\n"));
            CheckpointException e = assertThrows(CheckpointException.class, () -> pipeline(new ArrayList<>(), new ConvertStage()).run(r));
            assertTrue(e.getMessage().contains("another moekit run is writing this output") && e.getMessage().contains("pid"), e.getMessage());
            assertFalse(Files.exists(out));
        }
        // released: free again
        pipeline(new ArrayList<>(), new ConvertStage()).run(Recipe.read(recipe("model: tiny\noutput: out\nstages: [convert]\n")));
        assertTrue(Files.exists(out.resolve("config.json")));
    }

    @Test
    void anAsideLeftByAKilledReplaceIsRestoredOrRemoved() throws Exception {
        Path tiny = TinyCheckpoints.write(dir.resolve("tiny"), "mixtral");
        Path out = dir.resolve("out");
        // a run killed between the two renames: the old output sits aside, the final name is empty
        Path aside = dir.resolve("out.replaced-999999999");
        dev.moekit.toolkit.transform.Convert.run(tiny, aside, new dev.moekit.toolkit.transform.Convert.Options(null,
                dev.moekit.toolkit.io.CheckpointWriter.Options.defaults(), 1));
        List<String> done = Outputs.recover(out);
        assertEquals(1, done.size(), done.toString());
        assertTrue(Files.exists(out.resolve("config.json")));
        assertFalse(Files.exists(aside));
        Files.createDirectories(aside);
        Outputs.recover(out);
        assertFalse(Files.exists(aside), "an aside of a dead run is removed when the output is in place");
    }

    @Test
    void aNaNWeightInTheInputFailsNamingTheTensorAndWritesNothing() throws Exception {
        Path tiny = TinyCheckpoints.write(dir.resolve("tiny"), "mixtral");
        String victim;
        long offset;
        Path shard;
        try (Checkpoint c = Checkpoint.open(tiny)) {
            victim = c.names().get(c.names().size() / 2);
            shard = c.shard(victim).path();
            offset = c.shard(victim).dataStart() + c.info(victim).begin();
        }
        try (RandomAccessFile f = new RandomAccessFile(shard.toFile(), "rw")) {
            f.seek(offset);
            f.write(new byte[] {(byte) 0xc0, 0x7f}); // bf16 NaN
        }
        Recipe r = Recipe.read(recipe("model: tiny\noutput: out\nstages: [convert]\n"));
        CheckpointException e = assertThrows(CheckpointException.class, () -> pipeline(new ArrayList<>(), new ConvertStage()).run(r));
        assertTrue(e.getMessage().contains(victim) && e.getMessage().contains("NaN"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("out")));
        assertFalse(Files.exists(dir.resolve("out.work")));
    }

    @Test
    void anOutputThatAppearsWhileRunningIsNotSilentlyReplaced() throws Exception {
        TinyCheckpoints.write(dir.resolve("tiny"), "mixtral");
        Path out = dir.resolve("out");
        ConvertStage convert = new ConvertStage();
        Flaky racer = new Flaky(0) {
            @Override
            public JsonNode commit(ConvertStage.Parameters p, Plan plan, java.util.Map<String, UnitResult> units,
                                   dev.moekit.pipeline.stage.CommitContext ctx) throws Exception {
                JsonNode r = super.commit(p, plan, units, ctx);
                // another writer (not moekit) finishes first
                dev.moekit.toolkit.transform.Convert.run(ctx.input(), out, new dev.moekit.toolkit.transform.Convert.Options(null,
                        dev.moekit.toolkit.io.CheckpointWriter.Options.defaults(), 1));
                return r;
            }
        };
        Recipe r = Recipe.read(recipe("model: tiny\noutput: out\nstages: [flaky]\n"));
        CheckpointException e = assertThrows(CheckpointException.class, () -> pipeline(new ArrayList<>(), convert, racer).run(r));
        assertTrue(e.getMessage().contains("already exists"), e.getMessage());
        assertFalse(Files.exists(out.resolve(Outputs.PROVENANCE)), "the other writer's output is left as it was");
    }

    @Test
    void convertSplitIntoLayerUnitsWritesTheSameBytesAsOneConversion() throws Exception {
        Path tiny = TinyCheckpoints.write(dir.resolve("tiny"), "qwen2_moe");
        Path direct = dir.resolve("direct");
        dev.moekit.toolkit.transform.Convert.run(tiny, direct, new dev.moekit.toolkit.transform.Convert.Options(DType.F16,
                dev.moekit.toolkit.io.CheckpointWriter.Options.defaults().withMaxShardSize(20_000), 2));
        Recipe r = Recipe.read(recipe("model: tiny\noutput: staged\nstages:\n  - convert: {dtype: fp16, max_shard_bytes: 20000, layers_per_unit: 1}\n"));
        Prepared p = pipeline(new ArrayList<>(), new ConvertStage()).prepare(r);
        assertTrue(p.plans().getFirst().units().size() > 2, "one unit per layer and one for the rest");
        pipeline(new ArrayList<>(), new ConvertStage()).run(p);
        try (var files = Files.list(direct)) {
            for (Path f : files.filter(f -> f.toString().endsWith(".safetensors") || f.getFileName().toString().endsWith("index.json")).toList()) {
                assertEquals(dev.moekit.pipeline.io.Fingerprint.content(f), dev.moekit.pipeline.io.Fingerprint.content(dir.resolve("staged").resolve(f.getFileName())), f.getFileName().toString());
            }
        }
    }
}
