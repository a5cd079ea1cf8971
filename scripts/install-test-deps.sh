#!/usr/bin/env bash
# Installs what the test suite needs beyond the JDK and Maven: Debian's Slurm (slurmctld, slurmd, sbatch) and munge,
# for the batch-job tests that start a one-node cluster on localhost. Needs root and apt; does nothing when present.
set -euo pipefail
if [ -x /usr/sbin/slurmctld ] && [ -x /usr/sbin/slurmd ] && [ -x /usr/bin/sbatch ] && [ -x /usr/sbin/munged ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "install-test-deps: Slurm is missing and this is not a root Debian/Ubuntu shell; the Slurm tests will skip" >&2
  echo "install-test-deps: to run them: sudo apt-get install slurm-wlm munge" >&2
  exit 0
fi
echo "install-test-deps: installing slurm-wlm and munge from Debian's packages..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
