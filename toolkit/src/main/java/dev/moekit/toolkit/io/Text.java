package dev.moekit.toolkit.io;

import java.nio.file.Path;

/**
 * Makes strings read from files safe to print in one-line messages: control characters (C0, DEL, C1), line and
 * paragraph separators, bidirectional overrides and marks, and unpaired surrogates become {@code \\uXXXX}, so a
 * tensor name or config value cannot move the cursor, recolour the terminal, reorder the text or break the line.
 * {@link #quote} and {@link #clip} also cut strings longer than {@value #MAX} characters.
 */
public final class Text {
    /** Longest string (in chars) printed whole by {@link #quote} and {@link #clip}. */
    public static final int MAX = 200;

    private Text() {}

    /** {@code s} escaped and cut to {@value #MAX} characters, in single quotes: {@code 'name'}. */
    public static String quote(String s) {
        return "'" + clip(s) + "'";
    }

    /** {@code s} escaped and, when longer than {@value #MAX} characters, cut with {@code ...(N chars)} appended. */
    public static String clip(String s) {
        if (s == null) {
            return "null";
        }
        if (s.length() <= MAX) {
            return escape(s);
        }
        int end = Character.isHighSurrogate(s.charAt(MAX - 1)) ? MAX - 1 : MAX;
        return escape(s.substring(0, end)) + "...(" + s.length() + " chars)";
    }

    /** A path, escaped but never cut (paths name the file at fault and must stay whole). */
    public static String path(Path p) {
        return escape(String.valueOf(p));
    }

    /** {@code s} with every unsafe character replaced by {@code \\uXXXX}; nothing is cut. */
    public static String escape(String s) {
        if (s == null) {
            return "null";
        }
        StringBuilder b = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean unsafe = unsafe(c);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                if (b != null) {
                    b.append(c).append(s.charAt(i + 1));
                }
                i++;
                continue;
            }
            if (Character.isSurrogate(c)) {
                unsafe = true; // unpaired
            }
            if (unsafe && b == null) {
                b = new StringBuilder(s.length() + 16).append(s, 0, i);
            }
            if (b != null) {
                if (unsafe) {
                    b.append(String.format("\\u%04x", (int) c));
                } else {
                    b.append(c);
                }
            }
        }
        return b == null ? s : b.toString();
    }

    private static boolean unsafe(char c) {
        return c < 0x20 || (c >= 0x7f && c <= 0x9f)
                || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)
                || c == 0x200e || c == 0x200f || c == 0x061c || c == 0x2028 || c == 0x2029;
    }
}
