package dev.moekit.distill;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.eval.runtime.ParamGroup;
import dev.moekit.eval.runtime.Trainable;
import dev.moekit.pipeline.Events;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.testing.TinyCheckpoints;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A run killed after a training-state checkpoint and started again ends with the same weights, bit for bit, as one
 * that was never interrupted: masters, Adam moments, step, data position (shuffled epochs), teacher cache and the loss
 * log all come back. Every loss term, gradient accumulation and clipping are on. Deterministic settings: one
 * intra-op thread, so no reduction depends on how threads split it.
 */
class ResumeTest {
    /** Thrown by the progress callback to stop a run the way a kill would (no final state, no output). */
    static final class Killed extends RuntimeException {
        Killed() {
            super("killed");
        }
    }

    private static TrainSpec spec(Path student, Path teacher, Path state, Path out) {
        int[][] windows = new int[6][16];
        for (int w = 0; w < windows.length; w++) {
            for (int t = 0; t < 16; t++) {
                windows[w][t] = (11 * t * t + 5 * w + 3) % 64;
            }
        }
        return TrainSpec.builder(student, new TrainData.Windows(windows)).teacher(teacher).output(out)
                .train(EnumSet.of(ParamGroup.ALL)).steps(8).batch(2).accumulation(2)
                .losses(Losses.slimMoe().withCe(0.5).withRouter(0.01, 0.001)).optim(Optim.of(5e-3).withWarmup(2).withDecay(0.1, 0.5))
                .teacherCache(TeacherCache.CACHE).state(state, 3).seed(7).build();
    }

    @Test
    void aRunKilledAfterACheckpointResumesToTheSameWeightsBitwise(@TempDir Path tmp) throws Exception {
        try (AutoCloseable one = Fixtures.oneThread()) {
            killAndResume(tmp);
        }
    }

    private static void killAndResume(Path tmp) throws Exception {
        Path student = TinyCheckpoints.builder("mixtral").std(0.2).seed(1).write(tmp.resolve("student"));
        Path teacher = TinyCheckpoints.builder("mixtral").std(0.2).seed(2).write(tmp.resolve("teacher"));

        TrainSpec straight = spec(student, teacher, tmp.resolve("state-a"), tmp.resolve("out-a"));
        List<float[]> expected;
        TrainReport a;
        try (Trainer t = Trainer.open(straight, Events.NONE)) {
            a = t.run();
            expected = t.parameters().params().stream().map(Trainable.Param::floats).toList();
            t.write(straight.output());
        }

        TrainSpec interrupted = spec(student, teacher, tmp.resolve("state-b"), tmp.resolve("out-b"));
        Events killAt5 = new Events() {
            @Override
            public void info(String message) {}

            @Override
            public void update(String task, int done, int total) {
                if (done == 5) {
                    throw new Killed();
                }
            }
        };
        assertThrows(Killed.class, () -> Trainer.train(interrupted, killAt5));
        assertTrue(Files.isDirectory(tmp.resolve("state-b/step-00000003")), "the step-3 state survived the kill");
        assertTrue(Files.isRegularFile(tmp.resolve("state-b/teacher-topk.bin")));
        assertTrue(Files.notExists(interrupted.output()));

        TrainReport b;
        try (Trainer t = Trainer.open(interrupted, Events.NONE)) {
            b = t.run();
            List<Trainable.Param> got = t.parameters().params();
            for (int i = 0; i < got.size(); i++) {
                assertArrayEquals(expected.get(i), got.get(i).floats(), got.get(i).key());
            }
            t.write(interrupted.output());
        }
        assertEquals(3, b.resumedFrom());
        assertEquals(8, b.log().size());
        for (int s = 0; s < 8; s++) {
            assertEquals(a.log().get(s).loss(), b.log().get(s).loss(), "loss of step " + (s + 1));
            assertEquals(a.log().get(s).gradNorm(), b.log().get(s).gradNorm(), "gradient norm of step " + (s + 1));
        }
        assertTrue(a.lastLoss() < a.firstLoss(), a.summary());
        try (Stream<Path> files = Files.list(straight.output())) {
            for (Path f : files.toList()) {
                assertArrayEquals(Fixtures.bytes(f), Fixtures.bytes(interrupted.output().resolve(f.getFileName())), f.getFileName().toString());
            }
        }
    }

    @Test
    void aStateOfAnotherRunIsRefusedNamingTheFolder(@TempDir Path tmp) {
        Path student = TinyCheckpoints.builder("mixtral").std(0.2).seed(1).write(tmp.resolve("student"));
        Path teacher = TinyCheckpoints.builder("mixtral").std(0.2).seed(2).write(tmp.resolve("teacher"));
        TrainSpec s = spec(student, teacher, tmp.resolve("state"), null);
        Trainer.train(new TrainSpec(s.student(), s.teacher(), null, s.data(), s.train(), 5, s.batch(), s.accumulation(), s.losses(),
                s.optim(), s.device(), s.precision(), s.teacherCache(), s.stateDir(), 3, null, s.seed(), s.added(), s.extension()), Events.NONE);
        CheckpointException e = assertThrows(CheckpointException.class, () -> Trainer.train(s, Events.NONE));
        assertTrue(e.getMessage().contains("step-00000003") && e.getMessage().contains("another run"), e.getMessage());
    }
}
