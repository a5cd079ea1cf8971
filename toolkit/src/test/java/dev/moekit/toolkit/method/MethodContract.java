package dev.moekit.toolkit.method;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Json;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The contract every registered {@link Method} of one kind keeps, run against every implementation the registry
 * holds (as Lucene tests every codec): extend it per kind, give the kind and, where a method has required
 * parameters, sample parameters. Kind contracts add the behaviour of their operations on real checkpoints.
 */
@org.junit.jupiter.api.TestInstance(org.junit.jupiter.api.TestInstance.Lifecycle.PER_CLASS)
public abstract class MethodContract<M extends Method<?>> {
    /** The kind under test. */
    protected abstract MethodKind<M> kind();

    /** Parameters a run of {@code m} is valid with (null: its defaults). */
    protected JsonNode sampleParams(M m) {
        return null;
    }

    /** The registered methods of the kind; a kind with none fails (the registration is missing). */
    protected Stream<M> methods() {
        List<M> all = Methods.standard().kind(kind()).all();
        assertFalse(all.isEmpty(), "no " + kind().name() + " is registered");
        return all.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void describesItself(M m) {
        assertTrue(m.name().matches("[a-z][a-z0-9_:-]*"), "name '" + m.name() + "' is a lowercase recipe key");
        assertEquals(kind().name(), m.kind().name());
        assertFalse(m.summary().isBlank(), "summary");
        assertTrue(m.reference().isEmpty() || m.reference().startsWith("https://"), "reference is empty or a URL: " + m.reference());
        assertTrue(m.parameters().isRecord());
        assertNotNull(m.calibration());
        assertEquals(m.parameters().getRecordComponents().length, ParamInfo.of(m.parameters()).size());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    @SuppressWarnings({"unchecked", "rawtypes"})
    void bindsSampleParametersAndRoundTripsThem(M m) {
        Record p = (Record) m.bind(sampleParams(m));
        ObjectNode json = Params.toJson(p);
        Record again = (Record) m.bind(json);
        assertEquals(p, again, "resolved parameters bind back to the same record");
        ((Method) m).needsCalibration(p); // answers for every valid parameter set
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void refusesAnUnknownKeyNamingIt(M m) {
        ObjectNode p = sampleParams(m) == null ? Json.PRETTY.createObjectNode() : ((ObjectNode) sampleParams(m)).deepCopy();
        p.put("no_such_key_xyz", 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.bind(p));
        assertTrue(e.getMessage().contains("no_such_key_xyz"), e.getMessage());
    }
}
