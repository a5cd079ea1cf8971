package dev.moekit.recipes.cli;

import dev.moekit.eval.Progress;
import java.io.PrintStream;

/**
 * Progress on stderr: a redrawn bar on a terminal, a line every 10% otherwise (logs of batch jobs stay readable).
 */
final class ProgressBar implements Progress {
    private final PrintStream err;
    private final boolean tty = System.console() != null;
    private String lastStage = "";
    private int lastDecile = -1;

    ProgressBar(PrintStream err) {
        this.err = err;
    }

    @Override
    public synchronized void update(String stage, int done, int total) {
        if (!stage.equals(lastStage)) {
            lastStage = stage;
            lastDecile = -1;
        }
        if (tty) {
            int w = 30;
            int filled = total == 0 ? w : (int) ((long) w * done / total);
            err.printf("\r%-12s [%s%s] %d/%d", stage, "#".repeat(filled), " ".repeat(w - filled), done, total);
            if (done >= total) {
                err.println();
            }
        } else {
            int decile = total == 0 ? 10 : 10 * done / total;
            if (decile != lastDecile) {
                lastDecile = decile;
                err.printf("%s: %d/%d%n", stage, done, total);
            }
        }
    }
}
