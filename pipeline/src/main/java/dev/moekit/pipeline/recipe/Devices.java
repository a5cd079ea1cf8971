package dev.moekit.pipeline.recipe;

import java.util.Locale;

/** Device names as users write them: {@code cpu}, {@code gpu} (= {@code gpu:0}) or {@code gpu:N}. */
public final class Devices {
    private Devices() {}

    /** The canonical name ({@code cpu}, {@code gpu:N}); an error naming the value otherwise. */
    public static String check(String device) {
        String d = device == null ? "cpu" : device.trim().toLowerCase(Locale.ROOT);
        if (d.equals("cpu")) {
            return d;
        }
        if (d.equals("gpu") || d.equals("cuda")) {
            return "gpu:0";
        }
        if (d.matches("(gpu|cuda):\\d{1,3}")) {
            return "gpu:" + Integer.parseInt(d.substring(d.indexOf(':') + 1));
        }
        throw new IllegalArgumentException("device must be cpu, gpu or gpu:N, got '" + device + "'");
    }
}
