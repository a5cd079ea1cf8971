package dev.moekit.eval;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Json;
import java.util.List;
import java.util.Locale;

/**
 * The outcome of {@link Evaluator#evaluate}: per-domain perplexity (and KL/top-1 against a reference), routing counts
 * per MoE layer, and throughput of the evaluated model's forward passes.
 *
 * @param model           model folder
 * @param reference       reference folder or null
 * @param device          DJL device name
 * @param precision       compute dtype
 * @param window          tokens per window
 * @param windows         windows per domain (at most)
 * @param domains         per data file
 * @param overallKl       KL statistics over all domains' positions together, null without a reference
 * @param routing         per MoE layer, empty for dense models or when not requested
 * @param tokensPerSecond tokens through the evaluated model per second of its forward passes
 * @param seconds         wall time of the whole evaluation
 */
public record EvalResult(String model, String reference, String device, String precision, int window, int windows,
                         List<DomainResult> domains, KlStats overallKl, List<LayerRouting> routing,
                         double tokensPerSecond, double seconds) {
    public EvalResult {
        domains = List.copyOf(domains);
        routing = List.copyOf(routing);
    }

    /** The same result under another model name (e.g. the packed folder a dequantized copy came from). */
    public EvalResult withModel(String name) {
        return new EvalResult(name, reference, device, precision, window, windows, domains, overallKl, routing, tokensPerSecond, seconds);
    }

    /** The same result under another reference name. */
    public EvalResult withReference(String name) {
        return new EvalResult(model, name, device, precision, window, windows, domains, overallKl, routing, tokensPerSecond, seconds);
    }

    /** The same result with the device named as users write it ({@code cpu}, {@code gpu:0}). */
    public EvalResult withDevice(String name) {
        return new EvalResult(model, reference, name, precision, window, windows, domains, overallKl, routing, tokensPerSecond, seconds);
    }

    /** The result as a JSON tree, snake_case keys as everywhere in moekit's reports (NaN is written as "NaN"). */
    public ObjectNode toJson() {
        return dev.moekit.toolkit.method.Params.toJson(this);
    }

    /** A fixed-width table for people. */
    public String table() {
        StringBuilder s = new StringBuilder();
        boolean ref = reference != null;
        s.append(String.format(Locale.ROOT, "model %s%s  (%s, %s, %d x %d tokens, %.0f tok/s)%n", model,
                ref ? " vs " + reference : "", device, precision, windows, window, tokensPerSecond));
        s.append(String.format(Locale.ROOT, "%-10s %8s %10s", "domain", "tokens", "ppl"));
        if (ref) {
            s.append(String.format(Locale.ROOT, " %10s %9s %9s %9s %9s %9s %7s", "ref ppl", "KL mean", "KL med",
                    "KL p90", "KL p99", "KL max", "top-1"));
        }
        s.append('\n');
        for (DomainResult d : domains) {
            s.append(String.format(Locale.ROOT, "%-10s %8d %10.3f", d.domain(), d.tokens(), d.perplexity()));
            if (ref) {
                KlStats k = d.kl();
                s.append(String.format(Locale.ROOT, " %10.3f %9.5f %9.5f %9.5f %9.5f %9.5f %6.2f%%",
                        d.referencePerplexity(), k.mean(), k.median(), k.p90(), k.p99(), k.max(), 100 * d.top1()));
            }
            s.append('\n');
        }
        for (LayerRouting r : routing) {
            s.append(String.format(Locale.ROOT, "layer %2d routing:", r.layer()));
            for (int e = 0; e < r.counts().length; e++) {
                s.append(String.format(Locale.ROOT, " %5.1f", 100 * r.share(e)));
            }
            s.append(" (% of choices per expert)\n");
        }
        return s.toString();
    }
}
