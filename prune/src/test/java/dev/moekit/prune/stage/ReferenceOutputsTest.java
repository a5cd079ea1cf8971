package dev.moekit.prune.stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.pipeline.Events;
import dev.moekit.pipeline.Pipeline;
import dev.moekit.pipeline.recipe.Recipe;
import dev.moekit.prune.testing.RefModels;
import dev.moekit.toolkit.io.Json;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * The plugin stages write byte for byte what the stages before the plugin rewrite wrote (commit f8922fb, `moekit prune`
 * with its defaults: 16 windows of 256 tokens from every *.valid.txt, seed 0, cpu), run here through the pipeline. STUN
 * is pinned to the reference rule it had then (representative nearest_to_mean, plain distances): the defaults changed.
 * About two minutes on two cores, so tagged slow: {@code -Dmoekit.test.excludedGroups=gpu -Dtest=ReferenceOutputsTest}.
 */
@Tag("slow")
class ReferenceOutputsTest {
    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0} {1} then {2}")
    @CsvSource({
            "mixtral-tiny, '{\"method\":\"stun\",\"experts\":0.25,\"representative\":\"nearest_to_mean\",\"usage_weighted\":false}', '{\"method\":\"owl\",\"total_sparsity\":0.4}', 358979a31f389136e2a481579f2066bad9e81f0db39ba29272c3273a9190142e",
            "mixtral-tiny, '{\"method\":\"stun\",\"experts\":0.25,\"representative\":\"nearest_to_mean\",\"usage_weighted\":false}', '{\"method\":\"wanda\",\"total_sparsity\":0.5}', ea5c1f1de2e98a2ebe4f95794646b5d058488ea49e319735ee042a7c6fc123d2",
            "mixtral-tiny, '{\"method\":\"reap\",\"experts\":0.5}', '', 1eca53d06192a65619895dfb97518ce8ac73f2db4e32a0e28067d8f037161660",
            "qwen2moe-tiny, '{\"method\":\"stun\",\"experts\":0.25,\"representative\":\"nearest_to_mean\",\"usage_weighted\":false}', '{\"method\":\"owl\",\"total_sparsity\":0.4}', 8c59b9c4c7dc9b68e1de54b3f4cc0e36c12c55b00dfd50fdcddd3ea22307b916"})
    void sameBytesAsBefore(String model, String prune, String sparsify, String sha256) throws Exception {
        ObjectNode r = Json.PRETTY.createObjectNode();
        r.put("model", RefModels.model(model).toAbsolutePath().normalize().toString());
        r.put("output", tmp.resolve("out").toString());
        r.putObject("calibration").putArray("data").add(RefModels.shared().toAbsolutePath().normalize().resolve("data/*.valid.txt").toString());
        var stages = r.putArray("stages");
        stages.addObject().set("prune", Json.STRICT.readTree(prune));
        if (sparsify != null && !sparsify.isBlank()) {
            stages.addObject().set("sparsify", Json.STRICT.readTree(sparsify));
        }
        Pipeline.Result res = Pipeline.standard(Events.NONE).run(Recipe.parse(r, tmp));
        assertEquals(sha256, sha256(res.output().resolve("model.safetensors")));
        assertFalse(Files.exists(res.output().resolve("expert_pruning.json")), "no loose report files");
        assertFalse(Files.exists(res.output().resolve("unstructured_pruning.json")), "no loose report files");
    }

    static String sha256(Path f) throws Exception {
        MessageDigest d = MessageDigest.getInstance("SHA-256");
        try (InputStream in = Files.newInputStream(f)) {
            byte[] buf = new byte[1 << 20];
            for (int n; (n = in.read(buf)) > 0; ) {
                d.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(d.digest());
    }
}
