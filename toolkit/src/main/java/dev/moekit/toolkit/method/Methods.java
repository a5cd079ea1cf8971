package dev.moekit.toolkit.method;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;

/**
 * Every registered {@link Method} on the class path, by kind and name. Duplicate names within a kind fail loudly at
 * load, naming both classes. {@link #kind} gives one kind's {@link Registry}.
 */
public final class Methods {
    private static volatile Methods standard;

    private final Map<String, Map<String, Method<?>>> byKind; // kind name -> method name -> method
    private final Map<String, MethodKind<?>> kinds;

    private Methods(Collection<? extends Method<?>> all) {
        Map<String, Map<String, Method<?>>> m = new TreeMap<>();
        Map<String, MethodKind<?>> k = new TreeMap<>();
        for (Method<?> method : all) {
            MethodKind<?> kind = method.kind();
            if (!kind.type().isInstance(method)) {
                throw new IllegalStateException(method.getClass().getName() + " says it is a " + kind.name() + " but does not implement "
                        + kind.type().getName());
            }
            MethodKind<?> prevKind = k.putIfAbsent(kind.name(), kind);
            if (prevKind != null && prevKind.type() != kind.type()) {
                throw new IllegalStateException("two method kinds named '" + kind.name() + "': " + prevKind.type().getName() + " and "
                        + kind.type().getName());
            }
            Method<?> prev = m.computeIfAbsent(kind.name(), x -> new TreeMap<>()).put(method.name(), method);
            if (prev != null) {
                throw new IllegalStateException("two " + kind.name() + " methods named '" + method.name() + "': " + prev.getClass().getName()
                        + " and " + method.getClass().getName());
            }
        }
        this.byKind = m;
        this.kinds = k;
    }

    /** The methods registered through {@link ServiceLoader} (loaded once per class loader of this class). */
    public static Methods standard() {
        Methods s = standard;
        if (s == null) {
            synchronized (Methods.class) {
                if (standard == null) {
                    standard = load(Methods.class.getClassLoader());
                }
                s = standard;
            }
        }
        return s;
    }

    /** Loads every method registered for {@code loader}. */
    @SuppressWarnings({"rawtypes", "unchecked"})
    public static Methods load(ClassLoader loader) {
        List<Method<?>> all = new ArrayList<>();
        for (Method m : ServiceLoader.load(Method.class, loader)) {
            all.add(m);
        }
        return new Methods(all);
    }

    /** A registry of exactly these methods (for embedding and tests). */
    public static Methods of(Collection<? extends Method<?>> methods) {
        return new Methods(methods);
    }

    /** The kinds that have at least one method, by name. */
    public Collection<MethodKind<?>> kinds() {
        return kinds.values();
    }

    /** Every method, by kind then name. */
    public List<Method<?>> all() {
        List<Method<?>> out = new ArrayList<>();
        byKind.values().forEach(m -> out.addAll(m.values()));
        return out;
    }

    /** The registry of one kind (empty if nothing registered it). */
    public <M extends Method<?>> Registry<M> kind(MethodKind<M> kind) {
        Map<String, M> m = new LinkedHashMap<>();
        byKind.getOrDefault(kind.name(), Map.of()).values().stream().sorted(Comparator.comparing(Method::name))
                .forEach(x -> m.put(x.name(), kind.type().cast(x)));
        return new Registry<>(kind, m);
    }

    /** The methods of one kind, by name. */
    public static final class Registry<M extends Method<?>> {
        private final MethodKind<M> kind;
        private final Map<String, M> methods;

        Registry(MethodKind<M> kind, Map<String, M> methods) {
            this.kind = kind;
            this.methods = Map.copyOf(methods);
        }

        public MethodKind<M> kind() {
            return kind;
        }

        public List<String> names() {
            return methods.keySet().stream().sorted().toList();
        }

        public List<M> all() {
            return names().stream().map(methods::get).toList();
        }

        public boolean has(String name) {
            return methods.containsKey(name);
        }

        /** The method named {@code name}; otherwise an error listing the known names and the closest one. */
        public M get(String name) {
            M m = methods.get(name);
            if (m == null) {
                throw new IllegalArgumentException("unknown " + kind.name() + " '" + name + "'" + Suggest.didYouMean(name, methods.keySet())
                        + " (known: " + String.join(", ", names()) + ")");
            }
            return m;
        }
    }
}
