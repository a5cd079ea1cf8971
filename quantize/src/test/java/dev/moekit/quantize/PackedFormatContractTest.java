package dev.moekit.quantize;

import org.junit.jupiter.api.TestInstance;

/** Every registered format. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PackedFormatContractTest extends PackedFormatContract {
}
