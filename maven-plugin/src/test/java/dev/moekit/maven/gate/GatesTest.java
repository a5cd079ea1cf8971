package dev.moekit.maven.gate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.maven.gate.Outcome.Status;
import dev.moekit.toolkit.io.Json;
import java.io.InputStream;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The rules over a real evaluation report: mixtral-tiny pruned with STUN (25% of the experts) against the original,
 * 2 windows of 64 tokens on python and misc, as the compress-evaluate-check IT produced it.
 */
class GatesTest {
    static JsonNode report;
    static JsonNode eval;
    static final long IN = 48_550_512L;
    static final long OUT = 39_102_904L;

    @BeforeAll
    static void read() throws Exception {
        try (InputStream in = GatesTest.class.getResourceAsStream("/eval-mixtral-tiny-stun.json")) {
            report = Json.STRICT.readTree(in);
        }
        eval = report.path("eval");
        assertEquals(IN, report.path("input").path("weight_bytes").asLong());
        assertEquals(OUT, report.path("output").path("weight_bytes").asLong());
    }

    static Limits limits(Double ppl, Double meanKl, Double p99Kl, Double top1, Long maxBytes, Double ratio, Long tokens, boolean engine) {
        return new Limits(ppl, meanKl, p99Kl, top1, maxBytes, ratio, tokens, engine);
    }

    static List<Outcome> check(Limits l) {
        return Gates.check(l, new Gates.Measured(eval, IN, OUT, null, "out/moekit_provenance.json", null));
    }

    @Test
    void perplexityRatioPerDomainNamesValueAndLimit() {
        List<Outcome> o = check(limits(1.5, null, null, null, null, null, null, false));
        assertEquals(2, o.size());
        assertEquals(new Outcome("maxPerplexityRatio", Status.VIOLATED,
                "maxPerplexityRatio: domain 'python' perplexity ratio 1.791 (output 13.55 / input 7.567) is above the limit 1.5"), o.get(0));
        assertEquals(new Outcome("maxPerplexityRatio", Status.PASSED,
                "maxPerplexityRatio: domain 'misc' perplexity ratio 1.239 (output 81.07 / input 65.42) is within the limit 1.5"), o.get(1));
    }

    @Test
    void klRulesUseAllScoredPositions() {
        List<Outcome> o = check(limits(null, 0.3, 4.0, null, null, null, null, false));
        assertEquals("maxMeanKl: mean KL divergence 0.3862 (all domains, 252 positions) is above the limit 0.3", o.get(0).message());
        assertEquals(Status.VIOLATED, o.get(0).status());
        assertEquals("maxP99Kl: p99 KL divergence 3.622 (all domains, 252 positions) is within the limit 4", o.get(1).message());
        assertEquals(Status.PASSED, o.get(1).status());
    }

    @Test
    void top1IsTokenWeightedOverDomains() {
        // (0.7222 * 126 + 0.6032 * 126) / 252 = 0.6627
        Outcome o = check(limits(null, null, null, 0.7, null, null, null, false)).get(0);
        assertEquals("minTop1: top-1 agreement 0.6627 (66.27%, all domains, 252 positions) is below the limit 0.7", o.message());
        assertTrue(o.failed());
        assertFalse(check(limits(null, null, null, 0.66, null, null, null, false)).get(0).failed());
    }

    @Test
    void sizeRules() {
        List<Outcome> o = check(limits(null, null, null, null, 30_000_000L, 1.2, null, false));
        assertEquals("maxOutputBytes: output weight files 39,102,904 bytes (39.1 MB) are above the limit 30,000,000 bytes", o.get(0).message());
        assertEquals(Status.VIOLATED, o.get(0).status());
        assertEquals("minCompressionRatio: compression ratio 1.242 (input 48,550,512 / output 39,102,904 weight bytes) is at or above the limit 1.2",
                o.get(1).message());
        assertEquals(Status.PASSED, o.get(1).status());
        Outcome tooLow = check(limits(null, null, null, null, null, 1.9, null, false)).get(0);
        assertEquals("minCompressionRatio: compression ratio 1.242 (input 48,550,512 / output 39,102,904 weight bytes) is below the limit 1.9",
                tooLow.message());
    }

    @Test
    void coverageFromStageReports() throws Exception {
        JsonNode prov = Json.STRICT.readTree("""
                {"stages": [
                  {"stage": "prune", "report": {"coverage": {"threshold": 16, "layers": [
                     {"layer": 0, "tokens": 512, "counts": [100, 90, 80, 70]},
                     {"layer": 1, "tokens": 512, "counts": [300, 5, 40, 30]}]}}},
                  {"stage": "quantize", "report": {"summary": "no calibration"}}]}""");
        Limits l = limits(null, null, null, null, null, null, 30L, false);
        Outcome o = Gates.check(l, new Gates.Measured(null, null, null, prov, "p.json", null)).get(0);
        assertEquals("minCalibrationTokens: the fewest calibration tokens an expert received is 5 (layer 1 expert 1, stage 1 prune; 1 of 8 experts"
                + " below the limit), below the limit 30", o.message());
        assertEquals(Status.VIOLATED, o.status());
        Outcome ok = Gates.check(limits(null, null, null, null, null, null, 5L, false), new Gates.Measured(null, null, null, prov, "p.json", null)).get(0);
        assertEquals(Status.PASSED, ok.status());
    }

    @Test
    void coverageNotMeasuredWithoutCalibration() throws Exception {
        JsonNode prov = Json.STRICT.readTree("{\"stages\": [{\"stage\": \"prune\", \"report\": {\"summary\": \"kept 36 of 48\"}}]}");
        Outcome o = Gates.check(limits(null, null, null, null, null, null, 16L, false), new Gates.Measured(null, null, null, prov, "out/p.json", null)).get(0);
        assertEquals(Status.NOT_MEASURED, o.status());
        assertTrue(o.failed(), "a gate that cannot be checked does not pass");
        assertEquals("minCalibrationTokens: not measured: no stage of the recipe calibrated (no coverage in the stage reports of out/p.json), so"
                + " 'every expert received at least 16 calibration tokens' cannot be checked", o.message());
        Outcome missing = Gates.check(limits(null, null, null, null, null, null, 16L, false), new Gates.Measured(null, null, null, null, "out/p.json", null)).get(0);
        assertEquals(Status.NOT_MEASURED, missing.status());
    }

    @Test
    void evaluationWithoutReferenceIsNotMeasured() throws Exception {
        ObjectNode noRef = eval.deepCopy();
        noRef.remove("overall_kl");
        noRef.withArray("domains").forEach(d -> {
            ((ObjectNode) d).put("reference_perplexity", "NaN");
            ((ObjectNode) d).put("top1", "NaN");
            ((ObjectNode) d).remove("kl");
        });
        List<Outcome> o = Gates.check(limits(1.1, 0.1, null, 0.9, null, null, null, false), new Gates.Measured(noRef, null, null, null, "", null));
        assertTrue(o.stream().allMatch(x -> x.status() == Status.NOT_MEASURED), o.toString());
        assertEquals("minTop1: not measured: the evaluation has no top-1 agreement (no reference)", o.get(o.size() - 1).message());
    }

    @Test
    void failureListsEveryViolatedRule() {
        List<Outcome> o = check(limits(1.5, 0.3, null, null, null, 1.2, null, false));
        assertEquals("""
                moekit:check: 2 of 4 quality gate(s) failed:
                  maxPerplexityRatio: domain 'python' perplexity ratio 1.791 (output 13.55 / input 7.567) is above the limit 1.5
                  maxMeanKl: mean KL divergence 0.3862 (all domains, 252 positions) is above the limit 0.3""", Gates.failure(o));
    }

    @Test
    void limitsAreValidated() {
        assertThrows(IllegalArgumentException.class, () -> limits(null, null, null, 90.0, null, null, null, false));
        assertThrows(IllegalArgumentException.class, () -> limits(-1.0, null, null, null, null, null, null, false));
        assertThrows(IllegalArgumentException.class, () -> limits(null, null, null, null, 0L, null, null, false));
        assertFalse(limits(null, null, null, null, null, null, null, false).any());
        assertTrue(limits(null, null, null, null, null, null, null, true).any());
        assertFalse(limits(null, null, null, null, 5L, null, null, true).needsEvaluation());
    }

    @Test
    void numbersReadAsPeopleWriteThem() {
        assertEquals("1.791", Gates.g(1.790948227301458));
        assertEquals("3", Gates.g(3.0));
        assertEquals("1.234e-04", Gates.g(0.00012341)); // below 1e-3: exponent form
    }
}
