package dev.moekit.maven.gate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import dev.moekit.maven.gate.Outcome.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The rules of {@code moekit:check} over measured values: the evaluation report (perplexity per domain, KL, top-1),
 * the checkpoints' sizes, the output's provenance (calibration coverage) and its quantization config. Every outcome
 * names the rule, the measured value and the limit; a rule that cannot be measured fails as "not measured".
 */
public final class Gates {
    /**
     * What was measured; null (or missing) where the rules that need it are not set.
     *
     * @param eval        the {@code EvalResult} JSON ({@code domains}, {@code overall_kl})
     * @param inputBytes  the input's weight bytes
     * @param outputBytes the output's weight bytes
     * @param provenance  the output's {@code moekit_provenance.json}
     * @param provenanceFile where it was read, for messages
     * @param engine      the engine-compatibility findings
     */
    public record Measured(JsonNode eval, Long inputBytes, Long outputBytes, JsonNode provenance, String provenanceFile,
                           EngineCompatibility.Result engine) {
        public Measured {
            eval = eval == null ? MissingNode.getInstance() : eval;
        }
    }

    private Gates() {}

    /** Every set rule's outcomes, in the order of {@link Limits}' components. */
    public static List<Outcome> check(Limits l, Measured m) {
        List<Outcome> out = new ArrayList<>();
        if (l.maxPerplexityRatio() != null) {
            perplexity(l.maxPerplexityRatio(), m.eval(), out);
        }
        JsonNode kl = m.eval().path("overall_kl");
        long positions = kl.path("tokens").asLong();
        if (l.maxMeanKl() != null) {
            out.add(max("maxMeanKl", "mean KL divergence", num(kl.path("mean")), l.maxMeanKl(), "all domains, " + positions + " positions",
                    "the evaluation has no KL divergence (no reference)"));
        }
        if (l.maxP99Kl() != null) {
            out.add(max("maxP99Kl", "p99 KL divergence", num(kl.path("p99")), l.maxP99Kl(), "all domains, " + positions + " positions",
                    "the evaluation has no KL divergence (no reference)"));
        }
        if (l.minTop1() != null) {
            top1(l.minTop1(), m.eval(), out);
        }
        if (l.maxOutputBytes() != null) {
            out.add(m.outputBytes() == null ? notMeasured("maxOutputBytes", "the output's size is unknown")
                    : new Outcome("maxOutputBytes", m.outputBytes() <= l.maxOutputBytes() ? Status.PASSED : Status.VIOLATED,
                    String.format(Locale.ROOT, "maxOutputBytes: output weight files %,d bytes (%s) %s the limit %,d bytes", m.outputBytes(),
                            human(m.outputBytes()), m.outputBytes() <= l.maxOutputBytes() ? "are within" : "are above", l.maxOutputBytes())));
        }
        if (l.minCompressionRatio() != null) {
            if (m.inputBytes() == null || m.outputBytes() == null || m.outputBytes() == 0) {
                out.add(notMeasured("minCompressionRatio", "the checkpoints' sizes are unknown"));
            } else {
                double r = (double) m.inputBytes() / m.outputBytes();
                boolean ok = r >= l.minCompressionRatio();
                out.add(new Outcome("minCompressionRatio", ok ? Status.PASSED : Status.VIOLATED, String.format(Locale.ROOT,
                        "minCompressionRatio: compression ratio %s (input %,d / output %,d weight bytes) is %s the limit %s", g(r), m.inputBytes(),
                        m.outputBytes(), ok ? "at or above" : "below", g(l.minCompressionRatio()))));
            }
        }
        if (l.minCalibrationTokens() != null) {
            out.add(coverage(l.minCalibrationTokens(), m.provenance(), m.provenanceFile()));
        }
        if (l.engineCompatible()) {
            engine(m.engine(), out);
        }
        return out;
    }

    /** The build-failure text: the violated rules, one per line. */
    public static String failure(List<Outcome> outcomes) {
        List<Outcome> bad = outcomes.stream().filter(Outcome::failed).toList();
        StringBuilder b = new StringBuilder("moekit:check: " + bad.size() + " of " + outcomes.size() + " quality gate(s) failed:");
        bad.forEach(o -> b.append("\n  ").append(o.message()));
        return b.toString();
    }

    private static void perplexity(double limit, JsonNode eval, List<Outcome> out) {
        if (!eval.path("domains").isArray() || eval.path("domains").isEmpty()) {
            out.add(notMeasured("maxPerplexityRatio", "the evaluation has no domains"));
            return;
        }
        for (JsonNode d : eval.path("domains")) {
            String dom = d.path("domain").asText();
            double ppl = num(d.path("perplexity"));
            double ref = num(d.path("reference_perplexity"));
            if (!Double.isFinite(ppl) || !(ref > 0)) {
                out.add(notMeasured("maxPerplexityRatio", "domain '" + dom + "' has no perplexity of both output and input"));
                continue;
            }
            double r = ppl / ref;
            boolean ok = r <= limit;
            out.add(new Outcome("maxPerplexityRatio", ok ? Status.PASSED : Status.VIOLATED, String.format(Locale.ROOT,
                    "maxPerplexityRatio: domain '%s' perplexity ratio %s (output %s / input %s) is %s the limit %s", dom, g(r), g(ppl), g(ref),
                    ok ? "within" : "above", g(limit))));
        }
    }

    private static void top1(double limit, JsonNode eval, List<Outcome> out) {
        double agree = 0;
        long n = 0;
        for (JsonNode d : eval.path("domains")) {
            double t = num(d.path("top1"));
            long tokens = d.path("tokens").asLong();
            if (Double.isFinite(t) && tokens > 0) {
                agree += t * tokens;
                n += tokens;
            }
        }
        if (n == 0) {
            out.add(notMeasured("minTop1", "the evaluation has no top-1 agreement (no reference)"));
            return;
        }
        double v = agree / n;
        boolean ok = v >= limit;
        out.add(new Outcome("minTop1", ok ? Status.PASSED : Status.VIOLATED, String.format(Locale.ROOT,
                "minTop1: top-1 agreement %s (%.2f%%, all domains, %d positions) is %s the limit %s", g(v), 100 * v, n, ok ? "at or above" : "below", g(limit))));
    }

    private static Outcome max(String rule, String what, double v, double limit, String where, String missing) {
        if (!Double.isFinite(v)) {
            return notMeasured(rule, missing);
        }
        boolean ok = v <= limit;
        return new Outcome(rule, ok ? Status.PASSED : Status.VIOLATED, String.format(Locale.ROOT, "%s: %s %s (%s) is %s the limit %s", rule, what, g(v), where,
                ok ? "within" : "above", g(limit)));
    }

    private static Outcome coverage(long limit, JsonNode prov, String file) {
        String rule = "minCalibrationTokens";
        if (prov == null || prov.isMissingNode()) {
            return notMeasured(rule, "no provenance to read coverage from (" + file + " is missing); the limit is " + limit + " tokens per expert");
        }
        long min = Long.MAX_VALUE;
        String where = "";
        int below = 0;
        int experts = 0;
        int i = 0;
        for (JsonNode st : prov.path("stages")) {
            i++;
            for (JsonNode cov : st.path("report").findValues("coverage")) {
                for (JsonNode layer : cov.path("layers")) {
                    JsonNode counts = layer.path("counts");
                    for (int e = 0; e < counts.size(); e++) {
                        long c = counts.get(e).asLong();
                        experts++;
                        if (c < limit) {
                            below++;
                        }
                        if (c < min) {
                            min = c;
                            where = "layer " + layer.path("layer").asInt() + " expert " + e + ", stage " + i + " " + st.path("stage").asText();
                        }
                    }
                }
            }
        }
        if (experts == 0) {
            return notMeasured(rule, "no stage of the recipe calibrated (no coverage in the stage reports of " + file
                    + "), so 'every expert received at least " + limit + " calibration tokens' cannot be checked");
        }
        boolean ok = below == 0;
        return new Outcome(rule, ok ? Status.PASSED : Status.VIOLATED, String.format(Locale.ROOT,
                "minCalibrationTokens: the fewest calibration tokens an expert received is %d (%s; %d of %d experts below the limit), %s the limit %d",
                min, where, below, experts, ok ? "at or above" : "below", limit));
    }

    private static void engine(EngineCompatibility.Result r, List<Outcome> out) {
        String rule = "engineCompatible";
        if (r == null) {
            out.add(notMeasured(rule, "the output's quantization config could not be read"));
            return;
        }
        if (r.problems().isEmpty()) {
            out.add(new Outcome(rule, Status.PASSED, r.quantized()
                    ? "engineCompatible: " + r.format() + ": " + r.routers() + " router(s) unquantized and one bit width in each of " + r.blocks()
                    + " fused expert block(s), as required"
                    : "engineCompatible: the output is not quantized (no quantization_config in config.json): routers unquantized, one dtype per expert block"));
            return;
        }
        r.problems().forEach(p -> out.add(new Outcome(rule, Status.VIOLATED, "engineCompatible: " + p)));
    }

    private static Outcome notMeasured(String rule, String why) {
        return new Outcome(rule, Status.NOT_MEASURED, rule + ": not measured: " + why);
    }

    static double num(JsonNode n) {
        if (n.isNumber()) {
            return n.asDouble();
        }
        if (n.isTextual()) {
            try {
                return Double.parseDouble(n.asText());
            } catch (NumberFormatException e) {
                return Double.NaN;
            }
        }
        return Double.NaN;
    }

    /** Four significant digits, no exponent for ordinary values. */
    static String g(double v) {
        if (v == 0 || (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e6)) {
            return new java.math.BigDecimal(v).round(new java.math.MathContext(4)).stripTrailingZeros().toPlainString();
        }
        return String.format(Locale.ROOT, "%.3e", v);
    }

    static String human(long bytes) {
        return bytes >= 1L << 30 ? String.format(Locale.ROOT, "%.2f GB", bytes / 1e9) : String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
    }
}
