#!/usr/bin/env python3
"""Run commands side by side: median wall time and peak RSS of each, and the
ratio of each to the first.  Usage:
  measure.py ROUNDS 'label=cmd arg...' 'label=cmd arg...' ...

Runs are interleaved (round 1: A B C, round 2: A B C, ...) after one
untimed warm-up of each, so a machine shared with other builds slows every
side alike; the median of the rounds is reported.  Env MEASURE_ENV_<i>
(i = 0-based row) adds NAME=VALUE words to that row's environment;
MEASURE_TURN=1 turns the order each round (A B, B A, ...)."""
import os, shlex, statistics, sys, tempfile, time

TIME = "/usr/bin/time"   # GNU time (Debian package "time")

def run(argv, env):
    # The peak RSS is read by GNU time, a small process that forks the
    # command: a child forked (or vforked) from this Python carries the
    # interpreter's ~10 MiB into its peak through exec.  Both sides pay
    # the same extra fork.
    fd, out = tempfile.mkstemp(prefix="measure-")
    os.close(fd)
    wrap = [TIME, "-f", "%M", "-o", out] + argv if os.access(TIME, os.X_OK) else argv
    t0 = time.perf_counter()
    pid = os.posix_spawnp(wrap[0], wrap, env, file_actions=[
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)])
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    rss = ru.ru_maxrss
    try:
        with open(out) as f:
            lines = [l for l in f.read().split() if l.isdigit()]
            rss = int(lines[-1]) if wrap is not argv and lines else rss
    finally:
        os.unlink(out)
    return wall, rss, os.waitstatus_to_exitcode(status)

def main():
    rounds = max(int(sys.argv[1]), 1)
    rows = []
    for i, spec in enumerate(sys.argv[2:]):
        label, cmd = spec.split("=", 1)
        env = dict(os.environ)
        for word in shlex.split(os.environ.get(f"MEASURE_ENV_{i}", "")):
            k, v = word.split("=", 1)
            env[k] = v
        rows.append({"label": label, "argv": shlex.split(cmd), "env": env,
                     "walls": [], "rss": 0, "code": 0})
    for r in rows:   # warm-up: page cache, state caches, for every side alike
        _, _, r["code"] = run(r["argv"], r["env"])
    turn = os.environ.get("MEASURE_TURN") == "1"
    for k in range(rounds):
        # MEASURE_TURN=1: round k starts at row k (A B, B A, ...), so that
        # neither side always runs right after the other's caches filled
        order = rows[k % len(rows):] + rows[:k % len(rows)] if turn else rows
        for r in order:
            w, rss, code = run(r["argv"], r["env"])
            r["walls"].append(w)
            r["rss"] = max(r["rss"], rss)
            r["code"] = code or r["code"]
    base_ms = statistics.median(rows[0]["walls"]) * 1000
    base_mib = rows[0]["rss"] / 1024
    print(f"{'command':34} {'wall ms':>9} {'ratio':>6} {'peak RSS MiB':>13} {'ratio':>6} exit"
          f"   (median of {rounds} interleaved rounds{', order turned' if turn else ''})")
    for r in rows:
        ms = statistics.median(r["walls"]) * 1000
        mib = r["rss"] / 1024
        print(f"{r['label']:34} {ms:9.1f} {ms / base_ms:6.2f} {mib:13.1f} {mib / base_mib:6.2f} "
              f"{r['code']}")
    sys.exit(1 if any(r["code"] for r in rows) else 0)

main()
