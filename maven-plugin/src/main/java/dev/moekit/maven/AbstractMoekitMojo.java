package dev.moekit.maven;

import dev.moekit.maven.core.BuildLog;
import dev.moekit.maven.core.Fork;
import dev.moekit.maven.core.ForkOptions;
import dev.moekit.maven.core.ForkSource;
import dev.moekit.maven.core.Inputs;
import dev.moekit.maven.core.Jdk;
import dev.moekit.maven.core.TaskFailure;
import dev.moekit.maven.core.UpToDate;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.maven.artifact.Artifact;
import org.apache.maven.execution.MavenSession;
import org.apache.maven.plugin.AbstractMojo;
import org.apache.maven.plugin.MojoExecution;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugin.descriptor.PluginDescriptor;
import org.apache.maven.plugin.logging.Log;
import org.apache.maven.plugins.annotations.Parameter;
import org.apache.maven.project.MavenProject;
import org.apache.maven.toolchain.Toolchain;
import org.apache.maven.toolchain.ToolchainManager;

/**
 * What every moekit goal shares: skipping, the forked JVM (JDK, heap, JVM options, device, environment) and the
 * folder that holds state and reports. The goals are thin adapters: parameters in, one task of
 * {@code dev.moekit.maven.core} called, its failure turned into a build failure.
 */
abstract class AbstractMoekitMojo extends AbstractMojo {
    /** Skips the goal. */
    @Parameter(property = "moekit.skip", defaultValue = "false")
    protected boolean skip;

    /**
     * Home of the JDK 25 (or newer) that runs moekit. When unset: a Maven toolchain of type {@code jdk} (the one the
     * build selected with maven-toolchains-plugin if it is 25 or newer, else one matching version {@code [25,)} in
     * {@code toolchains.xml}), {@code $MOEKIT_JAVA_HOME}, {@code $JAVA_HOME} if it is 25 or newer, the JDK running
     * Maven, then JDKs installed in {@code /usr/lib/jvm}, {@code /usr/java}, {@code /opt}, sdkman or {@code ~/.jdks}
     * (newest first). The build fails naming where it looked when none is found.
     */
    @Parameter(property = "moekit.javaHome")
    protected File javaHome;

    /**
     * Extra options for the forked JVM, after moekit's own ({@code --add-modules jdk.incubator.vector
     * --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -Dai.djl.pytorch.graph_optimizer=false}),
     * e.g. {@code -XX:MaxDirectMemorySize=16g} or {@code -Dai.djl.pytorch.num_threads=8}.
     */
    @Parameter(property = "moekit.jvmArgs")
    protected List<String> jvmArgs;

    /** Maximum heap of the forked JVM ({@code -Xmx}), e.g. {@code 8g}; unset: the JVM's default (a quarter of memory). */
    @Parameter(property = "moekit.maxHeap")
    protected String maxHeap;

    /**
     * Where the work runs: {@code cpu}, {@code gpu} or {@code gpu:N}. For {@code compress}, unset keeps the recipe's
     * device; for {@code evaluate} and {@code check}, unset means {@code cpu}.
     */
    @Parameter(property = "moekit.device")
    protected String device;

    /**
     * Extra environment variables for the forked JVM (e.g. {@code OMP_NUM_THREADS}, {@code DJL_CACHE_DIR}).
     * {@code DJL_OFFLINE=true} is set unless given here or in Maven's environment: the fork never downloads.
     */
    @Parameter
    protected Map<String, String> environmentVariables;

    /**
     * Folder of the shared reference assets, passed to the fork as {@code -Dmoekit.shared}; its {@code data} folder is
     * the default data (unless {@code $MOEKIT_DATA} is set). Unset: {@code ../shared} beside the project.
     */
    @Parameter(property = "moekit.shared")
    protected String shared;

    /**
     * Folder for the goals' state files ({@code <goal>-<executionId>.json}, which make the goals incremental), the
     * evaluation reports, the resolved recipes and the default output.
     */
    @Parameter(property = "moekit.workDirectory", defaultValue = "${project.build.directory}/moekit", required = true)
    protected File workDirectory;

    /** The project (read-only). */
    @Parameter(defaultValue = "${project}", readonly = true, required = true)
    protected MavenProject project;

    /** The build session (read-only). */
    @Parameter(defaultValue = "${session}", readonly = true, required = true)
    protected MavenSession session;

    /** This goal's execution: its id names the state file (read-only). */
    @Parameter(defaultValue = "${mojoExecution}", readonly = true, required = true)
    protected MojoExecution mojoExecution;

    /** This plugin: its dependency artifacts are the fork's classpath (read-only). */
    @Parameter(defaultValue = "${plugin}", readonly = true, required = true)
    protected PluginDescriptor plugin;

    private final ToolchainManager toolchains;

    AbstractMoekitMojo(ToolchainManager toolchains) {
        this.toolchains = toolchains;
    }

    /** The goal's work. */
    protected abstract void run() throws TaskFailure, IOException, InterruptedException;

    @Override
    public final void execute() throws MojoExecutionException, MojoFailureException {
        if (skip) {
            getLog().info("moekit:" + goal() + " skipped (skip is true)");
            return;
        }
        try {
            run();
        } catch (TaskFailure e) {
            throw new MojoFailureException(e.getMessage(), e);
        } catch (IllegalArgumentException | UncheckedIOException e) {
            throw new MojoFailureException("moekit:" + goal() + ": " + e.getMessage(), e);
        } catch (IOException e) {
            throw new MojoExecutionException("moekit:" + goal() + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MojoExecutionException("moekit:" + goal() + " was interrupted", e);
        } catch (RuntimeException e) { // a checkpoint that cannot be read, and the like
            throw new MojoFailureException("moekit:" + goal() + ": " + e.getMessage(), e);
        }
    }

    protected String goal() {
        return mojoExecution.getGoal();
    }

    protected Path basedir() {
        return project.getBasedir().toPath().toAbsolutePath().normalize();
    }

    /** A parameter path, absolute against the project. */
    protected Path path(File f) {
        return f == null ? null : basedir().resolve(f.toPath()).toAbsolutePath().normalize();
    }

    protected Path work() {
        return path(workDirectory);
    }

    /** This execution's state file. */
    protected UpToDate state(String goal) {
        return new UpToDate(work(), goal, mojoExecution.getExecutionId());
    }

    protected Path dataDir() {
        return Inputs.defaultDataDir(System.getenv(), shared, basedir());
    }

    protected BuildLog log() {
        Log l = getLog();
        return new BuildLog() {
            @Override
            public void info(String m) {
                l.info(m);
            }

            @Override
            public void warn(String m) {
                l.warn(m);
            }

            @Override
            public void error(String m) {
                l.error(m);
            }

            @Override
            public void debug(String m) {
                l.debug(m);
            }
        };
    }

    /** The fork, made when a goal has work to do. */
    protected ForkSource forks() {
        return () -> {
            Jdk.Found jdk = Jdk.find(path(javaHome), toolchainJdks(), System.getenv(), Path.of(System.getProperty("java.home")),
                    Jdk.defaultRoots(System.getenv()));
            getLog().debug("moekit fork: Java " + jdk.major() + " at " + jdk.home() + " (from " + jdk.source() + ")");
            List<Path> cp = new ArrayList<>();
            for (Artifact a : plugin.getArtifacts()) {
                if (a.getFile() != null) {
                    cp.add(a.getFile().toPath());
                }
            }
            ForkOptions o = new ForkOptions(jdk.java(), cp, jvmArgs, maxHeap, shared, environmentVariables, basedir(),
                    work().resolve(goal() + "-" + mojoExecution.getExecutionId() + ".args"));
            return new Fork(o, log());
        };
    }

    private List<Jdk.Candidate> toolchainJdks() {
        List<Jdk.Candidate> out = new ArrayList<>();
        if (toolchains == null) {
            return out;
        }
        Toolchain selected = toolchains.getToolchainFromBuildContext("jdk", session);
        add(out, selected, "the build's jdk toolchain");
        for (Toolchain t : toolchains.getToolchains(session, "jdk", Map.of("version", "[" + Jdk.MIN + ",)"))) {
            add(out, t, "a jdk toolchain of version " + Jdk.MIN + "+ in toolchains.xml");
        }
        return out;
    }

    private static void add(List<Jdk.Candidate> out, Toolchain t, String source) {
        if (t == null) {
            return;
        }
        String java = t.findTool("java");
        if (java != null && Path.of(java).getParent() != null && Path.of(java).getParent().getParent() != null) {
            out.add(new Jdk.Candidate(Path.of(java).getParent().getParent(), source + " (" + t + ")"));
        }
    }
}
