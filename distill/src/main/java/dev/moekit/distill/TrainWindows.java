package dev.moekit.distill;

import dev.moekit.eval.TextWindows;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The training windows and the order they are visited in: an endless stream in which position {@code p} is window
 * {@code perm_e[p mod n]} of epoch {@code e = p / n}, each epoch a fresh permutation drawn from the seed and the epoch
 * number. The data position is therefore one number, and the shuffle's RNG state follows from (seed, epoch): a resumed
 * run visits exactly the windows the uninterrupted one would have.
 */
public final class TrainWindows {
    private final int[][] windows;
    private final long seed;
    private long epoch = -1;
    private int[] order;

    private TrainWindows(int[][] windows, long seed) {
        this.windows = windows;
        this.seed = seed;
    }

    /** Windows given directly. */
    public static TrainWindows of(int[][] windows, long seed) {
        return new TrainWindows(new TrainData.Windows(windows).windows(), seed);
    }

    /** Loads {@code data}; text is tokenized with the tokenizer in {@code tokenizerDir} (the student's folder). */
    public static TrainWindows load(TrainData data, Path tokenizerDir, long seed) {
        return switch (data) {
            case TrainData.Windows w -> of(w.windows(), seed);
            case TrainData.TextFiles f -> new TrainWindows(tokenize(f, tokenizerDir), seed);
        };
    }

    private static int[][] tokenize(TrainData.TextFiles f, Path tokenizerDir) {
        List<int[]> all = new ArrayList<>();
        try (TextWindows text = TextWindows.open(tokenizerDir)) {
            for (Path file : f.files()) {
                refuseTestSplit(file);
                int count = f.windowsPerFile() == 0 ? Integer.MAX_VALUE : f.windowsPerFile();
                int[][] w = text.windows(read(file, count == Integer.MAX_VALUE ? -1 : (long) count * f.window() * 16), f.window(), count);
                if (w.length < count && count != Integer.MAX_VALUE) {
                    w = text.windows(read(file, -1), f.window(), count);   // token-dense text: read it all
                }
                if (w.length == 0) {
                    throw new IllegalArgumentException(file + ": too short for one window of " + f.window() + " tokens");
                }
                all.addAll(Arrays.asList(w));
            }
        }
        return all.toArray(int[][]::new);
    }

    /** Training never reads a test split: {@code *.test.txt}, or {@code test} as a dot/dash/underscore-separated part of the name. */
    static void refuseTestSplit(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.matches("(.*[._-])?test([._-].*)?")) {
            throw new IllegalArgumentException(file + ": is a test split; training reads calibration text only (e.g. *.valid.txt), never test text");
        }
    }

    /** The file's text, or its first {@code chars} characters (windows come from the start, so the rest is not needed). */
    private static String read(Path file, long chars) {
        try {
            String s = Files.readString(file);
            return chars < 0 || s.length() <= chars ? s : s.substring(0, (int) chars);
        } catch (IOException e) {
            throw new UncheckedIOException(file + ": cannot read", e);
        }
    }

    public int size() {
        return windows.length;
    }

    /** Tokens per window. */
    public int window() {
        return windows[0].length;
    }

    /** The index of the window at stream position {@code position}. */
    public int indexAt(long position) {
        long e = position / windows.length;
        if (e != epoch) {
            order = permutation(windows.length, seed, e);
            epoch = e;
        }
        return order[(int) (position % windows.length)];
    }

    /** Window indices at positions {@code position .. position + rows - 1}. */
    public int[] indices(long position, int rows) {
        int[] out = new int[rows];
        for (int i = 0; i < rows; i++) {
            out[i] = indexAt(position + i);
        }
        return out;
    }

    public int[] get(int index) {
        return windows[index];
    }

    /** A content hash of the windows (for resume keys and the teacher cache). */
    public long hash() {
        long h = 0xcbf29ce484222325L;
        for (int[] w : windows) {
            for (int t : w) {
                h = (h ^ t) * 0x100000001b3L;
            }
            h = (h ^ -1) * 0x100000001b3L;
        }
        return h;
    }

    /** Fisher-Yates with a generator seeded from (seed, epoch). */
    static int[] permutation(int n, long seed, long epoch) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + epoch);
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}
