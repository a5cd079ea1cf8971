package dev.moekit.toolkit.fuzz;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Json;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Seeded mutations of JSON documents, as bytes (bit flips, insertions, deletions, truncation, splices, numbers replaced
 * by huge, negative or fractional ones, duplicated keys, deep nesting) and as trees (a random value replaced by one of
 * another type or an extreme number, a key removed). Every mutation it applies is recorded in {@link #log}, so a
 * failing case can be read and replayed from (seed, case).
 */
final class Mutator {
    /** Numbers that wrap, overflow int or long, are fractional, negative or not finite once parsed. */
    static final List<String> NUMBERS = List.of("0", "-0", "1", "-1", "2", "7", "255", "256", "65536", "2147483647", "2147483648",
            "-2147483648", "4294967295", "4294967296", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
            "-9223372036854775809", "18446744073709551615", "18446744073709551616", "18446744073709551620",
            "340282366920938463463374607431768211456", "1.5", "-1.5", "0.0", "1e2", "1e400", "-1e400", "1e-400", "2000000000",
            "99999999999999999999999999999999999999999999999999", "0.000001", "3.0");
    static final List<String> STRINGS = List.of("", "abc", "\u001b[31mred\u001b[0m", "\u202eevil", "\u0000", "a\nb", "../x.safetensors",
            "/etc/passwd", "model-00001-of-00005.safetensors", ".", "F32", "BF16", "I64", "bfloat16", "x".repeat(300), "true", "1");
    private static final byte[] INTERESTING = "{}[]\",:-.0123456789eE \n\\\u0000".getBytes(StandardCharsets.ISO_8859_1);

    private final SplittableRandom r;
    final List<String> log = new ArrayList<>();
    /** A control case: {@link #mutateJson} leaves the document as it is. */
    boolean control;

    Mutator(SplittableRandom r) {
        this.r = r;
    }

    int nextInt(int bound) {
        return r.nextInt(bound);
    }

    boolean chance(double p) {
        return r.nextDouble() < p;
    }

    <T> T pick(List<T> l) {
        return l.get(r.nextInt(l.size()));
    }

    /** 1 to 4 mutations, byte-level or tree-level, of a JSON document. */
    byte[] mutateJson(byte[] doc) {
        if (control) {
            log.add("control (unmutated)");
            return doc;
        }
        int n = 1 + r.nextInt(4);
        byte[] out = doc;
        for (int i = 0; i < n; i++) {
            out = chance(0.5) ? mutateTree(out) : mutateBytes(out);
        }
        return out;
    }

    byte[] mutateBytes(byte[] b) {
        if (b.length == 0) {
            log.add("insert into empty");
            return new byte[] {INTERESTING[r.nextInt(INTERESTING.length)]};
        }
        String s = new String(b, StandardCharsets.ISO_8859_1); // byte-preserving view for the text operations
        switch (r.nextInt(10)) {
            case 0 -> {
                int p = r.nextInt(b.length);
                int bit = r.nextInt(8);
                byte[] o = b.clone();
                o[p] ^= (byte) (1 << bit);
                log.add("flip bit " + bit + " of byte " + p);
                return o;
            }
            case 1 -> {
                int p = r.nextInt(b.length + 1);
                byte v = chance(0.5) ? INTERESTING[r.nextInt(INTERESTING.length)] : (byte) r.nextInt(256);
                log.add("insert byte " + (v & 0xff) + " at " + p);
                return splice(b, p, p, new byte[] {v});
            }
            case 2 -> {
                int p = r.nextInt(b.length);
                int len = 1 + r.nextInt(Math.min(32, b.length - p));
                log.add("delete " + len + " bytes at " + p);
                return splice(b, p, p + len, new byte[0]);
            }
            case 3 -> {
                int p = r.nextInt(b.length);
                log.add("truncate at " + p);
                return java.util.Arrays.copyOf(b, p);
            }
            case 4 -> {
                int from = r.nextInt(b.length);
                int len = 1 + r.nextInt(Math.min(64, b.length - from));
                int to = r.nextInt(b.length + 1);
                log.add("copy " + len + " bytes from " + from + " to " + to);
                return splice(b, to, to, java.util.Arrays.copyOfRange(b, from, from + len));
            }
            case 5, 6 -> {
                List<int[]> nums = numbers(s);
                if (nums.isEmpty()) {
                    return mutateBytes(b);
                }
                int[] at = pick(nums);
                String v = pick(NUMBERS);
                log.add("number at " + at[0] + " (" + s.substring(at[0], at[1]) + ") -> " + v);
                return splice(b, at[0], at[1], v.getBytes(StandardCharsets.ISO_8859_1));
            }
            case 7 -> {
                List<int[]> members = members(s);
                if (members.isEmpty()) {
                    return mutateBytes(b);
                }
                int[] m = pick(members);
                String member = s.substring(m[0], m[1]);
                log.add("duplicate member at " + m[0] + " (" + abbreviate(member) + ")");
                return splice(b, m[1], m[1], ("," + member).getBytes(StandardCharsets.ISO_8859_1));
            }
            case 8 -> {
                List<int[]> members = members(s);
                if (members.isEmpty()) {
                    return mutateBytes(b);
                }
                int[] m = pick(members);
                int colon = s.indexOf(':', m[0]);
                int depth = pick(List.of(8, 100, 999, 1001, 5000, 50_000));
                boolean arrays = chance(0.5);
                String open = arrays ? "[" : "{\"a\":";
                String close = arrays ? "]" : "}";
                log.add("nest " + (arrays ? "arrays" : "objects") + " " + depth + " deep at " + colon);
                return splice(b, colon + 1, m[1], (open.repeat(depth) + "1" + close.repeat(depth)).getBytes(StandardCharsets.ISO_8859_1));
            }
            default -> {
                List<int[]> strings = strings(s);
                if (strings.isEmpty()) {
                    return mutateBytes(b);
                }
                int[] at = pick(strings);
                String v = pick(STRINGS);
                log.add("string at " + at[0] + " -> " + abbreviate(v));
                String json = Json.COMPACT.getNodeFactory().textNode(v).toString();
                return splice(b, at[0], at[1], json.getBytes(StandardCharsets.UTF_8));
            }
        }
    }

    /** Parses {@code b} (as is, when it is JSON) and replaces or removes one random node. */
    byte[] mutateTree(byte[] b) {
        JsonNode root;
        try {
            root = Json.COMPACT.readTree(b);
        } catch (Exception e) {
            return mutateBytes(b);
        }
        if (root == null || !root.isContainerNode() || root.isEmpty()) {
            return mutateBytes(b);
        }
        List<JsonNode> containers = new ArrayList<>();
        collect(root, containers);
        JsonNode parent = pick(containers);
        JsonNode v = value();
        if (parent instanceof ObjectNode o) {
            List<String> keys = new ArrayList<>();
            o.fieldNames().forEachRemaining(keys::add);
            String k = pick(keys);
            if (chance(0.15)) {
                o.remove(k);
                log.add("remove key " + abbreviate(k));
            } else {
                log.add("key " + abbreviate(k) + " -> " + abbreviate(v.toString()));
                o.set(k, v);
            }
        } else {
            ArrayNode a = (ArrayNode) parent;
            int i = r.nextInt(a.size());
            if (chance(0.15)) {
                a.remove(i);
                log.add("remove element " + i);
            } else if (chance(0.15)) {
                a.add(v);
                log.add("append " + abbreviate(v.toString()));
            } else {
                log.add("element " + i + " -> " + abbreviate(v.toString()));
                a.set(i, v);
            }
        }
        // numbers that Jackson would normalise are written as literal text
        return root.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static void collect(JsonNode n, List<JsonNode> out) {
        if (n.isContainerNode() && !n.isEmpty()) {
            out.add(n);
            for (JsonNode c : n) {
                collect(c, out);
            }
        }
    }

    /** A replacement value: an extreme number, a string, another type, or a small container. */
    JsonNode value() {
        JsonNodeFactory f = JsonNodeFactory.instance;
        return switch (r.nextInt(7)) {
            case 0, 1 -> {
                String s = pick(NUMBERS);
                try {
                    yield Json.COMPACT.readTree(s);
                } catch (Exception e) {
                    yield f.numberNode(new BigInteger("18446744073709551616"));
                }
            }
            case 2 -> f.textNode(pick(STRINGS));
            case 3 -> f.booleanNode(chance(0.5));
            case 4 -> f.nullNode();
            case 5 -> f.arrayNode().add(pick(List.of(0, 1, 8, -1, 2147483647)));
            default -> f.objectNode();
        };
    }

    static byte[] splice(byte[] b, int from, int to, byte[] insert) {
        byte[] o = new byte[b.length - (to - from) + insert.length];
        System.arraycopy(b, 0, o, 0, from);
        System.arraycopy(insert, 0, o, from, insert.length);
        System.arraycopy(b, to, o, from + insert.length, b.length - to);
        return o;
    }

    /** [start, end) of every number literal outside strings. */
    static List<int[]> numbers(String s) {
        List<int[]> out = new ArrayList<>();
        boolean inString = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (inString) {
                if (c == '\\') {
                    i++;
                } else if (c == '"') {
                    inString = false;
                }
            } else if (c == '"') {
                inString = true;
            } else if (c == '-' || (c >= '0' && c <= '9')) {
                int j = i + 1;
                while (j < s.length() && "0123456789.eE+-".indexOf(s.charAt(j)) >= 0) {
                    j++;
                }
                out.add(new int[] {i, j});
                i = j - 1;
            }
        }
        return out;
    }

    /** [start, end) of every string literal (quotes included). */
    static List<int[]> strings(String s) {
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) == '"') {
                int j = i + 1;
                while (j < s.length() && s.charAt(j) != '"') {
                    j += s.charAt(j) == '\\' ? 2 : 1;
                }
                if (j >= s.length()) {
                    break;
                }
                out.add(new int[] {i, j + 1});
                i = j;
            }
        }
        return out;
    }

    /** [start, end) of object members {@code "key": value}, in one pass (inputs may be nested 100000 deep). */
    static List<int[]> members(String s) {
        List<int[]> out = new ArrayList<>();
        java.util.ArrayDeque<int[]> stack = new java.util.ArrayDeque<>(); // {object?, member start or -1, expecting a key?}
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"') {
                int j = i + 1;
                while (j < s.length() && s.charAt(j) != '"') {
                    j += s.charAt(j) == '\\' ? 2 : 1;
                }
                int[] top = stack.peek();
                if (top != null && top[0] == 1 && top[2] == 1) {
                    top[1] = i;
                    top[2] = 0;
                }
                i = j;
            } else if (c == '{' || c == '[') {
                stack.push(new int[] {c == '{' ? 1 : 0, -1, c == '{' ? 1 : 0});
            } else if (c == '}' || c == ']') {
                int[] top = stack.poll();
                if (top != null && top[0] == 1 && top[1] >= 0) {
                    out.add(new int[] {top[1], i});
                }
            } else if (c == ',') {
                int[] top = stack.peek();
                if (top != null && top[0] == 1) {
                    if (top[1] >= 0) {
                        out.add(new int[] {top[1], i});
                    }
                    top[1] = -1;
                    top[2] = 1;
                }
            }
        }
        return out;
    }

    static String abbreviate(String s) {
        String e = dev.moekit.toolkit.io.Text.escape(s.length() > 60 ? s.substring(0, 60) + "...(" + s.length() + ")" : s);
        return e;
    }

    /** Every entry of a safetensors header except {@code __metadata__}. */
    static List<Map.Entry<String, JsonNode>> tensors(ObjectNode header) {
        List<Map.Entry<String, JsonNode>> out = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getKey().equals("__metadata__")) {
                out.add(e);
            }
        }
        return out;
    }
}
