package dev.moekit.toolkit.method;

import java.util.Collection;
import java.util.Locale;

/** "Did you mean" for misspelled keys and names: the closest candidate within a small edit distance. */
public final class Suggest {
    private Suggest() {}

    /** {@code " (did you mean 'x'?)"} for the closest candidate, or "" when none is close. */
    public static String didYouMean(String given, Collection<String> candidates) {
        String best = closest(given, candidates);
        return best == null ? "" : " (did you mean '" + best + "'?)";
    }

    /** The candidate nearest to {@code given} in edit distance, if at most a third of its length (min 2), else null. */
    public static String closest(String given, Collection<String> candidates) {
        if (given == null) {
            return null;
        }
        String g = given.toLowerCase(Locale.ROOT).replace('-', '_');
        String best = null;
        int bestD = Integer.MAX_VALUE;
        for (String c : candidates) {
            int d = distance(g, c.toLowerCase(Locale.ROOT).replace('-', '_'));
            boolean tieButCloserLength = d == bestD && best != null && Math.abs(c.length() - g.length()) < Math.abs(best.length() - g.length());
            if (d < bestD || tieButCloserLength) {
                bestD = d;
                best = c;
            }
        }
        return best != null && bestD > 0 && bestD <= Math.max(2, g.length() / 3) ? best : null;
    }

    /** Levenshtein distance with transpositions counted as one edit. */
    static int distance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) {
            d[i][0] = i;
        }
        for (int j = 0; j <= b.length(); j++) {
            d[0][j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.length()][b.length()];
    }
}
