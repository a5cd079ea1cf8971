package dev.moekit.distill;

import ai.djl.Device;
import dev.moekit.eval.runtime.ForwardExtension;
import dev.moekit.eval.runtime.ParamGroup;
import dev.moekit.eval.runtime.Precision;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * One training run: the student trains the parameters of {@code train} on {@code data} for {@code steps} optimizer
 * steps of {@code batch * accumulation} windows, towards the teacher's top-k distribution and/or the text.
 * Build it with {@link #builder}.
 *
 * @param student         student checkpoint folder (its tokenizer cuts the text)
 * @param teacher         teacher checkpoint folder (same vocabulary), or null when {@code losses.kd() == 0}
 * @param output          where the trained student is written (its own layout and dtype), or null to keep it in memory
 * @param data            training tokens
 * @param train           parameter groups that train
 * @param steps           optimizer steps
 * @param batch           windows per forward (micro-batch)
 * @param accumulation    micro-batches per optimizer step (gradients accumulate; the loss is their mean)
 * @param losses          objective
 * @param optim           optimizer and schedule
 * @param device          cpu or gpu(n)
 * @param precision       compute dtype: fp32, or fp16 with fp32 masters and dynamic loss scaling (GPU)
 * @param teacherCache    how teacher top-k logits are obtained
 * @param stateDir        training-state folder (resume), or null for none
 * @param checkpointEvery steps between training-state checkpoints (needs {@code stateDir}; 0: none)
 * @param reportDir       folder for {@code loss.csv} and {@code loss.png}, or null
 * @param seed            data-order seed
 * @param added           parameters a method adds (trained with the {@code new} group)
 * @param extension       the method's forward computation using them
 */
public record TrainSpec(Path student, Path teacher, Path output, TrainData data, Set<ParamGroup> train, int steps,
                        int batch, int accumulation, Losses losses, Optim optim, Device device, Precision precision,
                        TeacherCache teacherCache, Path stateDir, int checkpointEvery, Path reportDir, long seed,
                        List<AddedParameter> added, ForwardExtension extension) {
    public TrainSpec {
        if (student == null || data == null || losses == null || optim == null || device == null) {
            throw new IllegalArgumentException("a training run needs a student, data, losses, an optimizer and a device");
        }
        train = train == null || train.isEmpty() ? EnumSet.of(ParamGroup.ALL) : EnumSet.copyOf(train);
        if (steps < 1 || batch < 1 || accumulation < 1 || checkpointEvery < 0) {
            throw new IllegalArgumentException("steps, batch and accumulation must be >= 1 and checkpoint_every >= 0, got "
                    + steps + ", " + batch + ", " + accumulation + ", " + checkpointEvery);
        }
        if (losses.kd() > 0 && teacher == null) {
            throw new IllegalArgumentException("kd_weight " + losses.kd() + " needs a teacher");
        }
        if (checkpointEvery > 0 && stateDir == null) {
            throw new IllegalArgumentException("checkpoint_every needs a state folder");
        }
        precision = precision == null ? (device.isGpu() ? Precision.FP16 : Precision.FP32) : precision;
        teacherCache = teacherCache == null ? TeacherCache.AUTO : teacherCache;
        added = List.copyOf(added == null ? List.of() : added);
        extension = extension == null ? ForwardExtension.NONE : extension;
    }

    /** Windows one optimizer step reads. */
    public int windowsPerStep() {
        return batch * accumulation;
    }

    public static Builder builder(Path student, TrainData data) {
        return new Builder(student, data);
    }

    /** Defaults: train all, 100 steps of 8 windows, KD top-8 (CE when there is no teacher), AdamW lr 1e-4, CPU. */
    public static final class Builder {
        private final Path student;
        private final TrainData data;
        private Path teacher;
        private Path output;
        private Set<ParamGroup> train = EnumSet.of(ParamGroup.ALL);
        private int steps = 100;
        private int batch = 8;
        private int accumulation = 1;
        private Losses losses;
        private Optim optim = Optim.of(1e-4);
        private Device device = Device.cpu();
        private Precision precision;
        private TeacherCache cache = TeacherCache.AUTO;
        private Path stateDir;
        private int checkpointEvery;
        private Path reportDir;
        private long seed;
        private List<AddedParameter> added = List.of();
        private ForwardExtension extension = ForwardExtension.NONE;

        private Builder(Path student, TrainData data) {
            this.student = student;
            this.data = data;
        }

        public Builder teacher(Path t) { teacher = t; return this; }
        public Builder output(Path o) { output = o; return this; }
        public Builder train(Set<ParamGroup> g) { train = g; return this; }
        public Builder steps(int n) { steps = n; return this; }
        public Builder batch(int n) { batch = n; return this; }
        public Builder accumulation(int n) { accumulation = n; return this; }
        public Builder losses(Losses l) { losses = l; return this; }
        public Builder optim(Optim o) { optim = o; return this; }
        public Builder device(Device d) { device = d; return this; }
        public Builder precision(Precision p) { precision = p; return this; }
        public Builder teacherCache(TeacherCache c) { cache = c; return this; }
        public Builder state(Path dir, int every) { stateDir = dir; checkpointEvery = every; return this; }
        public Builder reportDir(Path d) { reportDir = d; return this; }
        public Builder seed(long s) { seed = s; return this; }
        public Builder added(List<AddedParameter> a, ForwardExtension e) { added = a; extension = e; return this; }

        public TrainSpec build() {
            Losses l = losses != null ? losses : teacher == null ? Losses.languageModel() : Losses.slimMoe();
            return new TrainSpec(student, teacher, output, data, train, steps, batch, accumulation, l, optim, device,
                    precision, cache, stateDir, checkpointEvery, reportDir, seed, added, extension);
        }
    }
}
