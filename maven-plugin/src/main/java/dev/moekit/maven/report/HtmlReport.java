package dev.moekit.maven.report;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The readable evaluation report: a self-contained HTML page (tables for every number) beside two PNG charts,
 * per-domain perplexity bars and the expert-usage heatmap per layer.
 */
public final class HtmlReport {
    private HtmlReport() {}

    /** Writes {@code html} and its charts ({@code <name>-perplexity.png}, {@code <name>-routing.png}) from a report JSON. */
    public static void write(JsonNode report, Path html) throws IOException {
        JsonNode ev = report.path("eval");
        String base = html.getFileName().toString().replaceFirst("\\.html$", "");
        List<Charts.Bars> bars = new ArrayList<>();
        for (JsonNode d : ev.path("domains")) {
            bars.add(new Charts.Bars(d.path("domain").asText(), num(d.path("reference_perplexity")), num(d.path("perplexity"))));
        }
        String pplPng = base + "-perplexity.png";
        Charts.png(Charts.perplexity(bars), html.resolveSibling(pplPng));
        List<long[]> counts = new ArrayList<>();
        List<Integer> layers = new ArrayList<>();
        for (JsonNode l : ev.path("routing")) {
            long[] c = new long[l.path("counts").size()];
            for (int i = 0; i < c.length; i++) {
                c[i] = l.path("counts").get(i).asLong();
            }
            counts.add(c);
            layers.add(l.path("layer").asInt());
        }
        String routingPng = base + "-routing.png";
        if (!counts.isEmpty()) {
            Charts.png(Charts.routing(counts, layers), html.resolveSibling(routingPng));
        }

        StringBuilder b = new StringBuilder();
        b.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>moekit evaluation: ")
                .append(esc(name(report.path("output").path("path").asText()))).append("</title>\n<style>")
                .append("body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}")
                .append("td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}th{background:#f0f3f6}")
                .append("td:first-child,th:first-child{text-align:left}code{background:#f4f4f4;padding:1px 4px}")
                .append("</style></head><body>\n");
        b.append("<h1>moekit evaluation</h1>\n<table>");
        row(b, "output (evaluated)", "<code>" + esc(report.path("output").path("path").asText()) + "</code>");
        row(b, "input (reference)", "<code>" + esc(report.path("input").path("path").asText()) + "</code>");
        long in = report.path("input").path("weight_bytes").asLong();
        long out = report.path("output").path("weight_bytes").asLong();
        row(b, "weight bytes", String.format(Locale.ROOT, "%,d &rarr; %,d (compression ratio %.3f)", in, out, out == 0 ? Double.NaN : (double) in / out));
        row(b, "protocol", String.format(Locale.ROOT, "%d window(s) of %d tokens per file, %s, %s", ev.path("windows").asInt(), ev.path("window").asInt(),
                esc(ev.path("device").asText()), esc(ev.path("precision").asText())));
        row(b, "generated", esc(report.path("generated").asText()) + " by moekit " + esc(report.path("moekit_version").asText()));
        b.append("</table>\n<h2>Per domain</h2>\n<table><tr><th>domain</th><th>tokens</th><th>input ppl</th><th>output ppl</th>")
                .append("<th>ppl ratio</th><th>KL mean</th><th>KL p99</th><th>KL max</th><th>top-1</th></tr>\n");
        for (JsonNode d : ev.path("domains")) {
            double ref = num(d.path("reference_perplexity"));
            double ppl = num(d.path("perplexity"));
            b.append("<tr><td>").append(esc(d.path("domain").asText())).append("</td><td>").append(d.path("tokens").asLong()).append("</td><td>")
                    .append(f(ref)).append("</td><td>").append(f(ppl)).append("</td><td>").append(f(ppl / ref)).append("</td><td>")
                    .append(f(num(d.path("kl").path("mean")))).append("</td><td>").append(f(num(d.path("kl").path("p99")))).append("</td><td>")
                    .append(f(num(d.path("kl").path("max")))).append("</td><td>").append(pct(num(d.path("top1")))).append("</td></tr>\n");
        }
        JsonNode k = ev.path("overall_kl");
        if (k.isObject()) {
            b.append(String.format(Locale.ROOT, "<tr><th>all domains</th><th>%d</th><th></th><th></th><th></th><th>%s</th><th>%s</th><th>%s</th><th></th></tr>%n",
                    k.path("tokens").asLong(), f(num(k.path("mean"))), f(num(k.path("p99"))), f(num(k.path("max")))));
        }
        b.append("</table>\n<p><img src=\"").append(esc(pplPng)).append("\" alt=\"perplexity per domain, input and output\"></p>\n");
        if (!counts.isEmpty()) {
            b.append("<h2>Expert usage per layer</h2>\n<p><img src=\"").append(esc(routingPng)).append("\" alt=\"expert usage heatmap\"></p>\n<table><tr><th>layer</th>");
            int experts = counts.stream().mapToInt(c -> c.length).max().orElse(0);
            for (int e = 0; e < experts; e++) {
                b.append("<th>e").append(e).append("</th>");
            }
            b.append("</tr>\n");
            for (int l = 0; l < counts.size(); l++) {
                long sum = 0;
                for (long v : counts.get(l)) {
                    sum += v;
                }
                b.append("<tr><td>").append(layers.get(l)).append("</td>");
                for (long v : counts.get(l)) {
                    b.append("<td>").append(pct(sum == 0 ? Double.NaN : (double) v / sum)).append("</td>");
                }
                b.append("</tr>\n");
            }
            b.append("</table>\n");
        }
        b.append("<h2>Data</h2>\n<table><tr><th>file</th><th>bytes</th><th>sha256</th></tr>\n");
        for (JsonNode d : report.path("data")) {
            b.append("<tr><td><code>").append(esc(d.path("path").asText())).append("</code></td><td>").append(d.path("bytes").asLong())
                    .append("</td><td><code>").append(esc(d.path("sha256").asText().substring(0, Math.min(16, d.path("sha256").asText().length()))))
                    .append("</code></td></tr>\n");
        }
        b.append("</table>\n</body></html>\n");
        Files.writeString(html, b, StandardCharsets.UTF_8);
    }

    private static void row(StringBuilder b, String k, String v) {
        b.append("<tr><th>").append(esc(k)).append("</th><td style=\"text-align:left\">").append(v).append("</td></tr>\n");
    }

    static double num(JsonNode n) {
        return n.isNumber() ? n.asDouble() : n.isTextual() ? parse(n.asText()) : Double.NaN;
    }

    private static double parse(String s) {
        try {
            return Double.parseDouble(s);
        } catch (NumberFormatException e) {
            return Double.NaN;
        }
    }

    private static String f(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.4g", v) : "n/a";
    }

    private static String pct(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.1f%%", 100 * v) : "n/a";
    }

    private static String name(String path) {
        int i = path.lastIndexOf('/');
        return i < 0 ? path : path.substring(i + 1);
    }

    static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
