package dev.moekit.pipeline.batch;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A one-node Slurm cluster on localhost for tests: Debian's slurm-wlm and munge (installed by .ci/run), a generated
 * slurm.conf in a temporary folder, slurmctld and slurmd started as root on private ports, stopped on close. The
 * slurm commands find it through {@code SLURM_CONF}, which {@link #available} checks; tests skip with the reason
 * where Slurm cannot start (CI installs it so it never skips there).
 */
public final class LocalSlurm implements AutoCloseable {
    private final Path dir;
    private final Process ctld;
    private final Process slurmd;

    private LocalSlurm(Path dir, Process ctld, Process slurmd) {
        this.dir = dir;
        this.ctld = ctld;
        this.slurmd = slurmd;
    }

    /** Why Slurm cannot run here, or null when it can. */
    public static String unavailable() {
        for (String bin : new String[] {"/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch", "/usr/sbin/munged", "/usr/bin/munge"}) {
            if (!Files.isExecutable(Path.of(bin))) {
                return bin + " is not installed (apt-get install slurm-wlm munge; .ci/run does)";
            }
        }
        if (!"root".equals(System.getProperty("user.name"))) {
            return "slurmd must run as root for this one-node test cluster";
        }
        return null;
    }

    /** Starts a cluster whose config lives in {@code dir}; the slurm client commands use it through SLURM_CONF. */
    public static LocalSlurm start(Path dir) throws IOException, InterruptedException {
        Files.createDirectories(dir.resolve("spool"));
        Files.createDirectories(dir.resolve("state"));
        startMunge();
        int cpus = Runtime.getRuntime().availableProcessors();
        long memMb = Math.max(1024, physicalMemoryMb() * 3 / 4);
        int base = 17000 + (int) (ProcessHandle.current().pid() % 2000) * 2;
        String conf = String.join("\n",
                "ClusterName=moekit-test", "SlurmctldHost=localhost", "SlurmUser=root", "SlurmdUser=root", "AuthType=auth/munge",
                "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core",
                "SchedulerType=sched/backfill", "ReturnToService=2", "MpiDefault=none", "SlurmctldPort=" + base, "SlurmdPort=" + (base + 1),
                "StateSaveLocation=" + dir.resolve("state"), "SlurmdSpoolDir=" + dir.resolve("spool"),
                "SlurmctldPidFile=" + dir.resolve("slurmctld.pid"), "SlurmdPidFile=" + dir.resolve("slurmd.pid"),
                "SlurmctldLogFile=" + dir.resolve("slurmctld.log"), "SlurmdLogFile=" + dir.resolve("slurmd.log"),
                "JobCompType=jobcomp/none", "AccountingStorageType=accounting_storage/none", "JobAcctGatherType=jobacct_gather/none",
                "MinJobAge=600", "KillWait=5", "SchedulerParameters=defer_batch",
                "NodeName=localhost CPUs=" + cpus + " RealMemory=" + memMb + " State=UNKNOWN",
                "PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4", "");
        Path confFile = dir.resolve("slurm.conf");
        Files.writeString(confFile, conf, StandardCharsets.UTF_8);
        Process ctld = new ProcessBuilder("/usr/sbin/slurmctld", "-D", "-f", confFile.toString()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("slurmctld.out").toFile()).start();
        Process slurmd = new ProcessBuilder("/usr/sbin/slurmd", "-D", "-f", confFile.toString()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("slurmd.out").toFile()).start();
        LocalSlurm s = new LocalSlurm(dir, ctld, slurmd);
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < until) {
            String out = run(confFile, "sinfo", "-h", "-o", "%T");
            if (out != null && (out.contains("idle") || out.contains("mixed"))) {
                return s;
            }
            Thread.sleep(500);
        }
        s.close();
        throw new IOException("the test Slurm cluster did not come up in 60 s; see " + dir + "/slurmctld.log and slurmd.log");
    }

    private static long physicalMemoryMb() {
        var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        return os.getTotalMemorySize() / (1024 * 1024);
    }

    /** Whether a munged answers (a socket file alone may be left by a daemon that was killed). */
    private static boolean mungeAnswers() throws IOException, InterruptedException {
        Process p = new ProcessBuilder("/usr/bin/munge", "-n").redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
    }

    private static void startMunge() throws IOException, InterruptedException {
        if (mungeAnswers()) {
            return;
        }
        for (String stale : new String[] {"munge.socket.2", "munge.socket.2.lock", "munged.pid"}) {
            Files.deleteIfExists(Path.of("/run/munge", stale));
        }
        Files.createDirectories(Path.of("/run/munge"));
        new ProcessBuilder("chown", "munge:munge", "/run/munge").start().waitFor();
        Process p = new ProcessBuilder("/usr/sbin/munged", "--force", "--num-threads=4").redirectErrorStream(true).start();
        p.waitFor(20, TimeUnit.SECONDS);
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!mungeAnswers() && System.nanoTime() < until) {
            Thread.sleep(200);
        }
    }

    /** Runs a slurm client command against this cluster; its output, or null on failure. */
    public static String run(Path conf, String... cmd) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("SLURM_CONF", conf.toString());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0 ? out : null;
    }

    public Path conf() {
        return dir.resolve("slurm.conf");
    }

    @Override
    public void close() {
        slurmd.destroy();
        ctld.destroy();
        try {
            slurmd.waitFor(20, TimeUnit.SECONDS);
            ctld.waitFor(20, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        slurmd.destroyForcibly();
        ctld.destroyForcibly();
    }
}
