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
        return runLayers(model, batches, o, observer, progress, 0, model.spec().layers(), null, null);
    }

    /**
     * Runs layers {@code [from, to)} of the pass, so that a calibration can be split over processes (batch work
     * units): the hidden states entering {@code from} are read from {@code inputs} (written by an earlier range's
     * {@code outputs}; null: the embeddings, with {@code from} 0), and those leaving {@code to - 1} are written to
     * {@code outputs} (null: not kept). Consecutive ranges compute the same values as one run over all layers.
     *
     * @return the routing coverage of the MoE layers in the range
     */
    public static CoverageReport runLayers(CausalLm model, List<TokenBatch> batches, CalibrationOptions o, CalibrationObserver observer,
                                           Progress progress, int from, int to, Path inputs, Path outputs) {
        RoutingCounter coverage = new RoutingCounter(model.spec());
        ForwardObserver hooks = new Both(observer, coverage, o.allExperts());
        int layers = model.spec().layers();
        if (from < 0 || to > layers || from >= to || (inputs == null) != (from == 0)) {
            throw new IllegalArgumentException("calibration layers " + from + ".." + (to - 1) + " of " + layers
                    + (inputs == null ? " without" : " with") + " saved inputs");
        }
        // coverage counts real routing once per layer: in the observing pass of a sequential layer, else while advancing
        try (Pass pass = model.begin(batches)) {
            if (inputs != null) {
                pass.load(inputs, from);
            }
            for (int l = from; l < to; l++) {
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
            if (outputs != null) {
                pass.save(outputs);
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        List<LayerRouting> in = coverage.result().stream().filter(r -> r.layer() >= from && r.layer() < to).toList();
        return new CoverageReport(o.minTokens(), in);
    }

    /**
     * Runs the unmodified model over layers {@code [0, to)} and writes the hidden states entering each layer
     * {@code l} in {@code layers} to {@code file.apply(l)} (for methods whose layers all calibrate on the original
     * model's activations, as independent units).
     */
    public static void saveInputs(CausalLm model, List<TokenBatch> batches, java.util.Collection<Integer> layers,
                                  java.util.function.IntFunction<Path> file, Progress progress) {
        int to = layers.stream().mapToInt(Integer::intValue).max().orElse(-1);
        try (Pass pass = model.begin(batches)) {
            for (int l = 0; l <= to; l++) {
                if (layers.contains(l)) {
                    pass.save(file.apply(l));
                }
                if (l < to) {
                    pass.advance(ForwardObserver.NONE);
                }
                progress.update("calibration inputs", l + 1, to + 1);
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * Runs layer {@code layer} alone on the hidden states in {@code inputs} (from {@link #saveInputs}) for
     * {@code observer}, then calls {@link CalibrationObserver#layerDone}; returns the layer's routing coverage.
     */
    public static CoverageReport observeLayer(CausalLm model, List<TokenBatch> batches, CalibrationOptions o, CalibrationObserver observer,
                                              int layer, Path inputs) {
        RoutingCounter coverage = new RoutingCounter(model.spec());
        ForwardObserver hooks = new Both(observer, coverage, o.allExperts());
        try (Pass pass = model.begin(batches)) {
            if (inputs != null) {
                pass.load(inputs, layer);
            } else if (layer != 0) {
                throw new IllegalArgumentException("layer " + layer + " needs its saved inputs");
            }
            LayerWeights w = pass.layer();
            pass.observe(hooks);
            observer.layerDone(layer, w);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return new CoverageReport(o.minTokens(), coverage.result().stream().filter(r -> r.layer() == layer).toList());
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
