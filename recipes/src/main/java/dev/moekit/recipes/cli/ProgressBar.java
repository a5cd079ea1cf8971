package dev.moekit.recipes.cli;

import dev.moekit.pipeline.Events;
import java.io.PrintStream;
import java.util.Locale;

/**
 * The CLI's {@link Events}: notices as {@code moekit: ...} lines, progress of long steps as one updating line on a
 * terminal (task, bar, done/total, rate, ETA) or a plain line every 10% otherwise (batch logs stay readable). Both go
 * to stderr, in order. A task's first word names it: {@code distill loss 2.31 950 tok/s} keeps one bar (rate and
 * ETA) while its figures change.
 */
final class ProgressBar implements Events {
    private final PrintStream err;
    private final boolean tty;
    private String task = "";
    private long start;
    private int lastDecile = -1;
    private boolean open;

    ProgressBar(PrintStream err) {
        this(err, System.console() != null && System.console().isTerminal());
    }

    ProgressBar(PrintStream err, boolean tty) {
        this.err = err;
        this.tty = tty;
    }

    @Override
    public synchronized void info(String message) {
        endLine();
        err.println("moekit: " + message);
    }

    @Override
    public synchronized void update(String stage, int done, int total) {
        long now = System.nanoTime();
        String name = stage.split(" ", 2)[0];
        if (!name.equals(task) || done == 0) {
            task = name;
            start = now;
            lastDecile = -1;
        }
        double secs = (now - start) / 1e9;
        String rate = done > 0 && secs > 0 ? String.format(Locale.ROOT, "  %.1f/s", done / secs) : "";
        String eta = done > 0 && done < total ? "  ETA " + clock(secs / done * (total - done)) : done >= total && total > 0 ? "  " + clock(secs) : "";
        if (tty) {
            int w = 30;
            int filled = total <= 0 ? w : (int) Math.min(w, (long) w * done / total);
            err.printf("\r%-14s [%s%s] %d/%d%s%s\u001b[K", stage, "#".repeat(filled), " ".repeat(w - filled), done, total, rate, eta);
            open = true;
            if (done >= total) {
                endLine();
            }
        } else {
            int decile = total <= 0 ? 10 : (int) (10L * done / total);
            if (decile != lastDecile) {
                lastDecile = decile;
                err.printf("moekit: %s %d/%d%s%s%n", stage, done, total, rate, eta);
            }
        }
        err.flush();
    }

    private void endLine() {
        if (open) {
            err.println();
            open = false;
        }
    }

    static String clock(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }
}
