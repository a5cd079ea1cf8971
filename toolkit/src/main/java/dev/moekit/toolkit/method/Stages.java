package dev.moekit.toolkit.method;

import java.util.Collections;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;

/** The stage registry: every {@link StageProvider} on the class path, by name. Duplicate names fail loudly. */
public final class Stages {
    private final Map<String, StageProvider> providers;

    private Stages(Map<String, StageProvider> providers) {
        this.providers = Collections.unmodifiableMap(providers);
    }

    public static Stages load() {
        Map<String, StageProvider> m = new TreeMap<>();
        for (StageProvider p : ServiceLoader.load(StageProvider.class)) {
            StageProvider prev = m.put(p.name(), p);
            if (prev != null) {
                throw new IllegalStateException("two stage providers named '" + p.name() + "': " + prev.getClass().getName() + " and "
                        + p.getClass().getName());
            }
        }
        return new Stages(m);
    }

    /** A registry of exactly these providers (for embedding and tests). */
    public static Stages of(StageProvider... providers) {
        Map<String, StageProvider> m = new TreeMap<>();
        for (StageProvider p : providers) {
            if (m.put(p.name(), p) != null) {
                throw new IllegalStateException("two stage providers named '" + p.name() + "'");
            }
        }
        return new Stages(m);
    }

    public Map<String, StageProvider> all() {
        return providers;
    }

    public StageProvider get(String name) {
        StageProvider p = providers.get(name);
        if (p == null) {
            throw new IllegalArgumentException("unknown stage '" + name + "' (known: " + String.join(", ", providers.keySet()) + ")");
        }
        return p;
    }
}
