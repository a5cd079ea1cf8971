package dev.moekit.pipeline.eval;

import dev.moekit.eval.EvalOptions;
import dev.moekit.eval.EvalResult;
import dev.moekit.eval.Evaluator;
import dev.moekit.eval.DomainResult;
import dev.moekit.eval.runtime.Precision;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.pipeline.Events;
import dev.moekit.pipeline.io.DataFiles;
import dev.moekit.pipeline.recipe.EvalSettings;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.method.Methods;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Scores a checkpoint the way every front end does (CLI {@code eval}, recipes' {@code eval}, the Maven plugin's
 * {@code evaluate} goal, batch jobs): perplexity per data file, and against a reference KL divergence and top-1
 * agreement. A packed quantized checkpoint is read through its format's {@link Dequantizer#open}: each weight is
 * dequantized as the runtime loads it, with no dequantized copy on disk. A perplexity or
 * KL that is not finite is an error naming the data file.
 */
public final class Evaluation {
    private final Methods methods;

    public Evaluation(Methods methods) {
        this.methods = methods;
    }

    /** The data files {@code settings} name (default: the reference {@code *.test.txt}), resolved and hashed. */
    public static List<DataFiles.DataFile> data(EvalSettings settings) {
        return DataFiles.resolve(settings.data(), "*.test.txt", "eval");
    }

    /** Runtime options for {@code settings} on {@code device}; errors name the bad value. */
    public static RuntimeOptions runtime(EvalSettings s, String device) {
        return new RuntimeOptions(RuntimeOptions.parseDevice(device), Precision.parse(s.dtype()), s.layerwise(), s.batch());
    }

    /**
     * Evaluates {@code model}, against {@code reference} when not null.
     *
     * @param files data files as resolved by {@link #data}
     */
    public EvalResult evaluate(Path model, Path reference, EvalSettings settings, List<DataFiles.DataFile> files, String device, Events events) {
        EvalOptions o = EvalOptions.of(files.stream().map(DataFiles.DataFile::path).toList())
                .withWindows(settings.window(), settings.windows()).withRuntime(runtime(settings, device));
        if (reference != null) {
            o = o.withReference(reference);
        }
        Optional<Dequantizer> d = dequantizer(model);
        if (d.isPresent()) {
            events.info("reading the packed checkpoint's weights dequantized as they load");
        }
        try (Checkpoint scored = d.isPresent() ? d.get().open(model) : Checkpoint.open(model)) {
            EvalResult r = Evaluator.evaluate(scored, o, events).withModel(model.toString()).withDevice(device)
                    .withReference(reference == null ? null : reference.toString());
            check(r);
            return r;
        }
    }

    /** The format that reads {@code model}, if it is packed. */
    public Optional<Dequantizer> dequantizer(Path model) {
        if (!Files.isRegularFile(model.resolve(Checkpoint.CONFIG))) {
            return Optional.empty();
        }
        try (Checkpoint c = Checkpoint.open(model)) {
            return methods.all().stream().filter(m -> m instanceof Dequantizer).map(m -> (Dequantizer) m).filter(x -> x.recognizes(c)).findFirst();
        }
    }

    private static void check(EvalResult r) {
        for (DomainResult d : r.domains()) {
            if (!Double.isFinite(d.perplexity()) || !Double.isFinite(d.nll())) {
                throw new IllegalStateException(r.model() + ": perplexity on " + d.domain() + " is " + d.perplexity()
                        + " (the model produces NaN/Inf; run 'moekit verify' on it, or evaluate with --dtype fp32)");
            }
            if (d.kl() != null && !Double.isFinite(d.kl().mean())) {
                throw new IllegalStateException(r.model() + ": KL divergence on " + d.domain() + " is " + d.kl().mean() + " (NaN/Inf in the model or the reference)");
            }
        }
    }
}
