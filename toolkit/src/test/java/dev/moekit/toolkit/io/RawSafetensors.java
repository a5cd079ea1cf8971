package dev.moekit.toolkit.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Builds safetensors files byte by byte, including malformed ones, for reader tests. */
final class RawSafetensors {
    private RawSafetensors() {}

    /** Writes {@code header} (JSON text) with the declared length {@code declaredLen} and {@code data} after it. */
    static Path write(Path file, String header, long declaredLen, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredLen).put(h).put(data);
        Files.write(file, b.array());
        return file;
    }

    /** Writes raw header bytes (possibly not UTF-8) with their true length and {@code data} after them. */
    static Path write(Path file, byte[] header, byte[] data) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header).put(data);
        Files.write(file, b.array());
        return file;
    }

    static Path write(Path file, String header, byte[] data) throws IOException {
        return write(file, header, header.getBytes(StandardCharsets.UTF_8).length, data);
    }
}
