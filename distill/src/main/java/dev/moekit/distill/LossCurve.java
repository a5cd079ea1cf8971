package dev.moekit.distill;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;
import javax.imageio.ImageIO;

/**
 * The loss log as CSV ({@link StepLog#CSV_HEADER}) and as a PNG line chart drawn with Java2D, headless: total loss in
 * blue, KD in orange, CE in green, with the step and loss ranges as labels. Labels are skipped on hosts without fonts.
 */
public final class LossCurve {
    private static final int W = 720;
    private static final int H = 360;
    private static final int PAD = 48;

    private LossCurve() {}

    public static String csv(List<StepLog> log) {
        StringBuilder b = new StringBuilder(StepLog.CSV_HEADER).append('\n');
        for (StepLog r : log) {
            b.append(r.csv()).append('\n');
        }
        return b.toString();
    }

    /** PNG bytes of the chart. */
    public static byte[] png(List<StepLog> log) {
        System.setProperty("java.awt.headless", "true");
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, W, H);
            g.setColor(Color.GRAY);
            g.drawRect(PAD, PAD / 2, W - 2 * PAD, H - PAD - PAD / 2);
            List<StepLog> rows = log.stream().filter(r -> !r.skipped() && Double.isFinite(r.loss())).toList();
            if (!rows.isEmpty()) {
                double lo = Double.MAX_VALUE;
                double hi = -Double.MAX_VALUE;
                for (StepLog r : rows) {
                    for (double d : new double[] {r.loss(), r.kd(), r.ce()}) {
                        if (Double.isFinite(d)) {
                            lo = Math.min(lo, d);
                            hi = Math.max(hi, d);
                        }
                    }
                }
                if (hi - lo < 1e-12) {
                    hi = lo + 1;
                }
                int first = rows.getFirst().step();
                int last = Math.max(first + 1, rows.getLast().step());
                line(g, rows, StepLog::loss, new Color(31, 119, 180), first, last, lo, hi);
                line(g, rows, StepLog::kd, new Color(255, 127, 14), first, last, lo, hi);
                line(g, rows, StepLog::ce, new Color(44, 160, 44), first, last, lo, hi);
                labels(g, first, last, lo, hi);
            }
        } finally {
            g.dispose();
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            ImageIO.write(img, "png", out);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot encode the loss chart", e);
        }
        return out.toByteArray();
    }

    /** Writes {@code loss.csv} and {@code loss.png} into {@code dir}; returns the two files. */
    public static List<Path> write(Path dir, List<StepLog> log) {
        try {
            Files.createDirectories(dir);
            Path csv = Files.writeString(dir.resolve("loss.csv"), csv(log));
            Path png = Files.write(dir.resolve("loss.png"), png(log));
            return List.of(csv, png);
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot write the loss curve", e);
        }
    }

    private static void line(Graphics2D g, List<StepLog> rows, ToDoubleFunction<StepLog> f, Color c, int first, int last,
                             double lo, double hi) {
        Path2D.Double p = new Path2D.Double();
        boolean started = false;
        for (StepLog r : rows) {
            double v = f.applyAsDouble(r);
            if (!Double.isFinite(v)) {
                continue;
            }
            double x = PAD + (double) (r.step() - first) / (last - first) * (W - 2 * PAD);
            double y = H - PAD - (v - lo) / (hi - lo) * (H - PAD - PAD / 2.0);
            if (started) {
                p.lineTo(x, y);
            } else {
                p.moveTo(x, y);
                started = true;
            }
        }
        if (started) {
            g.setColor(c);
            g.setStroke(new BasicStroke(1.5f));
            g.draw(p);
        }
    }

    private static void labels(Graphics2D g, int first, int last, double lo, double hi) {
        try {
            g.setColor(Color.DARK_GRAY);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            g.drawString(String.format(Locale.ROOT, "%.4g", hi), 4, PAD / 2 + 12);
            g.drawString(String.format(Locale.ROOT, "%.4g", lo), 4, H - PAD);
            g.drawString("step " + first, PAD, H - PAD + 16);
            g.drawString("step " + last, W - PAD - 60, H - PAD + 16);
            g.drawString("loss (blue)  kd (orange)  ce (green)", PAD + 120, H - 10);
        } catch (RuntimeException | Error e) {
            // no fonts on this host: the chart stays without labels
        }
    }
}
