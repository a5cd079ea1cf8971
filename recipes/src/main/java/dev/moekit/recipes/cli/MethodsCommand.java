package dev.moekit.recipes.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.method.Method;
import dev.moekit.toolkit.method.MethodKind;
import dev.moekit.toolkit.method.Methods;
import dev.moekit.toolkit.method.ParamInfo;
import java.io.PrintStream;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Options;

/** {@code moekit methods}: every registered method by kind, with its parameters, defaults, reference and calibration. */
final class MethodsCommand implements Command {
    @Override
    public String name() {
        return "methods";
    }

    @Override
    public String summary() {
        return "list every registered method by kind with its parameters, defaults and reference";
    }

    @Override
    public String arguments() {
        return "[kind]";
    }

    @Override
    public Options options() {
        return Main.options(Main.flag("json", "as JSON"));
    }

    @Override
    public int run(CommandLine cl, PrintStream out) throws Exception {
        Main.expectArgs(cl, 1);
        String only = cl.getArgList().isEmpty() ? null : cl.getArgList().getFirst();
        Methods all = Methods.standard();
        if (only != null && all.kinds().stream().noneMatch(k -> k.name().equals(only))) {
            throw new UsageException("unknown kind '" + only + "' (known: " + String.join(", ", all.kinds().stream().map(MethodKind::name).toList()) + ")");
        }
        ObjectNode root = Json.PRETTY.createObjectNode();
        for (MethodKind<?> k : all.kinds()) {
            if (only != null && !k.name().equals(only)) {
                continue;
            }
            ObjectNode kind = root.putObject(k.name());
            kind.put("description", k.description());
            ArrayNode ms = kind.putArray("methods");
            for (Method<?> m : all.kind(k).all()) {
                ObjectNode j = ms.addObject();
                j.put("name", m.name());
                j.put("summary", m.summary());
                j.put("reference", m.reference());
                j.put("calibration", m.calibration().name().toLowerCase(java.util.Locale.ROOT));
                ArrayNode ps = j.putArray("parameters");
                for (ParamInfo p : ParamInfo.of(m.parameters())) {
                    ObjectNode pj = ps.addObject().put("key", p.key()).put("type", p.type());
                    pj.set("default", p.defaultValue());
                    pj.put("doc", p.doc());
                }
            }
        }
        if (cl.hasOption("json")) {
            out.println(Json.PRETTY.writeValueAsString(root));
            return 0;
        }
        root.fields().forEachRemaining(k -> {
            out.println(k.getKey() + ": " + k.getValue().path("description").asText());
            for (var m : k.getValue().path("methods")) {
                out.printf("  %-20s %s  [calibration: %s]%s%n", m.path("name").asText(), m.path("summary").asText(), m.path("calibration").asText(),
                        m.path("reference").asText().isEmpty() ? "" : "  " + m.path("reference").asText());
                for (var p : m.path("parameters")) {
                    out.printf("      %-22s %-26s %-14s %s%n", p.path("key").asText(), p.path("type").asText(),
                            p.path("default").isMissingNode() || p.path("default").isNull() ? "-" : "= " + p.path("default"), p.path("doc").asText());
                }
            }
            out.println();
        });
        return 0;
    }
}
