#!/usr/bin/python3
"""bench/fsync-rate.py: how many durable writes per second this machine's disk takes (issue 7).

    bench/fsync-rate.py [--dir DIR] [--seconds 3] [--threads 1,8] [--json FILE]

The ceiling for durable deliveries: a delivery is only as fast as the syncs it needs. In DIR
(default: a new temp dir under /tmp, which is where the benchmarks keep the servers' data, so
the same filesystem) each thread loops, for --seconds, over one of these patterns:

  overwrite   pwrite 4 KiB at offset 0 of its own preallocated file, fdatasync   (1 sync)
  append      write 4 KiB at the end of its own file, fdatasync (the size changes) (1 sync)
  create      kura's per-message body pattern: create a temp file, write 4 KiB, fsync it,
              rename it to its final name, fsync the directory                   (2 syncs)
  maildir     Dovecot's Maildir delivery with mail_fsync = optimized: create tmp/F, write
              4 KiB, fdatasync, rename to new/F (the directory is not synced)     (1 sync)

and reports operations/s and syncs/s for 1 and 8 threads (threads share one directory, as
deliveries to one user would; os.fsync releases the GIL, so Python's threads really overlap in
the kernel). Files are removed afterwards. Standard library only.
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

BLOCK = b"x" * 4095 + b"\n"
PATTERNS = ("overwrite", "append", "create", "maildir")
SYNCS = {"overwrite": 1, "append": 1, "create": 2, "maildir": 1}


def worker(pattern, d, tid, deadline, counts, lats):
    n = 0
    lat = []
    if pattern in ("overwrite", "append"):
        fd = os.open(os.path.join(d, "f%d" % tid), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        if pattern == "overwrite":
            os.write(fd, BLOCK)
            os.fsync(fd)
        try:
            while True:
                t0 = time.monotonic()
                if t0 >= deadline:
                    break
                if pattern == "overwrite":
                    os.pwrite(fd, BLOCK, 0)
                else:
                    os.write(fd, BLOCK)
                os.fdatasync(fd)
                lat.append(time.monotonic() - t0)
                n += 1
        finally:
            os.close(fd)
    else:
        tmpdir = os.path.join(d, "tmp") if pattern == "maildir" else d
        newdir = os.path.join(d, "new") if pattern == "maildir" else d
        dfd = os.open(newdir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            while True:
                t0 = time.monotonic()
                if t0 >= deadline:
                    break
                tmp = os.path.join(tmpdir, ".tmp.%d.%d" % (tid, n))
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.write(fd, BLOCK)
                if pattern == "create":
                    os.fsync(fd)
                else:
                    os.fdatasync(fd)
                os.close(fd)
                os.rename(tmp, os.path.join(newdir, "m.%d.%d" % (tid, n)))
                if pattern == "create":
                    os.fsync(dfd)
                lat.append(time.monotonic() - t0)
                n += 1
        finally:
            os.close(dfd)
    counts[tid] = n
    lats.extend(lat)


def run(pattern, base, threads, seconds):
    d = tempfile.mkdtemp(prefix="fsync-%s-" % pattern, dir=base)
    if pattern == "maildir":
        os.mkdir(os.path.join(d, "tmp"))
        os.mkdir(os.path.join(d, "new"))
    counts = [0] * threads
    lats = []
    deadline = time.monotonic() + seconds
    ts = [threading.Thread(target=worker, args=(pattern, d, i, deadline, counts, lats))
          for i in range(threads)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.monotonic() - t0
    shutil.rmtree(d, ignore_errors=True)
    ops = sum(counts)
    lats.sort()
    return {
        "pattern": pattern, "threads": threads, "seconds": round(wall, 3), "ops": ops,
        "ops_per_s": round(ops / wall, 1), "syncs_per_s": round(ops * SYNCS[pattern] / wall, 1),
        "p50_ms": round(lats[len(lats) // 2] * 1000, 3) if lats else None,
        "p99_ms": round(lats[min(len(lats) - 1, int(len(lats) * 0.99))] * 1000, 3) if lats else None,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", default="/tmp", help="a directory on the filesystem to probe (/tmp)")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--threads", default="1,8")
    ap.add_argument("--patterns", default=",".join(PATTERNS))
    ap.add_argument("--rounds", type=int, default=1, help="repeat everything; medians are printed")
    ap.add_argument("--json", help="write the results as JSON")
    a = ap.parse_args()
    threads = [int(t) for t in a.threads.split(",")]
    patterns = a.patterns.split(",")
    for p in patterns:
        if p not in PATTERNS:
            sys.exit("fsync-rate: unknown pattern %s (%s)" % (p, ", ".join(PATTERNS)))
    st = os.statvfs(a.dir)
    print("fsync-rate: %s (%.0f GiB free), %.1f s per measurement, %d round(s)" % (
        a.dir, st.f_bavail * st.f_frsize / 2**30, a.seconds, a.rounds))
    results = []
    for r in range(a.rounds):
        for p in patterns:
            for t in threads:
                res = run(p, a.dir, t, a.seconds)
                res["round"] = r + 1
                results.append(res)
                print("  round %d %-9s %d thread(s): %8.1f ops/s %8.1f syncs/s  p50 %6.2f ms  "
                      "p99 %6.2f ms" % (r + 1, p, t, res["ops_per_s"], res["syncs_per_s"],
                                        res["p50_ms"] or 0, res["p99_ms"] or 0), flush=True)
    summary = []
    print("median over rounds:")
    for p in patterns:
        for t in threads:
            rs = [x for x in results if x["pattern"] == p and x["threads"] == t]
            ops = [x["ops_per_s"] for x in rs]
            syncs = [x["syncs_per_s"] for x in rs]
            s = {"pattern": p, "threads": t, "ops_per_s": statistics.median(ops),
                 "syncs_per_s": statistics.median(syncs), "min_ops": min(ops), "max_ops": max(ops)}
            summary.append(s)
            print("  %-9s %d thread(s): %8.1f ops/s (%.1f-%.1f) %8.1f syncs/s" % (
                p, t, s["ops_per_s"], s["min_ops"], s["max_ops"], s["syncs_per_s"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"dir": a.dir, "runs": results, "summary": summary}, f, indent=1)
    return summary


if __name__ == "__main__":
    main()
