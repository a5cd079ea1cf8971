package dev.moekit.recipes.results;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Command line of a results run: {@code <shared dir> <out.md> [evalWindows] [calibrationWindows] [models...]}, with a
 * fresh temporary work folder for the outputs it measures.
 */
record RunArgs(Path shared, Path outMd, int evalWindows, int calWindows, List<String> models, Path work) {
    static final List<String> MODELS = List.of("mixtral-tiny", "qwen2moe-tiny", "mixtral-upcycled-tiny");

    static RunArgs parse(String[] args, int defaultEval, int defaultCal, String workPrefix) throws IOException {
        return new RunArgs(Path.of(args[0]), Path.of(args[1]),
                args.length > 2 ? Integer.parseInt(args[2]) : defaultEval,
                args.length > 3 ? Integer.parseInt(args[3]) : defaultCal,
                args.length > 4 ? List.of(args).subList(4, args.length) : MODELS,
                Files.createTempDirectory(workPrefix));
    }

    ModelSetup setup(String model) throws IOException {
        return ModelSetup.of(shared, model, work.resolve(model), evalWindows, calWindows);
    }
}
