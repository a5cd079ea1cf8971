package dev.moekit.eval.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import java.util.Set;

/**
 * What every layer of one batch shares: the attention mask, and the RoPE tables. Built
 * once per batch in the batch's manager.
 *
 * @param mask      {@code [B, 1, T, T]} additive fp32 attention mask
 * @param cos       {@code [T, head_dim]} RoPE cosines in the compute dtype
 * @param sin       {@code [T, head_dim]} RoPE sines
 * @param observed  linear roles whose inputs the observer wants
 * @param extension the model's forward extension ({@link ForwardExtension#NONE} unless a method added one)
 * @param paddedExperts whether routed experts may run padded ({@link RuntimeOptions.ExpertDispatch})
 */
record StepContext(NDArray mask, NDArray cos, NDArray sin, Set<Role> observed, ForwardExtension extension,
                   boolean paddedExperts) {

    static StepContext of(NDManager m, ModelSpec spec, RopeConfig rope, NDArray attention, RuntimeOptions o,
                          ForwardObserver obs, ForwardExtension extension) {
        Precision p = o.precision();
        long t = attention.getShape().get(1);
        NDArray mask = Ops.attentionMask(m, attention, spec.slidingWindow());
        NDArray[] cs = Ops.ropeTables(m, (int) t, spec.headDim(), spec.ropeTheta(), rope.positionScale(),
                p.dataType());
        return new StepContext(mask, cs[0], cs[1], Set.copyOf(obs.linearInputs()), extension, o.paddedExperts());
    }

    /** The same context for another observer. */
    StepContext with(ForwardObserver obs) {
        return new StepContext(mask, cos, sin, Set.copyOf(obs.linearInputs()), extension, paddedExperts);
    }

    /** Hands {@code x} to the observer once per requested role among {@code roles}. */
    void linearInput(ForwardObserver obs, int layer, NDArray x, Role... roles) {
        linearInput(obs, layer, -1, x, roles);
    }

    void linearInput(ForwardObserver obs, int layer, int expert, NDArray x, Role... roles) {
        if (observed.isEmpty() || !obs.observes(layer)) {
            return;
        }
        for (Role r : roles) {
            if (observed.contains(r)) {
                long[] s = x.getShape().getShape();
                obs.linearInput(layer, r, expert, s.length == 2 ? x : x.reshape(-1, s[s.length - 1]));
            }
        }
    }
}
