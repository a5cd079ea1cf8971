package dev.moekit.maven.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;

/**
 * The report's PNG charts, drawn with Java2D into images (headless; no window system needed). Where the JDK finds no
 * fonts, the charts are drawn without their labels; the HTML tables carry every number either way.
 */
public final class Charts {
    static {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    private static final Color INPUT = new Color(0x9e, 0xb3, 0xc2);
    private static final Color OUTPUT = new Color(0x1f, 0x5f, 0x99);
    private static final Color INK = new Color(0x22, 0x22, 0x22);

    /** One domain's perplexities. */
    public record Bars(String domain, double input, double output) {}

    private Charts() {}

    /** Grouped bars: input and output perplexity per domain. */
    public static BufferedImage perplexity(List<Bars> bars) {
        int group = 110;
        int left = 60;
        int top = 64;
        int plotH = 240;
        int w = Math.max(360, left + Math.max(1, bars.size()) * group + 20);
        int h = top + plotH + 50;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = canvas(img);
        double max = bars.stream().mapToDouble(b -> Math.max(b.input(), b.output())).filter(Double::isFinite).max().orElse(1);
        max = max <= 0 ? 1 : max * 1.15;
        g.setColor(INK);
        g.drawLine(left, top + plotH, w - 10, top + plotH);
        g.drawLine(left, top, left, top + plotH);
        for (int i = 0; i < bars.size(); i++) {
            Bars b = bars.get(i);
            int x = left + i * group + 15;
            bar(g, x, top, plotH, b.input(), max, INPUT);
            bar(g, x + 40, top, plotH, b.output(), max, OUTPUT);
            text(g, b.domain(), x + 40, top + plotH + 18, true);
            text(g, fmt(b.input()), x + 17, top + plotH - height(b.input(), max, plotH) - 4, true);
            text(g, fmt(b.output()), x + 57, top + plotH - height(b.output(), max, plotH) - 4, true);
        }
        text(g, "perplexity per domain (lower is better)", 10, 18, false);
        g.setColor(INPUT);
        g.fillRect(left, 30, 12, 12);
        g.setColor(OUTPUT);
        g.fillRect(left + 90, 30, 12, 12);
        text(g, "input", left + 18, 41, false);
        text(g, "output", left + 108, 41, false);
        g.dispose();
        return img;
    }

    /** Expert usage: one row per MoE layer, one cell per expert, darker = larger share of the layer's choices. */
    public static BufferedImage routing(List<long[]> layers, List<Integer> layerIndex) {
        int experts = layers.stream().mapToInt(c -> c.length).max().orElse(1);
        int cw = 46;
        int ch = 26;
        int left = 70;
        int top = 44;
        int w = Math.max(340, left + experts * cw + 20);
        int h = top + Math.max(1, layers.size()) * ch + 20;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = canvas(img);
        text(g, "expert usage per layer (share of routing choices)", 8, 16, false);
        for (int e = 0; e < experts; e++) {
            text(g, "e" + e, left + e * cw + cw / 2, top - 8, true);
        }
        for (int l = 0; l < layers.size(); l++) {
            long[] c = layers.get(l);
            long sum = 0;
            for (long v : c) {
                sum += v;
            }
            text(g, "layer " + layerIndex.get(l), 8, top + l * ch + ch / 2 + 5, false);
            for (int e = 0; e < c.length; e++) {
                double share = sum == 0 ? 0 : (double) c[e] / sum;
                double t = Math.min(1, share * c.length / 2.0); // uniform routing is the middle of the scale
                Color cell = blend(new Color(0xf7, 0xfb, 0xff), new Color(0x08, 0x30, 0x6b), t);
                g.setColor(cell);
                g.fillRect(left + e * cw, top + l * ch, cw - 2, ch - 2);
                g.setColor(t > 0.55 ? Color.WHITE : INK);
                text(g, String.format(Locale.ROOT, "%.0f%%", 100 * share), left + e * cw + cw / 2 - 1, top + l * ch + ch / 2 + 4, true, g.getColor());
            }
        }
        g.dispose();
        return img;
    }

    public static void png(BufferedImage img, Path file) throws IOException {
        if (!ImageIO.write(img, "png", file.toFile())) {
            throw new IOException("no PNG writer in this JDK");
        }
    }

    private static Graphics2D canvas(BufferedImage img) {
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, img.getWidth(), img.getHeight());
        g.setStroke(new BasicStroke(1f));
        return g;
    }

    private static int height(double v, double max, int plotH) {
        return Double.isFinite(v) && v > 0 ? (int) Math.round(plotH * Math.min(1, v / max)) : 0;
    }

    private static void bar(Graphics2D g, int x, int top, int plotH, double v, double max, Color c) {
        int bh = height(v, max, plotH);
        g.setColor(c);
        g.fillRect(x, top + plotH - bh, 34, bh);
    }

    private static void text(Graphics2D g, String s, int x, int y, boolean centred) {
        text(g, s, x, y, centred, INK);
    }

    /** Draws text if the JDK has fonts; a headless JDK without fontconfig fonts leaves the label out. */
    private static void text(Graphics2D g, String s, int x, int y, boolean centred, Color c) {
        try {
            g.setColor(c);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            FontMetrics m = g.getFontMetrics();
            g.drawString(s, centred ? x - m.stringWidth(s) / 2 : x, y);
        } catch (RuntimeException | Error e) {
            // no usable font: the chart stays readable through the HTML tables
        }
    }

    private static Color blend(Color a, Color b, double t) {
        return new Color((int) Math.round(a.getRed() + (b.getRed() - a.getRed()) * t), (int) Math.round(a.getGreen() + (b.getGreen() - a.getGreen()) * t),
                (int) Math.round(a.getBlue() + (b.getBlue() - a.getBlue()) * t));
    }

    static String fmt(double v) {
        return !Double.isFinite(v) ? "n/a" : v >= 100 ? String.format(Locale.ROOT, "%.0f", v) : String.format(Locale.ROOT, "%.2f", v);
    }
}
