package dev.moekit.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.pipeline.Events;
import dev.moekit.pipeline.stage.Layout;
import dev.moekit.pipeline.stage.Plan;
import dev.moekit.pipeline.stage.PlanInput;
import dev.moekit.pipeline.stage.StageContext;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.CalibrationSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Byte identity with outputs of an earlier build: {@code -Dmoekit.reference=<dir>} names a folder holding
 * {@code q-rtn}, {@code q-gptq} and {@code q-fake}, written by {@code moekit quantize} on mixtral-tiny with
 * {@code --bits 4}, {@code --method gptq --format gptq --bits 4} and {@code --format fake-quant --bits 3} (the CLI's
 * calibration: every {@code *.valid.txt}, 16 windows of 256 tokens). The stage writes the same configurations here and
 * every {@code *.safetensors}, {@code config.json} and {@code quantize_config.json} must hash the same; the per-module
 * figures of the old {@code quantization_report.json} must equal the stage report's (the relative error to 1e-12).
 */
@EnabledIfSystemProperty(named = "moekit.reference", matches = ".+")
class ReferenceOutputsTest {
    @ParameterizedTest(name = "{0}")
    @CsvSource({"q-rtn, rtn, compressed-tensors, 4", "q-gptq, gptq, gptq, 4", "q-fake, rtn, fake-quant, 3"})
    void writesTheReferenceBytes(String name, String method, String format, int bits) throws Exception {
        Path ref = Path.of(System.getProperty("moekit.reference")).resolve(name);
        Path out = Files.createTempDirectory("moekit-ref").resolve(name);
        Path data = TestWeights.MIXTRAL.getParent().resolveSibling("data").toAbsolutePath().normalize();
        List<String> files;
        try (Stream<Path> s = Files.list(data)) {
            files = s.filter(p -> p.getFileName().toString().endsWith(".valid.txt")).sorted().map(Path::toString).toList();
        }
        StageContext ctx = new StageContext(TestWeights.MIXTRAL, new CalibrationSettings(files, 16, 256, false), "cpu", 0, Events.NONE);
        QuantizeStage stage = new QuantizeStage();
        QuantizeStage.Parameters p = stage.bind(Json.PRETTY.createObjectNode().put("method", method).put("format", format).put("bits", bits));
        Plan plan;
        try (Checkpoint c = Checkpoint.open(TestWeights.MIXTRAL)) {
            plan = stage.plan(p, new PlanInput(Layout.of(c), TestWeights.MIXTRAL, List.of()), ctx);
        }
        JsonNode report = stage.run(p, plan, TestWeights.MIXTRAL, List.of(), out, ctx);
        List<String> compared;
        try (Stream<Path> s = Files.list(ref)) {
            compared = s.map(f -> f.getFileName().toString())
                    .filter(f -> f.endsWith(".safetensors") || f.equals("config.json") || f.equals("quantize_config.json")).sorted().toList();
        }
        assertTrue(compared.size() >= 2, "reference files in " + ref);
        for (String f : compared) {
            String want = sha256(ref.resolve(f));
            String got = sha256(out.resolve(f));
            System.out.println(name + "/" + f + " " + got + (want.equals(got) ? " identical" : " DIFFERS from " + want));
            assertEquals(want, got, name + "/" + f);
        }
        JsonNode old = Json.STRICT.readTree(ref.resolve("quantization_report.json").toFile());
        assertEquals(old.path("modules").size(), report.path("modules").size());
        for (int i = 0; i < old.path("modules").size(); i++) {
            JsonNode a = old.path("modules").get(i);
            JsonNode b = report.path("modules").get(i);
            for (String k : List.of("module", "bits", "groupSize", "params", "calibrationRows", "storedBits", "fallback")) {
                assertEquals(a.path(k).asText(), b.path(k).asText(), name + " " + a.path("module").asText() + " " + k);
            }
            // summed per row in vector lanes since issue 17 (QuantError), so equal up to the order of the sums
            double e = a.path("relativeError").asDouble();
            assertEquals(e, b.path("relativeError").asDouble(), Math.abs(e) * 1e-12, name + " " + a.path("module").asText() + " relativeError");
            assertEquals(a.path("method").asText().toLowerCase(), b.path("method").asText());
        }
        for (String k : List.of("kept", "quantizedParams", "averageBits", "averageStoredBits", "quantizedBytes", "sourceBytes", "fallbacks")) {
            assertEquals(old.path(k).toString(), report.path(k).toString(), name + " " + k);
        }
        report.path("summary").forEach(l -> System.out.println(name + ": " + l.asText()));
        dev.moekit.toolkit.io.FileTrees.delete(out.getParent());
    }

    private static String sha256(Path f) throws Exception {
        MessageDigest d = MessageDigest.getInstance("SHA-256");
        try (var in = Files.newInputStream(f)) {
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                d.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(d.digest());
    }
}
