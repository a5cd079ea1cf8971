package dev.moekit.recipes.cli;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.SpecChecker;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;

/**
 * {@code moekit verify}: the structural check against the family description (every declared tensor with the
 * expected shape and dtype, nothing unexpected, config and index agreeing) plus a NaN/Inf scan. Exit 0 only if clean.
 */
final class VerifyCommand implements Command {
    @Override
    public String name() {
        return "verify";
    }

    @Override
    public String summary() {
        return "check structure against the family description and scan for NaN/Inf (exit 0 only when clean)";
    }

    @Override
    public String arguments() {
        return "<checkpoint>";
    }

    @Override
    public Options options() {
        return Main.options(Main.flag("no-scan", "skip the NaN/Inf scan (structure only, reads no weights)"));
    }

    @Override
    public int run(CommandLine cl, PrintStream out) {
        Path p = Path.of(Main.arg(cl, 0, "<checkpoint> folder"));
        Main.expectArgs(cl, 1);
        try (PackedView view = PackedView.of(p); Checkpoint c = Checkpoint.open(view.path())) {
            ModelSpec spec = ModelSpec.of(c);
            List<String> problems = new ArrayList<>(SpecChecker.check(c, spec));
            if (!cl.hasOption("no-scan")) {
                problems.addAll(SpecChecker.scanNonFinite(c));
            }
            if (problems.isEmpty()) {
                out.printf("%s: ok (%s, %d tensors%s%s)%n", p, spec.family().name(), c.names().size(),
                        cl.hasOption("no-scan") ? ", not scanned" : ", all finite",
                        view.packed() ? "; packed " + view.format() + ", every packed module read back and checked as the weights it holds" : "");
                return 0;
            }
            for (String s : problems) {
                out.println(p + ": " + Main.safe(s));
            }
            out.printf("%s: %d problem(s)%n", p, problems.size());
            return 1;
        }
    }
}
