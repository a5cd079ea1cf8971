package dev.moekit.eval;

import ai.djl.ndarray.NDArray;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.ForwardObserver;
import dev.moekit.eval.runtime.LayerWeights;
import dev.moekit.eval.runtime.Pass;
import dev.moekit.eval.runtime.TokenBatch;
import dev.moekit.toolkit.model.Role;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * Streams calibration windows through a model layer by layer: every batch goes through layer {@code l} (hooks fire)
 * before layer {@code l+1} runs, so only one layer's activations live at a time besides the hidden states carried
 * between layers. In sequential mode (GPTQ-style) each layer runs twice: once observed, then, after
 * {@link CalibrationObserver#layerDone} may have edited it, once more to produce the next layer's inputs.
 */
public final class Calibration {
    private Calibration() {}

    /** Tokenizes the calibration files with the model folder's tokenizer, batched by the model's batch size. */
    public static List<TokenBatch> batches(Path modelDir, CalibrationOptions o, int batchSize) {
        List<int[]> windows = new ArrayList<>();
        try (TextWindows text = TextWindows.open(modelDir)) {
            for (Path f : o.files()) {
                windows.addAll(Arrays.asList(text.windows(f, o.window(), o.windowsPerFile())));
            }
        }
        List<TokenBatch> out = new ArrayList<>();
        for (int i = 0; i < windows.size(); i += batchSize) {
            out.add(TokenBatch.of(windows.subList(i, Math.min(windows.size(), i + batchSize)).toArray(int[][]::new)));
        }
        return out;
    }

    /**
     * Runs the calibration pass and returns the routing coverage (real routing, real tokens).
     *
     * @param progress called after each layer with {@code ("calibration", layersDone, layers)}
     */
    public static CoverageReport run(CausalLm model, List<TokenBatch> batches, CalibrationOptions o,
                                     CalibrationObserver observer, Progress progress) {
        RoutingCounter coverage = new RoutingCounter(model.spec());
        ForwardObserver hooks = new Both(observer, coverage, o.allExperts());
        int layers = model.spec().layers();
        // coverage counts real routing once per layer: in the observing pass of a sequential layer, else while advancing
        try (Pass pass = model.begin(batches)) {
            for (int l = 0; l < layers; l++) {
                LayerWeights w = pass.layer();
                boolean observed = observer.observes(l);
                if (o.sequential() && observed) {
                    pass.observe(hooks);
                    observer.layerDone(l, w);
                    pass.advance(ForwardObserver.NONE);
                } else {
                    pass.advance(hooks);
                    if (observed) {
                        observer.layerDone(l, w);
                    }
                }
                progress.update("calibration", l + 1, layers);
            }
        }
        return new CoverageReport(o.minTokens(), coverage.result());
    }

    /** The caller's observer plus the coverage counter; the caller decides which linear inputs to capture. */
    private record Both(CalibrationObserver a, RoutingCounter b, boolean allExperts) implements ForwardObserver {
        @Override
        public boolean observes(int layer) {
            return a.observes(layer) || b.observes(layer);
        }

        @Override
        public Set<Role> linearInputs() {
            return a.linearInputs();
        }

        @Override
        public boolean allExperts() {
            return allExperts || a.allExperts();
        }

        @Override
        public void tokenMask(NDArray mask) {
            a.tokenMask(mask);
            b.tokenMask(mask);
        }

        @Override
        public void layerInput(int layer, NDArray hidden) {
            if (a.observes(layer)) {
                a.layerInput(layer, hidden);
            }
        }

        @Override
        public void router(int layer, RouterOutput routing) {
            if (a.observes(layer)) {
                a.router(layer, routing);
            }
            if (b.observes(layer)) {
                b.router(layer, routing);
            }
        }

        @Override
        public void expert(int layer, int expert, NDArray tokens, NDArray input, NDArray output) {
            if (a.observes(layer)) {
                a.expert(layer, expert, tokens, input, output);
            }
        }

        @Override
        public void linearInput(int layer, Role role, int expert, NDArray input) {
            if (a.observes(layer)) {
                a.linearInput(layer, role, expert, input);
            }
        }

        @Override
        public void layerOutput(int layer, NDArray hidden) {
            if (a.observes(layer)) {
                a.layerOutput(layer, hidden);
            }
        }
    }
}
