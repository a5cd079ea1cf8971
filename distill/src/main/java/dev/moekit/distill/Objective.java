package dev.moekit.distill;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.moekit.eval.runtime.TokenBatch;

/** The loss terms of {@link Losses} on one micro-batch's logits; every array is created in the step's scope. */
final class Objective {
    private Objective() {}

    /** Scalar terms; null where the weight is 0 (or no MoE layer ran). */
    record Terms(NDArray total, NDArray kd, NDArray ce, NDArray balance, NDArray zLoss) {}

    static Terms of(Losses l, NDArray logits, TokenBatch batch, TeacherTopK.Targets teacher, RouterLosses router,
                    NDManager scope) {
        NDArray ids = scope.create(batch.ids(), new Shape(batch.rows(), batch.length())).toType(DataType.INT64, false);
        NDArray predicting = logits.get(":, :-1, :");                                        // [B, T-1, V]
        NDArray kd = null;
        NDArray ce = null;
        if (l.kd() > 0) {
            Shape s = new Shape(batch.rows(), batch.length(), teacher.k());
            NDArray tv = scope.create(teacher.values(), s).get(":, :-1, :");                 // [B, T-1, k]
            NDArray ti = scope.create(teacher.indices(), s).toType(DataType.INT64, false).get(":, :-1, :");
            kd = topKKl(predicting, tv, ti, l.temperature(), l.support());
        }
        if (l.ce() > 0) {
            NDArray targets = ids.get(":, 1:").expandDims(-1);                               // [B, T-1, 1]
            ce = predicting.logSoftmax(-1).gather(targets, -1).mean().neg();
        }
        NDArray balance = l.balance() > 0 ? router.balance() : null;
        NDArray z = l.zLoss() > 0 ? router.zLoss() : null;
        NDArray total = null;
        total = plus(total, kd, l.kd());
        total = plus(total, ce, l.ce());
        total = plus(total, balance, l.balance());
        total = plus(total, z, l.zLoss());
        return new Terms(total, kd, ce, balance, z);
    }

    /**
     * {@code T^2 * mean_positions sum_k p (log p - log q)} with {@code p = softmax(t/T)} over the teacher's top-k and
     * q the student's distribution at the same tokens (renormalised over them, or over the vocabulary).
     */
    static NDArray topKKl(NDArray student, NDArray teacherValues, NDArray teacherIds, double temperature,
                          Losses.KdSupport support) {
        float tau = (float) temperature;
        NDArray t = Scalars.over(teacherValues, tau);
        NDArray logP = t.logSoftmax(-1);
        NDArray logQ = support == Losses.KdSupport.TOPK
                ? Scalars.over(student.gather(teacherIds, -1), tau).logSoftmax(-1)
                : Scalars.over(student, tau).logSoftmax(-1).gather(teacherIds, -1);
        return Scalars.times(logP.exp().mul(logP.sub(logQ)).sum(new int[] {-1}).mean(), tau * tau);
    }

    private static NDArray plus(NDArray total, NDArray term, double weight) {
        if (term == null || weight == 0) {
            return total;
        }
        NDArray w = weight == 1 ? term : Scalars.times(term, (float) weight);   // float: a double scalar would make it float64
        return total == null ? w : total.add(w);
    }
}
