#!/usr/bin/python3
"""bench/index-defer-bench.py: what deferring the search index moves (issue 3).

    bench/index-defer-bench.py --before OLD-KURA --after NEW-KURA [-n 10000] [--rounds 2]

For each round and each binary in turn (before, after; fresh data each time): one connection
APPENDs N bench messages to INBOX, pipelined with LITERAL+ (one message per APPEND, so one
commit each), timed, with the CPU time all kura processes used meanwhile (/proc/PID/stat);
then SELECT INBOX and, timed, the first UID SEARCH BODY of a string found nowhere (for the
"after" binary this includes indexing the N waiting messages: index_idle_ms = 0 there, so no
idle time indexed anything before), the same search again, and UID SORT (SUBJECT). Prints
one line per measurement. Standard library only.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Imap, ImapError, Kura, MessageFile, append_stream, log, proc_descendants  # noqa: E402

CLK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid):
    total = 0
    for p in [pid] + proc_descendants(pid):
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK


def one(binary, label, msgs, n, workdir, no_idle):
    d = tempfile.mkdtemp(dir=workdir)
    os.chmod(d, 0o755)
    k = Kura(binary, d)
    if no_idle:
        with open(k.conf, "a") as f:
            f.write("index_idle_ms = 0\n")
    k.start()
    try:
        for attempt in range(100):  # the auth process may still be starting
            c = Imap(k.port)
            try:
                c.login()
                break
            except ImapError as e:
                c.close()
                err = e
                time.sleep(0.1)
        else:
            raise err
        cpu0, t0 = cpu_of(k.proc.pid), time.time()
        c.pipeline(append_stream(msgs, "INBOX", list(range(n)), b"A"), n, b"A")
        wall, cpu = time.time() - t0, cpu_of(k.proc.pid) - cpu0
        log("%-6s APPEND %d: %.1f s wall (%.0f/s), kura CPU %.1f s (%.2f ms/message)"
            % (label, n, wall, n / wall, cpu, cpu * 1000 / n))
        c.command("SELECT INBOX")
        for what in ("first", "second"):
            cpu0, t0 = cpu_of(k.proc.pid), time.time()
            c.command('UID SEARCH BODY "qqxzqqxz"')
            log("%-6s %s UID SEARCH BODY: %.3f s wall, kura CPU %.2f s"
                % (label, what, time.time() - t0, cpu_of(k.proc.pid) - cpu0))
        t0 = time.time()
        c.command("UID SORT (SUBJECT) UTF-8 ALL")
        log("%-6s UID SORT (SUBJECT) ALL: %.3f s" % (label, time.time() - t0))
        c.close()
    finally:
        k.stop()
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seed", type=int, default=3)
    a = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="index-defer-bench-")
    os.chmod(workdir, 0o755)
    try:
        msgs = MessageFile(os.path.join(workdir, "messages.bin"), a.n, a.seed)
        for r in range(a.rounds):
            order = [("before", a.before, False), ("after", a.after, True)]
            if r % 2:
                order.reverse()
            for label, binary, no_idle in order:
                one(binary, label, msgs, a.n, workdir, no_idle)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
