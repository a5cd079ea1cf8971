package dev.moekit.distill;

/**
 * One optimizer step as logged: losses are means over the step's micro-batches (NaN where the term is off), the
 * gradient norm before clipping, throughput of the student's training forward+backward+update.
 */
public record StepLog(int step, double loss, double kd, double ce, double balance, double zLoss, double lr,
                      double gradNorm, double tokensPerSecond, double lossScale, boolean skipped) {
    static final String CSV_HEADER = "step,loss,kd,ce,balance,z_loss,lr,grad_norm,tokens_per_s,loss_scale,skipped";

    String csv() {
        return step + "," + num(loss) + "," + num(kd) + "," + num(ce) + "," + num(balance) + "," + num(zLoss) + ","
                + num(lr) + "," + num(gradNorm) + "," + num(tokensPerSecond) + "," + num(lossScale) + "," + (skipped ? 1 : 0);
    }

    double[] values() {
        return new double[] {step, loss, kd, ce, balance, zLoss, lr, gradNorm, tokensPerSecond, lossScale, skipped ? 1 : 0};
    }

    static StepLog of(double[] v) {
        return new StepLog((int) v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10] != 0);
    }

    private static String num(double d) {
        return Double.isNaN(d) ? "" : Double.toString(d);
    }
}
