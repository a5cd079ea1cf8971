package dev.moekit.prune.expert.write;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.TensorSpec;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The tensor names, dtypes and shapes of a checkpoint, real or planned: what the output plan of expert removal needs,
 * so that a dry run plans from a layout exactly as a real run does.
 */
public interface TensorTable {
    /** Where the tensors are, for messages (a folder, or "planned input"). */
    String where();

    /** Every tensor name, in checkpoint order. */
    List<String> names();

    boolean has(String name);

    /** The tensor's dtype and shape (it must exist). */
    TensorSpec spec(String name);

    /** The tensors of a checkpoint. */
    static TensorTable of(Checkpoint c) {
        return new TensorTable() {
            @Override
            public String where() {
                return c.dir().toString();
            }

            @Override
            public List<String> names() {
                return c.names();
            }

            @Override
            public boolean has(String name) {
                return c.has(name);
            }

            @Override
            public TensorSpec spec(String name) {
                return TensorSpec.of(c.info(name));
            }
        };
    }

    /** Planned tensors (a layout), in order. */
    static TensorTable of(String where, List<TensorSpec> tensors) {
        Map<String, TensorSpec> byName = new LinkedHashMap<>();
        tensors.forEach(t -> byName.put(t.name(), t));
        List<String> names = List.copyOf(byName.keySet());
        return new TensorTable() {
            @Override
            public String where() {
                return where;
            }

            @Override
            public List<String> names() {
                return names;
            }

            @Override
            public boolean has(String name) {
                return byName.containsKey(name);
            }

            @Override
            public TensorSpec spec(String name) {
                TensorSpec t = byName.get(name);
                if (t == null) {
                    throw new IllegalArgumentException(where + ": no tensor '" + name + "'");
                }
                return t;
            }
        };
    }
}
