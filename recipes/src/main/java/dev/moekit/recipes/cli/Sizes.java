package dev.moekit.recipes.cli;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses and prints byte sizes the way HF does ("5GB" = 5e9 bytes, "2GiB" = 2^31). */
final class Sizes {
    private static final Pattern SIZE = Pattern.compile("(?i)\\s*([0-9]+(?:\\.[0-9]+)?)\\s*([kmgt]?i?b?)?\\s*");

    private Sizes() {}

    static long parse(String s) {
        Matcher m = SIZE.matcher(s);
        if (!m.matches()) {
            throw new UsageException("invalid size '" + s + "' (examples: 5GB, 500MB, 2GiB, 1000000)");
        }
        double v = Double.parseDouble(m.group(1));
        String u = m.group(2) == null ? "" : m.group(2).toLowerCase(Locale.ROOT);
        boolean bin = u.contains("i");
        double base = bin ? 1024 : 1000;
        int pow = u.isEmpty() || u.equals("b") ? 0 : "kmgt".indexOf(u.charAt(0)) + 1;
        long bytes = (long) (v * Math.pow(base, pow));
        if (bytes <= 0) {
            throw new UsageException("size must be positive: '" + s + "'");
        }
        return bytes;
    }

    static String human(long bytes) {
        if (bytes < 1000) {
            return bytes + " B";
        }
        String[] units = {"kB", "MB", "GB", "TB"};
        double v = bytes;
        int i = -1;
        while (v >= 1000 && i < units.length - 1) {
            v /= 1000;
            i++;
        }
        return String.format(Locale.ROOT, "%.2f %s", v, units[i]);
    }
}
