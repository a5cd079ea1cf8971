package dev.moekit.distill;

import java.nio.file.Path;
import java.util.List;

/** Where training tokens come from. */
public sealed interface TrainData {
    /**
     * Text files (calibration splits; test splits are refused), tokenized with the student's tokenizer under the
     * evaluation protocol ({@code [bos] + text}) and packed into full windows, no padding.
     *
     * @param files          UTF-8 text files
     * @param window         tokens per window
     * @param windowsPerFile windows taken from the start of each file, 0 for all
     */
    record TextFiles(List<Path> files, int window, int windowsPerFile) implements TrainData {
        public TextFiles {
            files = List.copyOf(files);
            if (files.isEmpty()) {
                throw new IllegalArgumentException("training needs at least one text file");
            }
            if (window < 2 || windowsPerFile < 0) {
                throw new IllegalArgumentException("window must be >= 2 and windows per file >= 0, got " + window + ", " + windowsPerFile);
            }
        }
    }

    /** Token windows given directly ({@code [n][T]}, all of one length), e.g. by a method or a test. */
    record Windows(int[][] windows) implements TrainData {
        public Windows {
            if (windows.length == 0 || windows[0].length < 2) {
                throw new IllegalArgumentException("training needs at least one window of >= 2 tokens");
            }
            for (int[] w : windows) {
                if (w.length != windows[0].length) {
                    throw new IllegalArgumentException("training windows must all have " + windows[0].length + " tokens, one has " + w.length);
                }
            }
        }
    }
}
