package dev.moekit.toolkit.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;

/** The project's Jackson mappers: strict on input (duplicate keys are errors), stable and readable on output. */
public final class Json {
    /** Rejects duplicate keys, as the safetensors format requires. */
    public static final ObjectMapper STRICT = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    /** Pretty printer for configs, indexes and reports (2-space indent, as HF writes them). */
    public static final ObjectMapper PRETTY = JsonMapper.builder()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .build();

    /** Compact writer, for safetensors headers. */
    public static final ObjectMapper COMPACT = JsonMapper.builder().build();

    private Json() {}
}
