package dev.moekit.quantize;

import org.junit.jupiter.api.TestInstance;

/** Every registered weight quantizer, with its default parameters. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class WeightQuantizerContractTest extends WeightQuantizerContract {
}
