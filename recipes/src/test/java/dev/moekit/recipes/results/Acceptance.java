package dev.moekit.recipes.results;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Predicate;

/**
 * Issue 11's allocator acceptance, computed from the measured rows: at each budget the solver's best row (at most the
 * budget's stored bits) against uniform RTN and GPTQ int3 and against every QuantMoE heuristic that stores at least as
 * many bits. Stated twice: over the rows that keep one width per layer of experts (what fused MoE kernels run) and over
 * all solver rows (per-expert widths included).
 */
final class Acceptance {
    private Acceptance() {}

    static final double[] BUDGETS = {3.0, 2.5};
    private static final double TOLERANCE = 0.005; // bits are read back from the page at two decimals

    static String markdown(Frontier f, String model) {
        List<Frontier.Point> rows = f.points(model);
        List<Frontier.Point> baselines = rows.stream().filter(p -> p.setting().equals("RTN int3") || p.setting().equals("GPTQ int3")).toList();
        List<Frontier.Point> heuristics = rows.stream().filter(p -> p.setting().contains(" high (")).toList();
        if (baselines.isEmpty() && heuristics.isEmpty()) {
            return "";
        }
        StringBuilder b = new StringBuilder("### ").append(model).append(": allocator acceptance\n\n");
        b.append("The solver at each width against uniform int3 and every QuantMoE heuristic storing at least as many bits (mean KL; ")
                .append("'met' when the solver's best is below all of them).\n\n");
        b.append("| budget | solver rows | solver's best | its bits | its KL | beaten by | verdict |\n|---|---|---|---|---|---|---|\n");
        for (double budget : BUDGETS) {
            for (boolean fused : new boolean[] {true, false}) {
                Predicate<Frontier.Point> solver = p -> p.setting().startsWith("solver ") && p.bits() <= budget + TOLERANCE
                        && (!fused || !p.setting().contains("per-expert"));
                Optional<Frontier.Point> best = rows.stream().filter(solver).min(Comparator.comparingDouble(Frontier.Point::kl));
                String scope = fused ? "one width per layer of experts" : "all (per-expert widths too)";
                b.append(String.format(Locale.ROOT, "| %.1f | %s | ", budget, scope));
                if (best.isEmpty()) {
                    b.append("none measured | | | | not measured |\n");
                    continue;
                }
                Frontier.Point s = best.get();
                List<String> beaten = new ArrayList<>();
                List<Frontier.Point> rivals = new ArrayList<>(baselines);
                heuristics.stream().filter(h -> h.bits() >= budget - TOLERANCE).forEach(rivals::add);
                for (Frontier.Point r : rivals) {
                    if (r.kl() <= s.kl()) {
                        beaten.add(String.format(Locale.ROOT, "%s (%.2f bits, %.4f)", r.setting(), r.bits(), r.kl()));
                    }
                }
                b.append(String.format(Locale.ROOT, "%s | %.2f | %.4f | %s | %s |\n", s.setting(), s.bits(), s.kl(),
                        beaten.isEmpty() ? "-" : String.join("; ", beaten), beaten.isEmpty() ? "met" : "not met"));
            }
        }
        return b.append('\n').toString();
    }
}
