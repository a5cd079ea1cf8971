package dev.moekit.quantize;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import dev.moekit.eval.Calibration;
import dev.moekit.eval.CalibrationObserver;
import dev.moekit.eval.CalibrationOptions;
import dev.moekit.eval.Progress;
import dev.moekit.eval.runtime.CausalLm;
import dev.moekit.eval.runtime.RuntimeOptions;
import dev.moekit.eval.runtime.TokenBatch;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The importance matrix llama-imatrix would give llama.cpp's quantizer, for the llama.cpp reference points
 * (scripts/llamacpp): the mean {@code x_j^2} of every decoder Linear weight's input column over moekit's calibration
 * windows (every {@code *.valid.txt} of the data folder), routed experts over their routed tokens, padding dropped.
 * Written as JSON, {@code {tensor name: [per column]}}; experts no token reached are left out (quantized unweighted).
 *
 * <pre>ImatrixDump MODEL_DIR OUT.json DATA_DIR WINDOWS_PER_FILE</pre>
 */
public final class ImatrixDump {
    private ImatrixDump() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            throw new IllegalArgumentException("usage: ImatrixDump MODEL_DIR OUT.json DATA_DIR WINDOWS_PER_FILE");
        }
        Checkpoint in = Checkpoint.open(Path.of(args[0]));
        ModelSpec spec = ModelSpec.of(in);
        CalibrationOptions co = CalibrationOptions.defaults(Path.of(args[2])).withWindows(256, Integer.parseInt(args[3]));
        List<TokenBatch> batches = Calibration.batches(in.dir(), co, 1);
        Map<String, double[]> sums = new HashMap<>();
        Map<String, long[]> counts = new HashMap<>();
        CalibrationObserver obs = new CalibrationObserver() {
            private boolean[] mask;

            @Override
            public Set<Role> linearInputs() {
                return Set.of(Role.Q, Role.O, Role.MLP_GATE, Role.MLP_DOWN, Role.EXPERT_GATE, Role.EXPERT_DOWN, Role.SHARED_GATE, Role.SHARED_DOWN);
            }

            @Override
            public void tokenMask(NDArray m) {
                mask = m.toBooleanArray();
            }

            @Override
            public void linearInput(int layer, Role role, int expert, NDArray input) {
                int n = (int) input.getShape().get(0);
                int cols = (int) input.getShape().get(1);
                float[] x = input.toType(DataType.FLOAT32, false).toFloatArray();
                String k = layer + "/" + expert + "/" + role;
                double[] s = sums.computeIfAbsent(k, q -> new double[cols]);
                long[] c = counts.computeIfAbsent(k, q -> new long[1]);
                for (int t = 0; t < n; t++) {
                    if (mask != null && mask.length == n && !mask[t]) {
                        continue; // padding
                    }
                    for (int j = 0; j < cols; j++) {
                        s[j] += (double) x[t * cols + j] * x[t * cols + j];
                    }
                    c[0]++;
                }
            }
        };
        try (CausalLm model = CausalLm.of(in, spec, RuntimeOptions.cpu())) {
            Calibration.run(model, batches, co, obs, Progress.NONE);
        }
        StringBuilder b = new StringBuilder("{");
        for (LinearModule m : ModuleCatalog.of(in, spec).linears()) {
            String k = m.layer() + "/" + m.expert() + "/" + CalibratedGptq.inputRole(m.role());
            if (!sums.containsKey(k) || counts.get(k)[0] == 0) {
                continue;
            }
            double[] s = sums.get(k);
            long c = counts.get(k)[0];
            b.append(b.length() > 1 ? "," : "").append('"').append(m.tensor()).append("\":[");
            for (int j = 0; j < s.length; j++) {
                b.append(j > 0 ? "," : "").append((float) (s[j] / c));
            }
            b.append(']');
        }
        Files.writeString(Path.of(args[1]), b.append('}').toString());
    }
}
