package dev.moekit.maven.core;

/** Where the goals' messages go: Maven's log in the mojos, a list in tests. */
public interface BuildLog {
    void info(String message);

    void warn(String message);

    void error(String message);

    void debug(String message);

    /** Discards everything. */
    BuildLog NONE = new BuildLog() {
        @Override
        public void info(String m) {}

        @Override
        public void warn(String m) {}

        @Override
        public void error(String m) {}

        @Override
        public void debug(String m) {}
    };
}
