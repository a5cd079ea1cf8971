package dev.moekit.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.eval.DomainResult;
import dev.moekit.eval.EvalOptions;
import dev.moekit.eval.EvalResult;
import dev.moekit.eval.Evaluator;
import dev.moekit.eval.Progress;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.pipeline.Events;
import dev.moekit.pipeline.Pipeline;
import dev.moekit.pipeline.eval.Evaluation;
import dev.moekit.pipeline.io.DataFiles;
import dev.moekit.pipeline.recipe.EvalSettings;
import dev.moekit.quantize.format.Dequantize;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.FileTrees;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Evaluation of a packed output reads its weights dequantized as they load ({@code Dequantizer.open}), and scores
 * exactly what the old path scored: the dequantized fp32 copy written by {@link Dequantize}, then evaluated. RTN int4
 * g128 of mixtral-tiny in compressed-tensors and in GPTQ format, 2 windows of every {@code *.test.txt} split, KL
 * against the original: perplexity, NLL and every KL statistic equal to the last bit, and no temporary checkpoint
 * appears in the temporary folder or beside the packed one.
 */
class PackedEvaluationTest {
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"compressed-tensors", "gptq"})
    void packedOutputScoresExactlyAsItsDequantizedCopyWithoutWritingOne(String format) throws IOException {
        Path dir = Files.createTempDirectory("moekit-packed-eval");
        try {
            Path packed = dir.resolve("q");
            try (Checkpoint in = Checkpoint.open(TestWeights.MIXTRAL)) {
                Quantizer.run(in, packed, QuantOptions.defaults(format), null);
            }
            Path data = TestWeights.MIXTRAL.getParent().resolveSibling("data").toAbsolutePath().normalize();
            EvalSettings settings = new EvalSettings(List.of(data + "/*.test.txt"), 2, 256, true, null, null, null);
            List<DataFiles.DataFile> files = Evaluation.data(settings);
            assertEquals(4, files.size(), "the four reference splits");

            // the old path: a dequantized fp32 checkpoint on disk, evaluated as a plain folder
            Path plain = dir.resolve("plain");
            Dequantize.run(packed, plain, DType.F32, CheckpointWriter.Options.defaults());
            EvalOptions o = EvalOptions.of(files.stream().map(DataFiles.DataFile::path).toList()).withWindows(256, 2)
                    .withReference(TestWeights.MIXTRAL).withRuntime(Evaluation.runtime(settings, "cpu"));
            EvalResult old = Evaluator.evaluate(plain, o, Progress.NONE);
            FileTrees.delete(plain);

            // the new path, through what every front end calls
            Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
            Set<String> tmpBefore = list(tmp);
            Set<String> besideBefore = list(dir);
            Set<String> packedBefore = list(packed);
            EvalResult now = Pipeline.standard(Events.NONE).evaluation().evaluate(packed, TestWeights.MIXTRAL, settings, files, "cpu", Events.NONE);
            Set<String> tmpAfter = list(tmp);
            tmpAfter.removeAll(tmpBefore);
            assertTrue(tmpAfter.stream().noneMatch(n -> n.startsWith("moekit")), "no temporary checkpoint: " + tmpAfter);
            assertEquals(besideBefore, list(dir), "nothing written beside the packed output");
            assertEquals(packedBefore, list(packed), "nothing written into it");

            assertEquals(old.domains().size(), now.domains().size());
            for (int i = 0; i < old.domains().size(); i++) {
                DomainResult a = old.domains().get(i);
                DomainResult b = now.domains().get(i);
                assertEquals(a.domain(), b.domain());
                assertEquals(a.tokens(), b.tokens());
                assertEquals(a.nll(), b.nll(), 0.0, format + " " + a.domain() + " NLL");
                assertEquals(a.perplexity(), b.perplexity(), 0.0, format + " " + a.domain() + " perplexity");
                assertEquals(a.kl(), b.kl(), format + " " + a.domain() + " KL statistics");
                assertEquals(a.top1(), b.top1(), 0.0, format + " " + a.domain() + " top-1");
                assertTrue(b.kl().mean() > 0, "int4 changes the distribution: the comparison is not vacuous");
            }
            assertEquals(old.overallKl(), now.overallKl());
            assertFalse(Files.exists(dir.resolve("plain")));
        } finally {
            FileTrees.delete(dir);
        }
    }

    private static Set<String> list(Path p) throws IOException {
        try (Stream<Path> s = Files.list(p)) {
            return s.map(x -> x.getFileName().toString()).collect(Collectors.toSet());
        }
    }
}
