package dev.moekit.recipes.results;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The KL-versus-bits frontier of the measured rows against llama.cpp's quantizers: a Markdown section and a PNG.
 * moekit's best at a width is the least mean KL of any measured row with at most that many stored bits per weight;
 * llama.cpp's points are the figures issue 11 gives (GGUF k-quants on the same checkpoints, dequantized and scored
 * the same way, embeddings and lm_head unquantized, bits counted over the decoder Linear weights with scales and
 * minimums) and, where it gives none (mixtral-upcycled-tiny; qwen2moe-tiny's imatrix, Q4_0 and Q8_0), those
 * measured here the same way by scripts/llamacpp/reference.sh (docs/results/llamacpp-reference.md: llama.cpp's type
 * mixture through ggml's kernels, which reproduces every figure the issue gives to within 0.0004 in KL).
 */
final class Frontier {
    /** One measured row. */
    record Point(String model, String setting, double bits, double kl) {}

    /** One llama.cpp reference point; {@code measured}: by scripts/llamacpp/reference.sh, not given by issue 11. */
    record Ref(String model, String type, double bits, double kl, boolean measured) {
        Ref(String model, String type, double bits, double kl) {
            this(model, type, bits, kl, false);
        }

        static Ref measured(String model, String type, double bits, double kl) {
            return new Ref(model, type, bits, kl, true);
        }

        String label() {
            return measured ? type + " (measured here)" : type;
        }
    }

    static final List<Ref> LLAMA_CPP = List.of(
            new Ref("mixtral-tiny", "Q2_K", 3.05, 0.082), new Ref("mixtral-tiny", "Q2_K+imatrix", 3.05, 0.073),
            new Ref("mixtral-tiny", "Q3_K_M", 3.91, 0.0235), new Ref("mixtral-tiny", "Q3_K_M+imatrix", 3.91, 0.0218),
            new Ref("mixtral-tiny", "Q4_0", 4.58, 0.0157),
            new Ref("mixtral-tiny", "Q4_K_M", 4.81, 0.0091), new Ref("mixtral-tiny", "Q4_K_M+imatrix", 4.81, 0.0090),
            new Ref("mixtral-tiny", "Q8_0", 8.50, 0.0004),
            new Ref("qwen2moe-tiny", "Q2_K", 3.20, 0.102), new Ref("qwen2moe-tiny", "Q3_K_M", 4.09, 0.0254),
            new Ref("qwen2moe-tiny", "Q4_K_M", 5.09, 0.0110),
            // docs/results/llamacpp-reference.md (2026-12-03)
            Ref.measured("qwen2moe-tiny", "Q2_K+imatrix", 3.20, 0.0899), Ref.measured("qwen2moe-tiny", "Q3_K_M+imatrix", 4.08, 0.0233),
            Ref.measured("qwen2moe-tiny", "Q4_0", 4.50, 0.0177), Ref.measured("qwen2moe-tiny", "Q4_K_M+imatrix", 5.09, 0.0104),
            Ref.measured("qwen2moe-tiny", "Q8_0", 8.50, 0.0003),
            Ref.measured("mixtral-upcycled-tiny", "Q2_K", 3.05, 0.2079), Ref.measured("mixtral-upcycled-tiny", "Q2_K+imatrix", 3.05, 0.1695),
            Ref.measured("mixtral-upcycled-tiny", "Q3_K_M", 3.91, 0.0594), Ref.measured("mixtral-upcycled-tiny", "Q3_K_M+imatrix", 3.91, 0.0553),
            Ref.measured("mixtral-upcycled-tiny", "Q4_0", 4.58, 0.0367),
            Ref.measured("mixtral-upcycled-tiny", "Q4_K_M", 4.81, 0.0231), Ref.measured("mixtral-upcycled-tiny", "Q4_K_M+imatrix", 4.81, 0.0224),
            Ref.measured("mixtral-upcycled-tiny", "Q8_0", 8.50, 0.0016));

    private final List<Point> points = new ArrayList<>();

    synchronized void add(Point p) {
        if (p.bits() > 0 && Double.isFinite(p.kl())) {
            points.add(p);
        }
    }

    /** Every measured row of {@code model}. */
    synchronized List<Point> points(String model) {
        return points.stream().filter(p -> p.model().equals(model)).toList();
    }

    /** moekit's best row with at most {@code bits} stored bits per weight. */
    Optional<Point> best(String model, double bits) {
        return points.stream().filter(p -> p.model().equals(model) && p.bits() <= bits + 1e-9).min(Comparator.comparingDouble(Point::kl));
    }

    /** The rows no other row beats at equal or fewer bits, by bits. */
    List<Point> pareto(String model) {
        List<Point> mine = points.stream().filter(p -> p.model().equals(model)).sorted(Comparator.comparingDouble(Point::bits)
                .thenComparingDouble(Point::kl)).toList();
        List<Point> front = new ArrayList<>();
        double least = Double.POSITIVE_INFINITY;
        for (Point p : mine) {
            if (p.kl() < least) {
                front.add(p);
                least = p.kl();
            }
        }
        return front;
    }

    /** The frontier section of {@code m}: per llama.cpp point, moekit's best at no more bits, the ratio, and the plot. */
    String markdown(String m, String png) {
        StringBuilder b = new StringBuilder("### ").append(m).append(": frontier against llama.cpp\n\n");
        b.append("![mean KL against stored bits per weight, ").append(m).append("](").append(png).append(")\n\n");
        List<Ref> refs = LLAMA_CPP.stream().filter(r -> r.model().equals(m)).toList();
        if (refs.isEmpty()) {
            b.append("No llama.cpp reference for this model.\n\n");
        } else {
            if (refs.stream().anyMatch(Ref::measured)) {
                b.append("llama.cpp's points: issue 11's figures, and those it does not give measured here the same way ('measured here': ")
                        .append("`scripts/llamacpp/reference.sh`, [llamacpp-reference.md](llamacpp-reference.md), which reproduces the issue's figures).\n\n");
            }
            b.append("| llama.cpp | bits | KL | moekit's best at <= bits | its bits | its KL | ratio |\n|---|---|---|---|---|---|---|\n");
            for (Ref r : refs) {
                Optional<Point> p = best(m, r.bits());
                b.append(String.format(Locale.ROOT, "| %s | %.2f | %.4f | ", r.label(), r.bits(), r.kl()));
                if (p.isEmpty()) {
                    b.append("none measured | | | |\n");
                } else {
                    b.append(String.format(Locale.ROOT, "%s | %.2f | %.4f | %.2fx |\n", p.get().setting(), p.get().bits(), p.get().kl(),
                            p.get().kl() / r.kl()));
                }
            }
            b.append('\n');
        }
        if (!refs.isEmpty()) {
            b.append(gaps(m, refs));
        }
        List<String> parts = new ArrayList<>();
        for (Point p : pareto(m)) {
            parts.add(String.format(Locale.ROOT, "%s (%.2f bits, %.4f)", p.setting(), p.bits(), p.kl()));
        }
        b.append("moekit's Pareto front (rows no other row beats at equal or fewer bits): ")
                .append(parts.isEmpty() ? "none measured" : String.join("; ", parts)).append(".\n\n");
        return b.toString();
    }

    /** Widths at which the gap to llama.cpp is stated. */
    static final double[] GAP_WIDTHS = {3.0, 4.0, 5.0};

    /**
     * The gap at 3, 4 and 5 bits: each side's best at no more bits (a step: what one can pick), and each side's front
     * interpolated at exactly that width (KL log-linear between neighbouring front points; empty outside a side's
     * measured range), with moekit's interpolated KL over llama.cpp's.
     */
    String gaps(String m, List<Ref> refs) {
        List<Point> mine = pareto(m);
        List<Point> theirs = new ArrayList<>();
        double least = Double.POSITIVE_INFINITY;
        for (Ref r : refs.stream().sorted(Comparator.comparingDouble(Ref::bits).thenComparingDouble(Ref::kl)).toList()) {
            if (r.kl() < least) {
                theirs.add(new Point(m, r.label(), r.bits(), r.kl()));
                least = r.kl();
            }
        }
        StringBuilder b = new StringBuilder("Gap at 3, 4 and 5 bits per weight (best at no more bits; fronts interpolated at the width, ")
                .append("log KL linear in bits):\n\n| bits | moekit's best at <= bits | llama.cpp's best at <= bits | moekit interpolated | ")
                .append("llama.cpp interpolated | ratio (interpolated) |\n|---|---|---|---|---|---|\n");
        for (double w : GAP_WIDTHS) {
            Optional<Point> mb = best(m, w);
            Optional<Point> tb = theirs.stream().filter(p -> p.bits() <= w + 1e-9).min(Comparator.comparingDouble(Point::kl));
            Optional<Double> mi = interpolate(mine, w);
            Optional<Double> ti = interpolate(theirs, w);
            b.append(String.format(Locale.ROOT, "| %.0f | %s | %s | %s | %s | %s |\n", w, cell(mb), cell(tb),
                    mi.map(x -> String.format(Locale.ROOT, "%.4f", x)).orElse("outside the measured range"),
                    ti.map(x -> String.format(Locale.ROOT, "%.4f", x)).orElse("outside its range"),
                    mi.isPresent() && ti.isPresent() ? String.format(Locale.ROOT, "%.2fx", mi.get() / ti.get()) : "-"));
        }
        return b.append('\n').toString();
    }

    private static String cell(Optional<Point> p) {
        return p.map(x -> String.format(Locale.ROOT, "%s (%.2f bits, %.4f)", x.setting(), x.bits(), x.kl())).orElse("none");
    }

    /** A front's KL at {@code bits}, log-linear between the points around it; empty outside the front's bits. */
    static Optional<Double> interpolate(List<Point> front, double bits) {
        for (int i = 0; i + 1 < front.size(); i++) {
            Point a = front.get(i);
            Point c = front.get(i + 1);
            if (a.bits() <= bits && bits <= c.bits() && a.kl() > 0 && c.kl() > 0) {
                double t = c.bits() == a.bits() ? 0 : (bits - a.bits()) / (c.bits() - a.bits());
                return Optional.of(Math.exp(Math.log(a.kl()) + t * (Math.log(c.kl()) - Math.log(a.kl()))));
            }
        }
        return front.stream().filter(p -> Math.abs(p.bits() - bits) < 1e-9).map(Point::kl).findFirst();
    }

    /** The plot of {@code model}: every row (grey), moekit's Pareto front (blue), llama.cpp's points (red); KL on a log axis. */
    void png(String model, Path file) {
        List<String> models = List.of(model);
        int panelW = 640;
        int h = 440;
        int w = panelW * models.size();
        BufferedImage im = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = im.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        double xMin = 2;
        double xMax = 9;
        double yMin = Math.log10(2e-4);
        double yMax = Math.log10(2);
        for (int k = 0; k < models.size(); k++) {
            String m = models.get(k);
            int left = k * panelW + 60;
            int right = (k + 1) * panelW - 20;
            int top = 40;
            int bottom = h - 50;
            Axis ax = new Axis(left, right, top, bottom, xMin, xMax, yMin, yMax);
            g.setColor(Color.BLACK);
            g.drawString(m, left, 25);
            g.drawRect(left, top, right - left, bottom - top);
            for (int x = 2; x <= 9; x++) {
                int px = ax.x(x);
                g.setColor(new Color(230, 230, 230));
                g.drawLine(px, top, px, bottom);
                g.setColor(Color.BLACK);
                g.drawString(Integer.toString(x), px - 4, bottom + 15);
            }
            for (int e = -3; e <= 0; e++) {
                int py = ax.y(e);
                g.setColor(new Color(230, 230, 230));
                g.drawLine(left, py, right, py);
                g.setColor(Color.BLACK);
                g.drawString(e == 0 ? "1" : "1e" + e, left - 35, py + 4);
            }
            g.drawString("stored bits per weight", (left + right) / 2 - 60, h - 15);
            g.drawString("mean KL", 5, top - 8);
            g.setColor(new Color(150, 150, 150));
            for (Point p : points) {
                if (p.model().equals(m) && p.bits() <= xMax) {
                    g.fillOval(ax.x(p.bits()) - 2, ax.y(Math.log10(Math.max(p.kl(), 2e-4))) - 2, 5, 5);
                }
            }
            List<Point> front = pareto(m).stream().filter(p -> p.bits() <= xMax).toList();
            g.setColor(new Color(30, 90, 200));
            g.setStroke(new BasicStroke(2f));
            for (int i = 1; i < front.size(); i++) {
                Point a = front.get(i - 1);
                Point c = front.get(i);
                g.drawLine(ax.x(a.bits()), ax.y(Math.log10(Math.max(a.kl(), 2e-4))), ax.x(c.bits()), ax.y(Math.log10(Math.max(c.kl(), 2e-4))));
            }
            for (Point p : front) {
                g.fillOval(ax.x(p.bits()) - 4, ax.y(Math.log10(Math.max(p.kl(), 2e-4))) - 4, 8, 8);
            }
            g.setStroke(new BasicStroke(1f));
            g.setColor(new Color(200, 30, 30));
            for (Ref r : LLAMA_CPP) {
                if (r.model().equals(m)) {
                    int px = ax.x(r.bits());
                    int py = ax.y(Math.log10(r.kl()));
                    g.drawLine(px - 5, py - 5, px + 5, py + 5);
                    g.drawLine(px - 5, py + 5, px + 5, py - 5);
                    if (!r.type().endsWith("+imatrix")) { // the imatrix variant sits at the same bits, just below
                        g.drawString(r.type(), px + 7, py - 6);
                    }
                }
            }
            g.setColor(new Color(30, 90, 200));
            g.drawString("moekit Pareto front", right - 150, top + 18);
            g.setColor(new Color(150, 150, 150));
            g.drawString("moekit rows", right - 150, top + 33);
            g.setColor(new Color(200, 30, 30));
            g.drawString("x llama.cpp", right - 150, top + 48);
        }
        g.dispose();
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            javax.imageio.ImageIO.write(im, "png", file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private record Axis(int left, int right, int top, int bottom, double xMin, double xMax, double yMin, double yMax) {
        int x(double v) {
            return (int) Math.round(left + (v - xMin) / (xMax - xMin) * (right - left));
        }

        int y(double log10) {
            return (int) Math.round(bottom - (log10 - yMin) / (yMax - yMin) * (bottom - top));
        }
    }
}
