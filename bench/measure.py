#!/usr/bin/env python3
"""Run commands side by side: median wall time and peak RSS of each, and the
ratio of each to the first.  Usage:
  measure.py ROUNDS 'label=cmd arg...' 'label=cmd arg...' ..."""
import os, resource, shlex, statistics, subprocess, sys, time

def run(argv):
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    return time.perf_counter() - t0, ru.ru_maxrss, os.waitstatus_to_exitcode(status)

def main():
    rounds = int(sys.argv[1])
    rows = []
    for spec in sys.argv[2:]:
        label, cmd = spec.split("=", 1)
        argv = shlex.split(cmd)
        walls, rss, code = [], 0, 0
        for _ in range(rounds):
            w, r, code = run(argv)
            walls.append(w)
            rss = max(rss, r)
        rows.append((label, statistics.median(walls) * 1000, rss / 1024, code))
    base = rows[0]
    print(f"{'command':34} {'wall ms':>9} {'ratio':>6} {'peak RSS MiB':>13} {'ratio':>6} exit")
    for label, ms, mib, code in rows:
        print(f"{label:34} {ms:9.1f} {ms / base[1]:6.2f} {mib:13.1f} {mib / base[2]:6.2f} {code}")

main()
