#!/usr/bin/env python3
"""Per-unit times of a batch job (from its provenance) and the wall time projected to N nodes.

usage: bench-batch-project.py PROVENANCE WALL_SECONDS WORKERS

The projection: T(N) = S + makespan(units, N), where makespan is the longest-processing-time-first schedule of the
measured unit times over N workers (one unit per node at a time, units waiting for others only start after them) and
S = the measured wall time minus the makespan at the measured worker count: planning, fingerprint and NaN scan of
the input, worker JVM starts, commit (assembly, NaN scan of the output), provenance and publish. S is taken as
fixed, which is pessimistic for the worker starts (they overlap on several nodes) and optimistic for a shared
filesystem that slows down under N concurrent readers.
"""
import json
import sys


def makespan(units, after, n):
    # list scheduling in plan order with dependencies; units sorted longest first among those ready
    done_at = {}
    free = [0.0] * n
    pending = list(units)
    while pending:
        ready = [u for u in pending if all(a in done_at for a in after.get(u[0], []))]
        ready.sort(key=lambda u: -u[1])
        uid, secs = ready[0]
        start_dep = max([done_at[a] for a in after.get(uid, [])], default=0.0)
        k = min(range(n), key=lambda i: max(free[i], start_dep))
        start = max(free[k], start_dep)
        free[k] = start + secs
        done_at[uid] = free[k]
        pending.remove((uid, secs))
    return max(done_at.values())


prov = json.load(open(sys.argv[1]))
wall = float(sys.argv[2])
workers = int(sys.argv[3])
for st in prov["stages"]:
    units = list(st["unit_seconds"].items())
    after = {u["id"]: u.get("after", []) for u in st["plan"]["units"]}
    total = sum(s for _, s in units)
    print(f"stage {st['stage']}: {len(units)} units, {total:.1f} s of unit time, commit {st.get('commit_seconds', 0):.1f} s")
    for uid, secs in units:
        print(f"  {uid}: {secs:.1f} s")
    measured = makespan(units, after, workers)
    serial = wall - measured
    print(f"wall {wall:.1f} s with {workers} worker(s); unit makespan {measured:.1f} s; serial part S = {serial:.1f} s")
    for n in (1, 2, 4, 8, 16, 32):
        m = makespan(units, after, n)
        print(f"  projected N={n:2d}: {serial + m:7.1f} s (speed-up {(serial + makespan(units, after, 1)) / (serial + m):.2f}x)")
