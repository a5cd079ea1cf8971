package dev.moekit.recipes.cli;

import java.util.List;

/** Every command of the CLI, in help order. */
final class Commands {
    private Commands() {}

    static List<Command> all() {
        return List.of(new InspectCommand(), new VerifyCommand(), new ConvertCommand(), new EvalCommand(), new PruneCommand(), new QuantizeCommand(), new DistillCommand(), new SlimCommand(), new CompressExpertsCommand(), new UpcycleCommand("upcycle"), new UpcycleCommand("btx"), new UpcycleCommand("bam"), new RunCommand(), new BatchCommand(), new MethodsCommand());
    }
}
