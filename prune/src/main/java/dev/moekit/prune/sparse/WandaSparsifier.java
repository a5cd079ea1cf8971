package dev.moekit.prune.sparse;

import dev.moekit.toolkit.method.NoParams;

/**
 * Sparsifier {@code wanda} (Sun et al., arXiv 2306.11695): every decoder layer at the stage's sparsity; with the
 * stage's {@code nm} key, N:M semi-structured instead (N lowest scores of every M consecutive inputs).
 */
public final class WandaSparsifier implements Sparsifier<NoParams> {
    @Override
    public String name() {
        return "wanda";
    }

    @Override
    public String summary() {
        return "Wanda: zero the lowest |W_ij| * ||X_j|| of each output row, every layer at the same sparsity (or N:M)";
    }

    @Override
    public String reference() {
        return "https://arxiv.org/abs/2306.11695";
    }

    @Override
    public Class<NoParams> parameters() {
        return NoParams.class;
    }

    @Override
    public Calibration calibration() {
        return Calibration.REQUIRED;
    }

    @Override
    public boolean supportsNm() {
        return true;
    }

    @Override
    public Targets targets(NoParams params, double sparsity, SparsifyInput input) {
        return Targets.uniform(input.layers(), sparsity);
    }
}
