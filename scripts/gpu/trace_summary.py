#!/usr/bin/env python3
"""Summarises a Chrome trace written by `moekit eval` with -Dmoekit.profile=FILE (libtorch's profiler through DJL):
total time per op name and per track (CPU thread / CUDA stream), the busiest first."""
import collections
import json
import sys

events = json.load(open(sys.argv[1]))
if isinstance(events, dict):
    events = events.get("traceEvents", [])
top = int(sys.argv[2]) if len(sys.argv) > 2 else 30
per = collections.defaultdict(lambda: [0, 0.0])
tracks = collections.defaultdict(lambda: [0, 0.0, float("inf"), 0.0])
for e in events:
    if e.get("ph") != "X":
        continue
    key = (str(e.get("pid")), str(e.get("tid")))
    d = float(e.get("dur", 0))
    per[(key, e.get("name"))][0] += 1
    per[(key, e.get("name"))][1] += d
    t = tracks[key]
    t[0] += 1
    t[1] += d
    t[2] = min(t[2], float(e.get("ts", 0)))
    t[3] = max(t[3], float(e.get("ts", 0)) + d)
for key, (n, d, a, b) in sorted(tracks.items(), key=lambda kv: -kv[1][1]):
    print(f"track pid={key[0]} tid={key[1]}: {n} events, {d / 1e3:.1f} ms summed, span {(b - a) / 1e3:.1f} ms")
print(f"{'track':>12} {'op':<40} {'count':>7} {'total ms':>10} {'mean us':>9}")
for (key, name), (n, d) in sorted(per.items(), key=lambda kv: -kv[1][1])[:top]:
    print(f"{key[1][:12]:>12} {str(name)[:40]:<40} {n:>7} {d / 1e3:>10.2f} {d / n:>9.1f}")
