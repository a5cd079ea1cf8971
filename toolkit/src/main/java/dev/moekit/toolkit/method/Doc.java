package dev.moekit.toolkit.method;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * What a parameter record component means, its default and range, shown by {@code moekit methods}, the Maven
 * plugin's docs and error messages. The default itself is not repeated here: it is read from the record.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.RECORD_COMPONENT, ElementType.FIELD, ElementType.PARAMETER, ElementType.METHOD})
public @interface Doc {
    String value();
}
