package dev.moekit.eval.runtime;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;

/**
 * Bootstraps DJL's PyTorch engine. Offline use needs {@code DJL_OFFLINE=true} and the CPU natives on the class path
 * (or {@code PYTORCH_LIBRARY_PATH}+{@code PYTORCH_FLAVOR} for a local CUDA libtorch). Grad mode is thread-local in
 * libtorch and starts on in new threads, so every entry point calls {@link #inferenceMode()}.
 */
public final class Engines {
    /** DJL's engine name. */
    public static final String PYTORCH = "PyTorch";

    private Engines() {}

    /** Loads the engine (once per JVM) and returns a new root manager on {@code device}. */
    public static NDManager newManager(Device device) {
        Engine engine = Engine.getEngine(PYTORCH);
        inferenceMode();
        checkAvailable(engine, device);
        return engine.newBaseManager(device);
    }

    /** Fails in one line naming the device when this machine lacks it (instead of libtorch's multi-line dump). */
    static void checkAvailable(Engine engine, Device device) {
        if (!device.isGpu()) {
            return;
        }
        int gpus = engine.getGpuCount();
        if (device.getDeviceId() >= gpus) {
            throw new IllegalArgumentException("device gpu:" + device.getDeviceId() + " is not available: this machine has " + gpus
                    + " GPU(s) visible to PyTorch " + engine.getVersion() + (gpus == 0 ? " (CPU natives or no CUDA device); use --device cpu" : "; use gpu:0..gpu:" + (gpus - 1)));
        }
    }

    /** Turns autograd off on the calling thread. */
    public static void inferenceMode() {
        if (JniUtils.isGradMode()) {
            JniUtils.setGradMode(false);
        }
    }

    /** The engine's version string (libtorch), for reports. */
    public static String version() {
        return Engine.getEngine(PYTORCH).getVersion();
    }
}
