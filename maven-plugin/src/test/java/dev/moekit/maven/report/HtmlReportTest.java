package dev.moekit.maven.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moekit.toolkit.io.Json;
import java.awt.image.BufferedImage;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The HTML page and its PNG charts from the real report of the compress-evaluate-check IT. */
class HtmlReportTest {
    @TempDir
    Path tmp;

    @Test
    void pageHasTablesAndCharts() throws Exception {
        JsonNode report;
        try (InputStream in = HtmlReportTest.class.getResourceAsStream("/eval-mixtral-tiny-stun.json")) {
            report = Json.STRICT.readTree(in);
        }
        Path html = tmp.resolve("m.eval.html");
        HtmlReport.write(report, html);
        String page = Files.readString(html);
        assertTrue(page.contains("<tr><td>python</td><td>126</td><td>7.567</td><td>13.55</td><td>1.791</td>"), page);
        assertTrue(page.contains("compression ratio 1.242"), page);
        assertTrue(page.contains("<img src=\"m.eval-perplexity.png\"") && page.contains("<img src=\"m.eval-routing.png\""));
        BufferedImage bars = ImageIO.read(tmp.resolve("m.eval-perplexity.png").toFile());
        BufferedImage heat = ImageIO.read(tmp.resolve("m.eval-routing.png").toFile());
        assertTrue(bars.getWidth() >= 360 && bars.getHeight() > 200);
        assertEquals(44 + 6 * 26 + 20, heat.getHeight(), "one row per MoE layer");
    }

    @Test
    void escapesText() {
        assertEquals("&lt;a href=&quot;x&quot;&gt; &amp;", HtmlReport.esc("<a href=\"x\"> &"));
    }
}
