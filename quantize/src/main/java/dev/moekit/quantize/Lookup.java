package dev.moekit.quantize;

import dev.moekit.toolkit.method.Method;
import dev.moekit.toolkit.method.MethodKind;
import dev.moekit.toolkit.method.Methods;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * Finds a registered method by the name a recipe or the command line gives: case and {@code _}/{@code -} do not
 * matter, a method's aliases count; anything else gets the registry's error (known names, closest one).
 */
final class Lookup {
    private Lookup() {
    }

    static <M extends Method<?>> M find(MethodKind<M> kind, String name, Function<M, List<String>> aliases) {
        Methods.Registry<M> r = Methods.standard().kind(kind);
        if (name == null) {
            throw new IllegalArgumentException("no " + kind.name() + " named (known: " + String.join(", ", r.names()) + ")");
        }
        String n = name.trim().toLowerCase(Locale.ROOT).replace('_', '-');
        for (M m : r.all()) {
            if (m.name().equals(n) || aliases.apply(m).contains(n)) {
                return m;
            }
        }
        return r.get(name);
    }
}
