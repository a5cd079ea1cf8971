package dev.moekit.eval;

import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.ForwardObserver;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.eval.runtime.TokenBatch;
import dev.moekit.toolkit.model.Role;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Throughput on this machine's CPU: evaluation tokens/s (32 windows of 256 tokens, batch 8, logits and NLL
 * included) per reference model, calibration tokens/s (layer by layer, with GPTQ-style linear-input capture of every
 * expert and attention projection, accumulating {@code X^T X}), and the peak resident memory of each run. Run with
 * {@code -Dtest=EvalBenchmark -Dmoekit.test.excludedGroups=gpu} or as a main class.
 */
@Tag("slow")
class EvalBenchmark {

    @Test
    void benchmark() throws IOException {
        main(new String[0]);
    }

    public static void main(String[] args) throws IOException {
        for (String name : Goldens.models().toList()) {
            resetPeak();
            double tps;
            double ppl;
            try (CausalLm lm = CausalLm.open(Goldens.model(name), RuntimeOptions.cpu().withBatchSize(8))) {
                Evaluator ev = new Evaluator(lm, null, ForwardObserver.NONE);
                ev.score(Goldens.windows(name, "python"), (d, t) -> { });           // warm-up
                Evaluator timed = new Evaluator(lm, null, ForwardObserver.NONE);
                ppl = Math.exp(timed.score(Goldens.windows(name, "kernel"), (d, t) -> { }).meanNll());
                tps = timed.tokensPerSecond();
            }
            long evalPeak = peakKb();
            resetPeak();
            double calTps;
            try (CausalLm lm = CausalLm.open(Goldens.model(name), RuntimeOptions.cpu())) {
                CalibrationOptions o = CalibrationOptions.defaults(Goldens.shared().resolve("data")).withWindows(256, 8);
                List<TokenBatch> batches = Calibration.batches(Goldens.model(name), o, 8);
                long t0 = System.nanoTime();
                Calibration.run(lm, batches, o, new HessianLike(), Progress.NONE);
                calTps = batches.stream().mapToLong(TokenBatch::tokens).sum() / ((System.nanoTime() - t0) / 1e9);
            }
            System.out.printf(Locale.ROOT, "%-18s eval %7.0f tok/s (kernel ppl %.3f, peak RSS %d MB) | "
                    + "calibration %6.0f tok/s (peak RSS %d MB)%n", name, tps, ppl, evalPeak / 1024, calTps,
                    peakKb() / 1024);
        }
    }

    /** Accumulates {@code X^T X} of every captured linear input, as GPTQ does (touching every activation). */
    static final class HessianLike implements CalibrationObserver {
        double checksum;

        @Override
        public Set<Role> linearInputs() {
            return Set.of(Role.Q, Role.O, Role.MLP_UP, Role.MLP_DOWN, Role.EXPERT_UP, Role.EXPERT_DOWN,
                    Role.SHARED_UP, Role.SHARED_DOWN);
        }

        @Override
        public void linearInput(int layer, Role role, int expert, ai.djl.ndarray.NDArray x) {
            checksum += x.transpose().matMul(x).sum().getFloat();
        }
    }

    private static void resetPeak() throws IOException {
        Files.writeString(Path.of("/proc/self/clear_refs"), "5");
    }

    private static long peakKb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }
}
