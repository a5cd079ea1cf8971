package dev.moekit.toolkit.method;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.toolkit.io.Json;
import java.util.List;
import org.junit.jupiter.api.Test;

class ParamsTest {
    enum Mode { FAST, CAREFUL }

    record Inner(String targets, int bits) {}

    record P(Mode mode, Double maxShardBytes, Integer groupSize, List<Inner> rules) {
        P {
            if (groupSize != null && groupSize < 0) {
                throw new IllegalArgumentException("group_size must be >= 0, got " + groupSize);
            }
            mode = mode == null ? Mode.FAST : mode;
        }
    }

    @Test
    void bindsSnakeCaseKeysThroughTheValidatingConstructor() throws Exception {
        P p = Params.bind("s", Json.STRICT.readTree("{\"mode\": \"careful\", \"max_shard_bytes\": 5, \"group_size\": 8, "
                + "\"rules\": [{\"targets\": \"a\", \"bits\": 4}]}"), P.class);
        assertEquals(Mode.CAREFUL, p.mode());
        assertEquals(5.0, p.maxShardBytes());
        assertEquals(8, p.groupSize());
        assertEquals(4, p.rules().getFirst().bits());
        assertEquals(Mode.FAST, Params.bind("s", null, P.class).mode(), "defaults from the constructor");
        IllegalArgumentException v = assertThrows(IllegalArgumentException.class,
                () -> Params.bind("s", Json.STRICT.readTree("{\"group_size\": -1}"), P.class));
        assertTrue(v.getMessage().contains("group_size must be >= 0"), v.getMessage());
        assertTrue(Params.toJson(p).has("max_shard_bytes"));
    }

    @Test
    void unknownCamelCaseAndBadEnumKeysAreNamed() throws Exception {
        IllegalArgumentException u = assertThrows(IllegalArgumentException.class,
                () -> Params.bind("s", Json.STRICT.readTree("{\"group_sise\": 1}"), P.class));
        assertTrue(u.getMessage().contains("'group_sise'") && u.getMessage().contains("group_size"), u.getMessage());
        IllegalArgumentException c = assertThrows(IllegalArgumentException.class,
                () -> Params.bind("s", Json.STRICT.readTree("{\"groupSize\": 1}"), P.class));
        assertTrue(c.getMessage().contains("snake_case"), c.getMessage());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Params.bind("s", Json.STRICT.readTree("{\"mode\": \"reckless\"}"), P.class));
        assertTrue(e.getMessage().contains("reckless") && e.getMessage().contains("careful"), e.getMessage());
    }
}
