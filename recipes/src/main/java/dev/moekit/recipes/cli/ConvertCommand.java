package dev.moekit.recipes.cli;

import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.transform.Convert;
import java.io.PrintStream;
import java.nio.file.Path;
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
                Main.flag("replace", "replace an existing output folder (only after the new one is complete)"));
    }

    @Override
    public int run(CommandLine cl, PrintStream out) {
        Path in = Path.of(Main.arg(cl, 0, "<in> checkpoint folder"));
        Path o = Path.of(Main.arg(cl, 1, "<out> folder"));
        Main.expectArgs(cl, 2);
        DType dt = cl.hasOption("dtype") ? DType.parseUser(cl.getOptionValue("dtype")) : null;
        long shard = cl.hasOption("max-shard-size") ? Sizes.parse(cl.getOptionValue("max-shard-size")) : CheckpointWriter.DEFAULT_MAX_SHARD;
        int threads = cl.hasOption("threads") ? Integer.parseInt(cl.getOptionValue("threads")) : Runtime.getRuntime().availableProcessors();
        CheckpointWriter.Options wo = CheckpointWriter.Options.defaults().withMaxShardSize(shard).withReplace(cl.hasOption("replace"));
        long t0 = System.nanoTime();
        Convert.Result r = Convert.run(in, o, new Convert.Options(dt, wo, threads));
        double s = (System.nanoTime() - t0) / 1e9;
        out.printf("wrote %s: %d tensors (%d converted), %s in %d shard(s), %.2f s (%.2f GB/s of input)%n", r.output(), r.tensors(),
                r.converted(), Sizes.human(r.bytesOut()), r.shards().size(), s, r.bytesIn() / 1e9 / s);
        return 0;
    }
}
