package dev.moekit.pipeline.stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.moekit.pipeline.Events;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.method.CalibrationSettings;
import dev.moekit.toolkit.method.MethodContract;
import dev.moekit.toolkit.method.MethodKind;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The contract of every registered recipe stage: the method contract, plus planning on a real reference checkpoint
 * with the sample parameters is metadata-only, yields at least one unit and an output layout that parses as a model.
 */
public abstract class StageContract extends MethodContract<StageType<?>> {
    @Override
    protected MethodKind<StageType<?>> kind() {
        return StageType.KIND;
    }

    /** The checkpoint plans are made on (a reference MoE). */
    protected Path model() {
        return Path.of(System.getProperty("moekit.shared", "../shared"), "models/mixtral-tiny").toAbsolutePath().normalize();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("methods")
    void plansOnAReferenceCheckpoint(StageType<?> type) {
        BoundStage<?> s = BoundStage.bind(type, sampleParams(type));
        Path m = model();
        try (Checkpoint c = Checkpoint.open(m)) {
            Layout in = Layout.of(c);
            StageContext ctx = new StageContext(m, new CalibrationSettings(List.of(), 1, 16, false), "cpu", 0, Events.NONE);
            Plan p = s.plan(new PlanInput(in, m, List.of()), ctx);
            assertEquals(type.name(), p.stage());
            assertFalse(p.units().isEmpty());
            assertTrue(p.output().spec().layers() > 0, "the planned output is a model");
            assertEquals(s.needsCalibration(), p.calibrates(), "plan and method agree on calibration");
            // the same plan from an estimated (dry-run) layout
            Plan again = s.plan(new PlanInput(in, null, List.of()), ctx);
            assertEquals(p.output().tensors().size(), again.output().tensors().size());
        }
    }
}
