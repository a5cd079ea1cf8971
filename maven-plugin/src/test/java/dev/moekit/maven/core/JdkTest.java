package dev.moekit.maven.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Finding the fork's JDK as scripts/find-jdk.sh does, on fake JDK folders (a bin/java and a release file). */
class JdkTest {
    @TempDir
    Path tmp;

    Path jdk(String name, String version) throws Exception {
        Path home = Files.createDirectories(tmp.resolve(name));
        Path java = Files.createDirectories(home.resolve("bin")).resolve("java");
        Files.writeString(java, "#!/bin/sh\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.writeString(home.resolve("release"), "IMPLEMENTOR=\"x\"\nJAVA_VERSION=\"" + version + "\"\n");
        return home;
    }

    @Test
    void versionsFromReleaseFiles() throws Exception {
        assertEquals(25, Jdk.major(jdk("a", "25.0.1")));
        assertEquals(17, Jdk.major(jdk("b", "17.0.15")));
        assertEquals(8, Jdk.major(jdk("c", "1.8.0_402")));
        assertEquals(-1, Jdk.major(tmp.resolve("nothing")));
        assertEquals(25, Jdk.major(Path.of(System.getProperty("java.home"))) >= 25 ? 25 : -1, "the JVM running the tests");
    }

    @Test
    void configuredHomeWinsAndMustBe25() throws Exception {
        Path j25 = jdk("j25", "25");
        Path j17 = jdk("j17", "17.0.2");
        assertEquals(new Jdk.Found(j25, 25, "javaHome"), Jdk.find(j25, List.of(), Map.of("JAVA_HOME", j17.toString()), null, List.of()));
        TaskFailure e = assertThrows(TaskFailure.class, () -> Jdk.find(j17, List.of(), Map.of(), null, List.of()));
        assertEquals("javaHome " + j17 + " is Java 17; moekit needs a JDK 25 or newer", e.getMessage());
    }

    @Test
    void orderIsToolchainThenMoekitJavaHomeThenJavaHomeThenMavensJvmThenInstallFolders() throws Exception {
        Path tc = jdk("tc", "25.0.1");
        Path mk = jdk("mk", "26");
        Path jh = jdk("jh", "25");
        Path old = jdk("old", "21.0.1");
        List<Jdk.Candidate> toolchains = List.of(new Jdk.Candidate(tc, "toolchain"));
        assertEquals(tc, Jdk.find(null, toolchains, Map.of("MOEKIT_JAVA_HOME", mk.toString()), null, List.of()).home());
        assertEquals(mk, Jdk.find(null, List.of(), Map.of("MOEKIT_JAVA_HOME", mk.toString(), "JAVA_HOME", jh.toString()), null, List.of()).home());
        assertEquals(jh, Jdk.find(null, List.of(), Map.of("MOEKIT_JAVA_HOME", old.toString(), "JAVA_HOME", jh.toString()), null, List.of()).home(),
                "a JDK older than 25 is passed over");
        assertEquals("the JVM running Maven", Jdk.find(null, List.of(), Map.of("JAVA_HOME", old.toString()), jh, List.of()).source());
    }

    @Test
    void installFoldersGiveTheNewest() throws Exception {
        Path root = Files.createDirectories(tmp.resolve("jvm"));
        Files.move(jdk("temurin-25", "25.0.1"), root.resolve("temurin-25"));
        Files.move(jdk("jdk-27", "27"), root.resolve("jdk-27"));
        Files.move(jdk("java-17", "17"), root.resolve("java-17"));
        Jdk.Found f = Jdk.find(null, List.of(), Map.of(), null, List.of(root));
        assertEquals(root.resolve("jdk-27"), f.home());
        assertEquals(27, f.major());
        assertEquals(root.resolve("jdk-27/bin/java"), f.java());
    }

    @Test
    void noneFoundSaysWhereItLookedAndWhatToDo() throws Exception {
        Path old = jdk("old", "17");
        TaskFailure e = assertThrows(TaskFailure.class, () -> Jdk.find(null, List.of(), Map.of("JAVA_HOME", old.toString()), old, List.of(tmp.resolve("jvm"))));
        assertTrue(e.getMessage().startsWith("no JDK 25 or newer found for the forked moekit JVM (looked at the javaHome parameter, a Maven toolchain"), e.getMessage());
        assertTrue(e.getMessage().contains("set <javaHome>, $MOEKIT_JAVA_HOME, or a toolchain"), e.getMessage());
    }
}
