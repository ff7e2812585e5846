#!/usr/bin/python3
"""bench/store-bench.py: store operations on a big INBOX, kura vs Dovecot 2.3, in the same run.

    bench/store-bench.py [--messages 100000] [--runs 3] [--dovecot maildir,sdbox]
                         [--kura build/kura] [--workdir /tmp/...] [--keep] [--json FILE]
                         [--ops SELECT,STORE]

What it does (issue 3):
1. Generates N + 20,000 synthetic messages once (deterministic from --seed): 1-30 KB,
   log-uniformly distributed; Received/DKIM/From/To/Cc/Subject/Date/Message-ID/References
   headers, some names and subjects RFC 2047-encoded ISO-2022-JP or UTF-8 Japanese; text/plain
   (us-ascii, quoted-printable, ISO-2022-JP, 8-bit UTF-8), multipart/alternative (text + HTML)
   and multipart/mixed with a base64 attachment (some with RFC 2231 Japanese file names).
2. Starts kura (plain IMAP listener on loopback, plaintext_auth = loopback, no TLS) and one
   Dovecot per format (bench/setup-dovecot: Maildir, and sdbox if asked), creates user `bench`
   on each and fills its INBOX with the first N messages (untimed: pipelined MULTIAPPENDs of
   500 with LITERAL+), then does one untimed FETCH 1:* (ENVELOPE) so each server has what it
   caches for ENVELOPE (Dovecot's dovecot.index.cache; kura renders ENVELOPE at delivery),
   waits until the server's processes are quiet (kura indexes the mail for SEARCH after its
   replies; Dovecot here has no FTS), then each server is stopped and its data copied aside
   (the snapshot).
3. Each run: every server's data is restored from its snapshot, the servers are started, one
   fresh connection per server LOGINs, then each operation is timed on every server in turn
   (interleaved per operation, the order rotating between runs):
     SELECT INBOX; UID FETCH 1:* (FLAGS); FETCH 1:* (ENVELOPE); UID STORE 1:* +FLAGS (\\Seen);
     COPY 1:* Copy; [untimed STORE 1:10000 +FLAGS.SILENT (\\Deleted)] EXPUNGE;
     10,000 APPENDs to mailbox "Appended", pipelined with LITERAL+ (one message each);
     10,000 more (other messages) the same way to the selected INBOX (EXISTS on the way).
     APPEND is timed in 10 rounds of 1,000 per server, the servers alternating, and the
     rounds summed: its cost is mostly fsync latency, which swings with the machine's other
     writers, and alternating spreads that evenly.
   Wall time per operation; the median over --runs is reported with the ratio kura/Dovecot.
   The memory of the process serving the session (kura: the kura-mail process holding the
   client socket; Dovecot: its `imap` process) is sampled every 10 ms (VmRSS), and VmHWM is read
   at the end of the session; the processes are restarted for each run, so VmHWM is that run's.
The client reads responses into one 4 MiB buffer and only counts patterns with bytes.count
(C speed), never parsing responses in Python; its CPU time per operation is reported against
the wall time to show it is not the bottleneck.

Standard library only; needs root (Dovecot's mail user) and bench/setup-dovecot. Results are
written down in bench/RESULTS.md."""
import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (REPO, USER, PASSWORD, Dovecot, ImapError, Imap, Kura,  # noqa: E402,F401
                      MessageFile, append_stream, copy_tree, log, proc_comm, proc_pss_kb,
                      proc_rss_kb, proc_status_kb, settle)

APPEND_COUNT = 10000
APPEND_CHUNKS = 10      # the 10,000 APPENDs are timed in 10 interleaved rounds of 1,000
EXPUNGE_COUNT = 10000
POPULATE_BATCH = 500

OPS = ["SELECT", "UID FETCH 1:* (FLAGS)", "FETCH 1:* (ENVELOPE)", "UID STORE 1:* +FLAGS (\\Seen)",
       "COPY 1:* Copy", "EXPUNGE 10000", "APPEND 10000 to Appended", "APPEND 10000 to INBOX"]


# ----------------------------------------------------------------------------------------------
# memory sampling

class Sampler(threading.Thread):
    """Samples VmRSS and RssAnon of the session processes every 10 ms; peaks per (server,
    label) in peak and peak_anon."""

    def __init__(self):
        super().__init__(daemon=True)
        self.pids = {}      # server name -> pid
        self.label = {}     # server name -> current operation
        self.peak = {}      # (server, label) -> kB
        self.peak_anon = {}
        self.stop_ev = threading.Event()

    def run(self):
        while not self.stop_ev.wait(0.01):
            for name, pid in list(self.pids.items()):
                rss, anon = proc_rss_kb(pid)
                key = (name, self.label.get(name, ""))
                if rss > self.peak.get(key, 0):
                    self.peak[key] = rss
                if anon > self.peak_anon.get(key, 0):
                    self.peak_anon[key] = anon


# ----------------------------------------------------------------------------------------------
# the benchmark

def populate(srv, msgs, n):
    srv.start()
    c = Imap(srv.port)
    c.login()
    c.command("CREATE Copy")
    c.command("CREATE Appended")
    t0 = time.time()
    last, nbytes, counts = c.pipeline(append_stream(msgs, "INBOX", list(range(n)), b"P",
                                                    batch=POPULATE_BATCH, with_meta=True),
                                      (n + POPULATE_BATCH - 1) // POPULATE_BATCH, b"P")
    nb = (n + POPULATE_BATCH - 1) // POPULATE_BATCH
    if counts[b" OK "] < nb or counts[b" NO "] or counts[b" BAD "]:
        raise ImapError("%s: populate: %s; last %r" % (srv.name, counts, last))
    t_app = time.time() - t0
    last, _, _ = c.command("SELECT INBOX")
    t0 = time.time()
    _, nbytes, counts = c.command("FETCH 1:* (ENVELOPE)", (b"\n* ",))
    t_env = time.time() - t0
    if counts[b"\n* "] < n:
        raise ImapError("%s: FETCH ENVELOPE gave %d responses" % (srv.name, counts[b"\n* "]))
    # kura indexes the new mail for SEARCH after the replies while the user has a session
    # (Dovecot here has no FTS): the snapshot is taken once that is done, or after the next
    # LOGIN the first timed operations would share the mail process with indexing the
    # backlog (a first SELECT at 1 ms instead of 0.2)
    idle_cpu, waited = settle(srv.proc.pid, limit=900)
    c.close()
    srv.stop()
    du = subprocess.run(["du", "-sk", srv.data_path], stdout=subprocess.PIPE, text=True)
    srv.snapshot()
    log("%s: populated %d messages in %.1f s (MULTIAPPEND x%d); first FETCH 1:* (ENVELOPE) "
        "%.2f s; quiet after %.0f s more (%.1f s of server CPU); data %s KB"
        % (srv.name, n, t_app, POPULATE_BATCH, t_env, waited, idle_cpu,
           du.stdout.split()[0] if du.stdout else "?"))
    return {"populate_s": t_app, "first_envelope_s": t_env}


def run_op(srv, c, op, n, msgs, sampler, chunk=0):
    """Time one operation (for APPEND: round `chunk` of APPEND_CHUNKS); returns dict(wall,
    cpu, bytes, untagged, status)."""
    sampler.label[srv.name] = op
    pre = None
    if op == "EXPUNGE 10000":
        c.command("STORE 1:%d +FLAGS.SILENT (\\Deleted)" % EXPUNGE_COUNT)
    if op.startswith("APPEND"):
        # built before the clock starts: the client only sends bytes while timed; every
        # message is new (kura stores identical bodies once)
        per = APPEND_COUNT // APPEND_CHUNKS
        if op.endswith("INBOX"):
            mailbox, first, prefix = "INBOX", n + APPEND_COUNT + chunk * per, b"B"
        else:
            mailbox, first, prefix = "Appended", n + chunk * per, b"A"
        pre = list(append_stream(msgs, mailbox, list(range(first, first + per)), prefix))
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    if op == "SELECT":
        last, nbytes, counts = c.command("SELECT INBOX", (b"\n* ",))
    elif op == "UID FETCH 1:* (FLAGS)":
        last, nbytes, counts = c.command("UID FETCH 1:* (FLAGS)", (b"\n* ",))
    elif op == "FETCH 1:* (ENVELOPE)":
        last, nbytes, counts = c.command("FETCH 1:* (ENVELOPE)", (b"\n* ",))
    elif op == "UID STORE 1:* +FLAGS (\\Seen)":
        last, nbytes, counts = c.command("UID STORE 1:* +FLAGS (\\Seen)", (b"\n* ",))
    elif op == "COPY 1:* Copy":
        last, nbytes, counts = c.command("COPY 1:* Copy", (b"\n* ",))
    elif op == "EXPUNGE 10000":
        last, nbytes, counts = c.command("EXPUNGE", (b"\n* ",))
    elif op.startswith("APPEND"):
        last, nbytes, counts = c.pipeline(pre, per, prefix, (b"\n* ",))
        if counts[b" OK "] < per or counts[b" NO "] or counts[b" BAD "]:
            raise ImapError("%s: APPEND: %s; last %r" % (srv.name, counts, last))
    else:
        raise ValueError(op)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return {"wall": wall, "cpu": cpu, "bytes": nbytes, "untagged": counts[b"\n* "],
            "status": last.decode(errors="replace")[:120]}


def log_op(r, s, op, res):
    log("run %d %-15s %-28s %8.3f s  (client cpu %.2f s, %d bytes, %d untagged) %s"
        % (r + 1, s.name, op, res["wall"], res["cpu"], res["bytes"], res["untagged"],
           res["status"][:60]))


def one_run(r, servers, n, msgs, results):
    for s in servers:
        s.restore()
    # the restore wrote GBs: without this the first fsyncs timed (EXPUNGE right after SELECT
    # with --ops) wait for that writeback (5-12 s instead of 0.1 s, all servers alike)
    os.sync()
    order = servers[r % len(servers):] + servers[:r % len(servers)]
    sampler = Sampler()
    conns = {}
    try:
        for s in servers:
            s.start()
        for s in servers:
            c = Imap(s.port)
            c.login()
            conns[s.name] = c
            pid = s.session_pid(c)
            if pid is None:
                raise RuntimeError("%s: cannot find the process serving the session" % s.name)
            sampler.pids[s.name] = pid
            results[s.name].setdefault("session_comm", proc_comm(pid))
            rss, anon = proc_rss_kb(pid)
            results[s.name].setdefault("rss_after_login_kb", []).append(rss)
            results[s.name].setdefault("anon_after_login_kb", []).append(anon)
        sampler.start()
        for op in OPS:
            if not op.startswith("APPEND"):
                for s in order:
                    res = run_op(s, conns[s.name], op, n, msgs, sampler)
                    results[s.name]["ops"].setdefault(op, []).append(res)
                    log_op(r, s, op, res)
                    time.sleep(0.2)
                continue
            # APPEND is fsync-bound, and fsync latency swings with whatever else the machine
            # writes: rounds of 1,000 per server, alternating, spread that noise evenly
            total = {}
            for k in range(APPEND_CHUNKS):
                for s in (order if k % 2 == 0 else order[::-1]):
                    res = run_op(s, conns[s.name], op, n, msgs, sampler, chunk=k)
                    t = total.setdefault(s.name, dict(res, wall=0.0, cpu=0.0, bytes=0,
                                                      untagged=0, rounds=[]))
                    for key in ("wall", "cpu", "bytes", "untagged"):
                        t[key] += res[key]
                    t["rounds"].append(round(res["wall"], 3))
                    t["status"] = res["status"]
            for s in order:
                results[s.name]["ops"].setdefault(op, []).append(total[s.name])
                log_op(r, s, op, total[s.name])
                log("    rounds of %d: %s" % (APPEND_COUNT // APPEND_CHUNKS, " ".join(
                    "%.2f" % x for x in total[s.name]["rounds"])))
        time.sleep(0.05)
        for s in servers:
            pid = sampler.pids[s.name]
            results[s.name].setdefault("vmhwm_kb", []).append(proc_status_kb(pid, "VmHWM:"))
            results[s.name].setdefault("pss_end_kb", []).append(proc_pss_kb(pid))
            for op in OPS:
                results[s.name].setdefault("peak_rss_kb", {}).setdefault(op, []).append(
                    sampler.peak.get((s.name, op), 0))
                results[s.name].setdefault("peak_anon_kb", {}).setdefault(op, []).append(
                    sampler.peak_anon.get((s.name, op), 0))
    finally:
        sampler.stop_ev.set()
        for c in conns.values():
            c.close()
        for s in servers:
            s.stop()


def fmt_s(x):
    return "%.3f" % x if x < 10 else "%.2f" % x


def report(results, servers, n, runs):
    kura = servers[0].name
    others = [s.name for s in servers[1:]]
    med = lambda xs: statistics.median(xs)
    lines = []
    hdr = "| operation | kura (s) |"
    sep = "| --- | ---: |"
    for o in others:
        hdr += " %s (s) | kura/%s |" % (o, o.replace("dovecot-", ""))
        sep += " ---: | ---: |"
    lines += [hdr, sep]
    for op in OPS:
        k = med([x["wall"] for x in results[kura]["ops"][op]])
        row = "| `%s` | %s |" % (op, fmt_s(k))
        for o in others:
            d = med([x["wall"] for x in results[o]["ops"][op]])
            row += " %s | %.2f |" % (fmt_s(d), k / d if d > 0 else float("inf"))
        lines.append(row)
    lines.append("")
    lines.append("| session process | after LOGIN VmRSS / RssAnon | peak VmRSS (during) | "
                 "peak RssAnon (during) | VmHWM | Pss at end |")
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: |")
    for s in servers:
        R = results[s.name]
        peaks = {op: max(v) for op, v in R["peak_rss_kb"].items()}
        pop = max(peaks, key=peaks.get)
        apeaks = {op: max(v) for op, v in R["peak_anon_kb"].items()}
        aop = max(apeaks, key=apeaks.get)
        lines.append("| %s (`%s`) | %.1f / %.1f MiB | %.1f MiB (%s) | %.1f MiB (%s) | %.1f MiB "
                     "| %.1f MiB |"
                     % (s.name, R.get("session_comm", "?"), med(R["rss_after_login_kb"]) / 1024,
                        med(R["anon_after_login_kb"]) / 1024, peaks[pop] / 1024, pop,
                        apeaks[aop] / 1024, aop, max(R["vmhwm_kb"]) / 1024,
                        med(R["pss_end_kb"]) / 1024))
    worst = max(((x["cpu"] / x["wall"], op, name) for name in results
                 for op, xs in results[name]["ops"].items() for x in xs if x["wall"] > 0.05),
                default=(0, "", ""))
    lines.append("")
    lines.append("Client CPU / wall time: at most %.0f%% (%s on %s), so the client is not the "
                 "bottleneck." % (worst[0] * 100, worst[1], worst[2]))
    lines.append("")
    lines.append("Per operation, all runs (wall s; client CPU s; response bytes; untagged lines):")
    for op in OPS:
        for s in servers:
            xs = results[s.name]["ops"][op]
            lines.append("  %-30s %-16s wall %s  cpu %s  bytes %d  untagged %d  peak RSS %s "
                         "anon %s MiB"
                         % (op, s.name, "/".join(fmt_s(x["wall"]) for x in xs),
                            "/".join("%.2f" % x["cpu"] for x in xs), xs[0]["bytes"],
                            xs[0]["untagged"],
                            "/".join("%.1f" % (v / 1024) for v in
                                     results[s.name]["peak_rss_kb"][op]),
                            "/".join("%.1f" % (v / 1024) for v in
                                     results[s.name]["peak_anon_kb"][op])))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kura", default=os.path.join(REPO, "build", "kura"))
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=3, help="timed runs (0: only populate)")
    ap.add_argument("--dovecot", default="maildir",
                    help="comma-separated Dovecot formats: maildir, sdbox, mdbox")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--workdir", help="where to put everything (default: a new dir in /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    ap.add_argument("--json", help="write all measurements to this file")
    ap.add_argument("--snapshots", help="a work dir kept (--keep) by an earlier run with the "
                    "same --messages and --seed: copy its populated data instead of populating "
                    "(kura migrates an older schema at its first open, before any timing)")
    ap.add_argument("--ops", help="time only the operations whose names contain one of these "
                    "comma-separated words (e.g. SELECT,STORE); default: all")
    a = ap.parse_args()
    if a.ops:
        words = [w.strip().upper() for w in a.ops.split(",") if w.strip()]
        OPS[:] = [op for op in OPS if any(w in op.upper() for w in words)]
        if not OPS:
            sys.exit("store-bench.py: --ops matches no operation")

    interrupted = []

    def terminate(signum, frame):
        interrupted.append(signum)
        raise SystemExit("store-bench.py: signal %d, cleaning up" % signum)
    # as a background job SIGINT may be ignored: make TERM/HUP/INT all clean up (finally)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, terminate)
    if os.geteuid() != 0:
        sys.exit("store-bench.py: run as root (Dovecot's mail user, setup-dovecot installs)")
    if a.messages < EXPUNGE_COUNT:
        sys.exit("store-bench.py: --messages must be at least %d" % EXPUNGE_COUNT)
    binary = os.path.abspath(a.kura)
    workdir = a.workdir or tempfile.mkdtemp(prefix="kura-store-bench-", dir="/tmp")
    os.makedirs(workdir, exist_ok=True)
    os.chmod(workdir, 0o755)
    log("work dir %s" % workdir)
    servers = []
    msgs = None
    ok = False
    try:
        msgs = MessageFile(os.path.join(workdir, "messages.bin"), a.messages + 2 * APPEND_COUNT,
                           a.seed)
        servers.append(Kura(binary, workdir))
        for fmt in a.dovecot.split(","):
            if fmt:
                servers.append(Dovecot(fmt, workdir))
        results = {s.name: {"ops": {}} for s in servers}
        for s in servers:
            if a.snapshots:
                src = os.path.join(a.snapshots, os.path.relpath(s.data_path, workdir)) + ".snap"
                if not os.path.isdir(src):
                    sys.exit("store-bench.py: no snapshot %s" % src)
                copy_tree(src, s.data_path + ".snap")
                log("%s: data copied from %s" % (s.name, src))
            else:
                results[s.name].update(populate(s, msgs, a.messages))
        for r in range(a.runs):
            one_run(r, servers, a.messages, msgs, results)
        if a.runs == 0:
            # populate only (with --keep: data to profile against; each server's data is in
            # WORKDIR/NAME, its pristine copy beside it with the suffix .snap)
            ok = True
            return
        text = report(results, servers, a.messages, a.runs)
        print("\n%d messages in INBOX (%.1f MB), %d runs, median wall time\n"
              % (a.messages, sum(x[1] for x in msgs.index[:a.messages]) / 1e6, a.runs))
        print(text)
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"messages": a.messages, "runs": a.runs, "results": results}, f,
                          indent=1)
        ok = True
    finally:
        for s in servers:
            try:
                s.stop()
            except Exception as e:  # noqa: BLE001 - keep stopping the others
                log("stopping %s: %s" % (s.name, e))
        if msgs:
            msgs.close()
        if not a.keep and (ok or interrupted):
            shutil.rmtree(workdir, ignore_errors=True)
        elif not ok:
            log("work dir kept for inspection: %s" % workdir)


if __name__ == "__main__":
    main()
