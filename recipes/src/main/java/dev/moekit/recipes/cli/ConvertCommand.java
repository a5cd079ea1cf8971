package dev.moekit.recipes.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.pipeline.recipe.StageEntry;
import dev.moekit.toolkit.io.Json;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;

/** {@code moekit convert}: re-shard and optionally change dtype; the simplest full transform. */
final class ConvertCommand implements Command {
    @Override
    public String name() {
        return "convert";
    }

    @Override
    public String summary() {
        return "copy a checkpoint, changing dtype and/or shard size";
    }

    @Override
    public String arguments() {
        return "<in> <out>";
    }

    @Override
    public Options options() {
        return Main.options(
                Main.opt("dtype", "bf16|fp16|fp32", "floating dtype of the output (default: keep each tensor's)"),
                Main.opt("max-shard-size", "SIZE", "largest shard, e.g. 5GB (default), 2GB, 500MB"),
                Main.opt("threads", "N", "conversion threads (default: available cores)"),
                Main.flag("replace", "replace an existing output folder (only after the new one is complete)"),
                Main.flag("dry-run", "validate and print the plan; write nothing"));
    }

    @Override
    public int run(CommandLine cl, PrintStream out) throws Exception {
        Path[] io = OneStepRecipe.inOut(cl);
        ObjectNode p = Json.PRETTY.createObjectNode();
        if (cl.hasOption("dtype")) {
            p.put("dtype", cl.getOptionValue("dtype"));
        }
        if (cl.hasOption("max-shard-size")) {
            try {
                p.put("max_shard_bytes", Sizes.parse(cl.getOptionValue("max-shard-size")));
            } catch (IllegalArgumentException e) {
                throw new UsageException("--max-shard-size: " + e.getMessage());
            }
        }
        if (cl.hasOption("threads")) {
            p.put("threads", Main.intValue(cl, "threads", 1, 1, 4096));
        }
        return OneStepRecipe.run(cl, out, io[0], io[1], List.of(new StageEntry("convert", p)));
    }
}
