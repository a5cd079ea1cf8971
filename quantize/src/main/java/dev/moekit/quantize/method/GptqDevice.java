package dev.moekit.quantize.method;

import ai.djl.Device;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/**
 * Where GPTQ runs (recipe key {@code gptq_device}): the Hessians' accumulation and the column loop on the host
 * ({@link Gptq}, ND4J) or on the calibration runtime's DJL device ({@link DeviceGptq}).
 */
public enum GptqDevice {
    /** The runtime's device when it is a GPU, the host otherwise. */
    AUTO,
    /** Host GPTQ whatever the runtime device; Hessians accumulated on the host. */
    HOST,
    /** GPTQ on the runtime's device, CPU included (DJL's CPU engine). */
    RUNTIME;

    /** Whether GPTQ runs on the device, for a runtime on {@code runtime} (null: no runtime, the host). */
    public boolean onDevice(Device runtime) {
        return switch (this) {
            case HOST -> false;
            case RUNTIME -> true;
            case AUTO -> runtime != null && runtime.isGpu();
        };
    }

    @JsonValue
    public String key() {
        return name().toLowerCase(Locale.ROOT);
    }
}
