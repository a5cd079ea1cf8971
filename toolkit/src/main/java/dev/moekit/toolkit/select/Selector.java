package dev.moekit.toolkit.select;

import dev.moekit.toolkit.model.Role;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The one selector grammar every method uses to pick tensors or modules (after llm-compressor's
 * {@code targets}/{@code ignore}, https://github.com/vllm-project/llm-compressor, {@code docs/guides}).
 *
 * <p>A candidate is selected when at least one {@code targets} entry matches it and no {@code ignore} entry does.
 * An entry is one of:
 * <ul>
 *   <li>{@code re:<regex>}: the regex must match the whole module name or the whole tensor name
 *       ({@link java.util.regex.Matcher#matches()}, not a prefix or substring search);</li>
 *   <li>{@code kind:<kind>}: a coarse role kind ({@link Role.Kind}, case-insensitive, e.g. {@code kind:attention},
 *       {@code kind:routed_expert});</li>
 *   <li>{@code role:<role>}: one tensor role ({@link Role}, case-insensitive, e.g. {@code role:expert_down});</li>
 *   <li>anything else: an exact module name ({@code model.layers.0.self_attn.q_proj}) or tensor name
 *       ({@code model.layers.0.self_attn.q_proj.weight}).</li>
 * </ul>
 * An empty {@code targets} list selects nothing. Entries are parsed (and regexes compiled) once, in the constructor,
 * so a bad entry fails before any work starts.
 *
 */
public final class Selector {
    private static final String RE = "re:";
    private static final String KIND = "kind:";
    private static final String ROLE = "role:";

    private final List<String> targets;
    private final List<String> ignore;
    private final List<Entry> targetEntries;
    private final List<Entry> ignoreEntries;

    /**
     * @param targets entries that select
     * @param ignore  entries that exclude, checked after targets
     */
    public Selector(List<String> targets, List<String> ignore) {
        this.targets = List.copyOf(targets);
        this.ignore = List.copyOf(ignore);
        this.targetEntries = this.targets.stream().map(Selector::parse).toList();
        this.ignoreEntries = this.ignore.stream().map(Selector::parse).toList();
    }

    public List<String> targets() {
        return targets;
    }

    public List<String> ignore() {
        return ignore;
    }

    @Override
    public String toString() {
        return "Selector[targets=" + targets + ", ignore=" + ignore + "]";
    }

    /** Selects everything that {@code targets} names. */
    public static Selector of(String... targets) {
        return new Selector(List.of(targets), List.of());
    }

    /** A copy that also ignores {@code more}. */
    public Selector ignoring(List<String> more) {
        return new Selector(targets, java.util.stream.Stream.concat(ignore.stream(), more.stream()).toList());
    }

    /** Whether the candidate is selected: some target matches and no ignore entry does. */
    public boolean matches(Candidate c) {
        return anyMatch(targetEntries, c) && !anyMatch(ignoreEntries, c);
    }

    /** Whether a bare name (no role known) is selected; {@code kind:}/{@code role:} entries never match it. */
    public boolean matches(String name) {
        return matches(new Candidate(name, name, null));
    }

    private static boolean anyMatch(List<Entry> entries, Candidate c) {
        for (Entry e : entries) {
            if (e.test(c)) {
                return true;
            }
        }
        return false;
    }

    /**
     * What a selector is matched against.
     *
     * @param module module name, e.g. {@code model.layers.0.mlp.experts.3.down_proj}
     * @param tensor tensor name, e.g. {@code model.layers.0.mlp.experts.3.down_proj.weight}
     * @param role   the tensor's role, or null when unknown
     */
    public record Candidate(String module, String tensor, Role role) {
        public Candidate {
            if (module == null || tensor == null) {
                throw new IllegalArgumentException("selector candidate needs a module and a tensor name");
            }
        }
    }

    private interface Entry {
        boolean test(Candidate c);
    }

    private static Entry parse(String entry) {
        if (entry == null || entry.isBlank()) {
            throw new IllegalArgumentException("selector entry is empty");
        }
        if (entry.startsWith(RE)) {
            Pattern p = compile(entry);
            return c -> p.matcher(c.module()).matches() || p.matcher(c.tensor()).matches();
        }
        if (entry.startsWith(KIND)) {
            Role.Kind k = enumValue(Role.Kind.class, entry.substring(KIND.length()), entry);
            return c -> c.role() != null && c.role().kind() == k;
        }
        if (entry.startsWith(ROLE)) {
            Role r = enumValue(Role.class, entry.substring(ROLE.length()), entry);
            return c -> c.role() == r;
        }
        return c -> c.module().equals(entry) || c.tensor().equals(entry);
    }

    private static Pattern compile(String entry) {
        try {
            return Pattern.compile(entry.substring(RE.length()));
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException("selector entry '" + entry + "' is not a valid regex: " + e.getDescription());
        }
    }

    private static <E extends Enum<E>> E enumValue(Class<E> type, String s, String entry) {
        try {
            return Enum.valueOf(type, s.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("selector entry '" + entry + "': unknown " + type.getSimpleName()
                    + " (one of " + java.util.Arrays.toString(type.getEnumConstants()).toLowerCase(Locale.ROOT) + ")");
        }
    }
}
