package dev.moekit.toolkit.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class TextTest {
    @Test
    void plainStringsAreUnchanged() {
        String s = "model.layers.0.mlp.experts.7.w1.weight ünïcödé 漢字 😀";
        assertSame(s, Text.escape(s));
        assertEquals("'" + s + "'", Text.quote(s));
    }

    @Test
    void controlAndBidiCharactersAreEscaped() {
        assertEquals("\\u001b[31mred\\u001b[0m", Text.escape("\u001b[31mred\u001b[0m"));
        assertEquals("a\\u0000b\\u000a\\u000dc\\u0009", Text.escape("a\u0000b\n\rc\t"));
        assertEquals("\\u007f\\u0080\\u009b\\u009f", Text.escape("\u007f\u0080\u009b\u009f"));
        assertEquals("x\\u202ey\\u202a\\u2066\\u2069\\u200e\\u200f\\u061c", Text.escape("x\u202ey\u202a\u2066\u2069\u200e\u200f\u061c"));
        assertEquals("line\\u2028para\\u2029", Text.escape("line\u2028para\u2029"));
        assertEquals("\u00a0\u202f", Text.escape("\u00a0\u202f"), "neighbours of the escaped ranges stay");
    }

    @Test
    void unpairedSurrogatesAreEscapedPairsKept() {
        assertEquals("a\\ud800b", Text.escape("a\ud800b"));
        assertEquals("\\udc00", Text.escape("\udc00"));
        assertEquals("\ud83d\ude00", Text.escape("\ud83d\ude00"));
    }

    @Test
    void longStringsAreCutWithTheirLength() {
        String s = "y".repeat(1000);
        assertEquals("y".repeat(Text.MAX) + "...(1000 chars)", Text.clip(s));
        assertEquals("'" + "y".repeat(Text.MAX) + "...(1000 chars)'", Text.quote(s));
        assertEquals("y".repeat(Text.MAX), Text.clip("y".repeat(Text.MAX)));
        String emoji = "y".repeat(Text.MAX - 1) + "😀" + "z";
        assertEquals("y".repeat(Text.MAX - 1) + "...(" + emoji.length() + " chars)", Text.clip(emoji), "a pair is not split");
        assertEquals(s, Text.escape(s), "escape alone never cuts");
    }

    @Test
    void pathsAreEscapedNotCut() {
        Path p = Path.of("/tmp/" + "d".repeat(300) + "/\u001b.safetensors");
        assertEquals("/tmp/" + "d".repeat(300) + "/\\u001b.safetensors", Text.path(p));
        assertEquals("null", Text.clip(null));
    }
}
