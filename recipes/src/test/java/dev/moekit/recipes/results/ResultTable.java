package dev.moekit.recipes.results;

import dev.moekit.eval.DomainResult;
import dev.moekit.eval.EvalResult;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Rows of evaluation results rendered as a Markdown table: perplexity per domain, mean KL, top-1, size. */
final class ResultTable {
    record Row(String model, String setting, EvalResult eval, String note, long bytes, String raw) {}

    private final List<Row> rows = new ArrayList<>();
    private final java.nio.file.Path file;
    private final String header;
    private final List<String> models;

    /** A table rewritten to {@code file} after every row, so an interrupted run keeps what it measured. */
    ResultTable(java.nio.file.Path file, String header, List<String> models) {
        this.file = file;
        this.header = header;
        this.models = List.copyOf(models);
    }

    void add(String model, String setting, EvalResult eval, String note, long bytes) {
        rows.add(new Row(model, setting, eval, note, bytes, null));
        write();
    }

    private final java.util.Map<String, List<String>> priorDomains = new java.util.HashMap<>();

    /**
     * The data files an earlier run's table of {@code model} has columns for, from its header line
     * ({@code | setting | dict ppl | ... |}): the header when every row of the model is kept from that run.
     */
    void priorHeader(String model, String headerLine) {
        List<String> ds = new java.util.ArrayList<>();
        for (String cell : headerLine.split("\\|")) {
            String c = cell.trim();
            if (c.endsWith(" ppl")) {
                ds.add(c.substring(0, c.length() - 4));
            }
        }
        priorDomains.putIfAbsent(model, ds);
    }

    /** A row measured by an earlier run, kept as its Markdown line ({@code | setting | ... |}). */
    void addRaw(String model, String setting, String line) {
        rows.add(new Row(model, setting, null, "", 0, line));
    }

    private java.util.function.Function<String, String> footer = m -> "";

    /** Text written after each model's table on every write (e.g. a summary computed from its rows so far). */
    void footer(java.util.function.Function<String, String> f) {
        footer = f;
    }

    void write() {
        StringBuilder md = new StringBuilder(header);
        for (String m : models) {
            md.append("## ").append(m).append("\n\n").append(markdown(m)).append('\n').append(footer.apply(m));
        }
        try {
            java.nio.file.Files.createDirectories(file.toAbsolutePath().getParent());
            java.nio.file.Files.writeString(file, md.toString());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    List<Row> rows() {
        return rows;
    }

    String markdown(String model) {
        StringBuilder b = new StringBuilder();
        List<Row> mine = rows.stream().filter(r -> r.model().equals(model)).toList();
        if (mine.isEmpty()) {
            return "";
        }
        List<String> domains = mine.stream().filter(r -> r.eval() != null).findFirst()
                .map(r -> r.eval().domains().stream().map(DomainResult::domain).toList()).orElse(priorDomains.getOrDefault(model, List.of()));
        b.append("| setting |");
        domains.forEach(d -> b.append(' ').append(d).append(" ppl |"));
        b.append(" mean KL | top-1 | MB on disk | notes |\n|---|");
        domains.forEach(d -> b.append("---|"));
        b.append("---|---|---|---|\n");
        for (Row r : mine) {
            if (r.raw() != null) {
                b.append(r.raw()).append('\n');
                continue;
            }
            b.append("| ").append(r.setting()).append(" |");
            if (r.eval() == null) {
                domains.forEach(d -> b.append(" - |"));
                b.append(" - | - | - | ").append(r.note()).append(" |\n");
                continue;
            }
            for (DomainResult d : r.eval().domains()) {
                b.append(String.format(Locale.ROOT, " %.3f |", d.perplexity()));
            }
            double top1 = r.eval().domains().stream().mapToDouble(DomainResult::top1).filter(Double::isFinite).average().orElse(Double.NaN);
            b.append(r.eval().overallKl() == null ? " 0 |" : String.format(Locale.ROOT, " %.4f |", r.eval().overallKl().mean()));
            b.append(Double.isNaN(top1) ? " - |" : String.format(Locale.ROOT, " %.1f%% |", 100 * top1));
            b.append(String.format(Locale.ROOT, " %.1f |", r.bytes() / 1e6));
            b.append(' ').append(r.note()).append(" |\n");
        }
        return b.toString();
    }
}
