#!/usr/bin/python3
"""bench/lmtp-bench.py: durable LMTP deliveries per second, kura vs Dovecot 2.3, in the same run
(issue 7).

    bench/lmtp-bench.py [--rounds 3] [--duration 10] [--users 100]
                        [--scenarios 1x1,8x1,1x50,8x50] [--mbox-count 1000]
                        [--kura build/kura] [--kura-also LABEL=PATH ...] [--load build/kura-load]
                        [--format maildir]
                        [--fsync-seconds 3] [--strace 4] [--workdir DIR] [--keep] [--json FILE]

What it does:
1. Generates test mail with bench/mbox-gen (--mbox-count messages, --seed 7, at most 1 MiB
   each, every 100th between 1 MB and 1 MiB; the summary line states the sizes).
2. Starts kura (its defaults: 2 login, 2 mail, 2 lmtp processes; LMTP and IMAP on free
   loopback ports) and Dovecot (bench/setup-dovecot: Debian's defaults, mail_fsync =
   optimized, Maildir unless --format, an LMTP inet listener), both with --users benchmark
   users from bench/setup-users (bench1..benchN).
3. Measures the disk's sync rate in the same directory with bench/fsync-rate.py, before the
   rounds and again after them (the rate moves with the machine's other writers).
4. Each round runs every scenario CxK (C connections, K recipients per transaction) on both
   servers in turn, the order alternating between rounds (kura first in odd rounds, Dovecot
   in even ones): `kura-load --mode lmtp -c C --rcpts K --users N -d DURATION`. A scenario
   written CxK@U uses only the first U users (e.g. 1x1@20: few enough users that kura's lmtp
   process keeps every store open between deliveries). It records
   deliveries/s (recipients answered 250 during the measured phase), transactions, latency
   percentiles, errors, and the CPU time the server's whole process tree used during the run
   (utime+stime+cutime+cstime over /proc/PID/stat of the master and its descendants, before
   and after). After each run every user's INBOX is counted over IMAP (STATUS MESSAGES): the
   sum must have grown by exactly the number of 250s kura-load got (run and teardown phases).
   Then the bench waits until the server is quiet (under 2% of a CPU for a second, at most
   300 s) and reports the CPU it used meanwhile as "+later": work left for after the replies
   (kura indexes new mail for search once idle), so the next run does not pay for it and the
   total cost per delivery stays visible.
5. With --strace S: a separate short run per server (1x1, 1x1@20 and 1x50, S seconds) under
   `strace -f -c -e trace=fsync,fdatasync,syncfs,sync_file_range,msync` on every process of
   the server: syncs per delivery.
6. Prints per scenario the median deliveries/s of each server, min-max, the ratio of medians
   and the per-round ratios, CPU ms per delivery, and kura's rate against the disk's.
--kura-also LABEL=PATH[,KEY=VALUE...] adds another kura binary (server "kura-LABEL", its own
data and ports) to the alternation, e.g. a build before and after a change, each compared with
Dovecot; the KEY=VALUE items are configuration lines for that server only (e.g.
--kura-also p4=build/kura,lmtp_processes=4 against the same binary with its defaults).
--no-dovecot runs kura alone (no ratios, no root needed for Dovecot's setup).
--kura-set KEY=VALUE adds a line to every kura's configuration (e.g. lmtp_processes=8).

Needs root (Dovecot's mail user) and strace for --strace. Standard library only.
"""
import argparse
import imaplib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (BENCH, REPO, free_port, loadavg, log, proc_descendants,  # noqa: E402
                      ratio_summary, settle, tree_cpu)

PASSWORD = "benchpw"


def proc_tree(pid):
    return [pid] + proc_descendants(pid)


def wait_greeting(port, prefix, proc, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s during startup" % (what, proc.returncode))
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.settimeout(5)
            data = s.recv(4096)
            s.close()
            if data.startswith(prefix):
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("%s not answering on port %d" % (what, port))


class Server:
    name = "?"

    def __init__(self):
        self.proc = None
        self.imap_port = free_port()
        self.lmtp_port = free_port()
        self.logf = None

    def wait(self):
        wait_greeting(self.imap_port, b"* OK", self.proc, self.name)
        wait_greeting(self.lmtp_port, b"220", self.proc, self.name + " LMTP")

    def stop(self):
        if self.proc is None:
            return
        pids = proc_tree(self.proc.pid)[1:]
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.proc = None
        if self.logf:
            self.logf.close()
            self.logf = None

    def inbox_total(self, users):
        """Sum of STATUS INBOX (MESSAGES) over the users, each logged in over IMAP."""
        total = 0
        for u in users:
            c = imaplib.IMAP4("127.0.0.1", self.imap_port)
            try:
                c.login(u, PASSWORD)
                typ, data = c.status("INBOX", "(MESSAGES)")
                if typ != "OK":
                    raise RuntimeError("%s: STATUS for %s: %s" % (self.name, u, data))
                m = re.search(rb"MESSAGES (\d+)", data[0])
                total += int(m.group(1))
                c.logout()
            finally:
                try:
                    c.shutdown()
                except OSError:
                    pass
        return total


class Kura(Server):
    def __init__(self, binary, workdir, users, label=None, extra=()):
        super().__init__()
        self.name = "kura" if label is None else "kura-" + label
        self.binary = binary
        self.dir = os.path.join(workdir, self.name)
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.data_path = os.path.join(self.dir, "data")
        self.conf = os.path.join(self.dir, "kura.conf")
        with open(self.conf, "w") as f:
            f.write("data_dir = %s\nimap_listen = 127.0.0.1:%d\nimaps_listen =\npop3_listen =\n"
                    "pop3s_listen =\nlmtp_listen = 127.0.0.1:%d\nplaintext_auth = loopback\n"
                    "log_level = warning\n" % (self.data_path, self.imap_port, self.lmtp_port))
            for kv in extra:
                k, v = kv.split("=", 1)
                f.write("%s = %s\n" % (k.strip(), v.strip()))
        subprocess.run([os.path.join(BENCH, "setup-users"), "-n", str(users), "--kura", binary,
                        "--config", self.conf], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    def start(self):
        self.logf = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = subprocess.Popen([self.binary, "-c", self.conf, "serve"],
                                     stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=self.logf, cwd=self.dir)
        self.wait()


class Dovecot(Server):
    def __init__(self, fmt, workdir, users):
        super().__init__()
        self.name = "dovecot-" + fmt
        self.dir = os.path.join(workdir, self.name)
        r = subprocess.run([os.path.join(BENCH, "setup-dovecot"), "--port", str(self.imap_port),
                            "--lmtp-port", str(self.lmtp_port), "--format", fmt, self.dir],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise RuntimeError("setup-dovecot failed: %s" % r.stderr.decode(errors="replace"))
        subprocess.run([os.path.join(BENCH, "setup-users"), "-n", str(users), "--dovecot",
                        self.dir], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        self.conf = os.path.join(self.dir, "dovecot.conf")

    def start(self):
        self.logf = open(os.path.join(self.dir, "master.out"), "ab")
        self.proc = subprocess.Popen(["dovecot", "-F", "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf)
        self.wait()


# ----------------------------------------------------------------------------------------------
# runs

def load_run(args, srv, conns, rcpts, duration, mbox, json_path, users=None):
    cmd = [args.load, "--mode", "lmtp", "--port", str(srv.lmtp_port), "-c", str(conns),
           "--rcpts", str(rcpts), "--users", str(users or args.users), "-d", str(duration),
           "--mbox", mbox, "-q", "--json", json_path, "--timeout", "120"]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = r.stdout.decode(errors="replace")
    if r.returncode not in (0, 1) or not os.path.exists(json_path):
        raise RuntimeError("kura-load failed (%d):\n%s" % (r.returncode, out))
    with open(json_path) as f:
        j = json.load(f)
    d = j["run"]["ops"].get("deliver", {})
    td = j["teardown"]["ops"].get("deliver", {})
    errors_lines = [line for line in out.splitlines() if line.startswith("kura-load[")]
    return {
        "deliveries": j["lmtp"]["deliveries"],
        "deliveries_per_s": j["lmtp"]["deliveries_per_s"],
        "transactions": j["lmtp"]["transactions"],
        "seconds": j["run"]["seconds"],
        "all_250": j["lmtp"]["deliveries"] + td.get("items", 0),
        "errors": j["errors"],
        "error_lines": errors_lines[:5],
        "p50_ms": d.get("latency_ms", {}).get("p50"),
        "p99_ms": d.get("latency_ms", {}).get("p99"),
        "load_cpu": j["load_cpu"]["user"] + j["load_cpu"]["system"],
        "exit": r.returncode,
    }


def one(args, srv, sc, mbox, tag, users, before_total):
    conns, rcpts, nusers = sc
    cpu0 = tree_cpu(srv.proc.pid)
    t0 = time.monotonic()
    res = load_run(args, srv, conns, rcpts, args.duration, mbox,
                   os.path.join(args.workdir, "%s-%s.json" % (srv.name, tag)), nusers)
    res["wall"] = time.monotonic() - t0
    res["server_cpu"] = tree_cpu(srv.proc.pid) - cpu0
    res["loadavg"] = loadavg()
    total = srv.inbox_total(users)
    res["landed"] = total - before_total
    # work a server left for later (kura indexes new mail for search once it is idle): wait
    # until the server is quiet so the next run does not pay for it, and count its CPU
    res["later_cpu"], res["settle_s"] = settle(srv.proc.pid)
    res["verified"] = res["landed"] == res["all_250"]
    return res, total


def strace_syncs(args, srv, sc, mbox):
    """Syncs per delivery under strace -f -c, attached to every process of the server."""
    out = os.path.join(args.workdir, "strace-%s-%dx%du%d.txt" % (srv.name, sc[0], sc[1], sc[2]))
    sc = tuple(sc)
    cmd = ["strace", "-f", "-c", "-o", out, "-e",
           "trace=fsync,fdatasync,syncfs,sync_file_range,msync"]
    for p in proc_tree(srv.proc.pid):
        cmd += ["-p", str(p)]
    st = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    res = load_run(args, srv, sc[0], sc[1], args.strace, mbox,
                   os.path.join(args.workdir, "strace-%s.json" % srv.name), sc[2])
    time.sleep(0.5)
    st.send_signal(signal.SIGINT)
    st.wait(30)
    calls = {}
    with open(out) as f:
        for line in f:
            p = line.split()
            if len(p) >= 5 and p[-1] in ("fsync", "fdatasync", "syncfs", "sync_file_range",
                                         "msync") and p[3].isdigit():
                calls[p[-1]] = int(p[3])
    n = max(res["all_250"], 1)
    return {"scenario": scenario_key(sc, args), "deliveries": res["all_250"], "calls": calls,
            "per_delivery": {k: round(v / n, 3) for k, v in calls.items()},
            "total_per_delivery": round(sum(calls.values()) / n, 3)}


def scenario_key(sc, args):
    return "%dx%d" % sc[:2] if sc[2] == args.users else "%dx%d@%d" % sc


def fsync_probe(args, when):
    log("fsync rate in %s (%s the rounds)" % (args.workdir, when))
    fj = os.path.join(args.workdir, "fsync-%s.json" % when)
    subprocess.run([sys.executable, os.path.join(BENCH, "fsync-rate.py"), "--dir", args.workdir,
                    "--seconds", str(args.fsync_seconds), "--json", fj], check=True,
                   stdout=subprocess.DEVNULL)
    with open(fj) as f:
        summary = json.load(f)["summary"]
    log("  " + "; ".join("%s x%d %.0f ops/s" % (x["pattern"], x["threads"], x["ops_per_s"])
                         for x in summary))
    return {"when": when, "summary": summary}


def spread(xs):
    return "%.1f-%.1f" % (min(xs), max(xs)) if xs else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--scenarios", default="1x1,8x1,1x50,8x50")
    ap.add_argument("--mbox-count", type=int, default=1000)
    ap.add_argument("--kura", default=os.path.join(REPO, "build", "kura"))
    ap.add_argument("--kura-also", action="append", default=[], metavar="LABEL=PATH[,KEY=VALUE]")
    ap.add_argument("--kura-set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--load", default=os.path.join(REPO, "build", "kura-load"))
    ap.add_argument("--format", default="maildir")
    ap.add_argument("--fsync-seconds", type=float, default=3.0)
    ap.add_argument("--strace", type=int, default=0, help="seconds of the strace runs (0: none)")
    ap.add_argument("--no-dovecot", action="store_true", help="kura alone (no ratios)")
    ap.add_argument("--workdir")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json")
    args = ap.parse_args()
    scenarios = []
    for s in args.scenarios.split(","):
        m = re.fullmatch(r"(\d+)x(\d+)(?:@(\d+))?", s)
        if m is None:
            sys.exit("lmtp-bench: scenario %s: expected CxK or CxK@U" % s)
        c, k, u = int(m.group(1)), int(m.group(2)), int(m.group(3) or args.users)
        if k > u or u > args.users:
            sys.exit("lmtp-bench: scenario %s needs K <= U <= --users" % s)
        scenarios.append((c, k, u))
    own_workdir = args.workdir is None
    if own_workdir:
        args.workdir = tempfile.mkdtemp(prefix="lmtp-bench-", dir="/tmp")
    os.makedirs(args.workdir, exist_ok=True)
    os.chmod(args.workdir, 0o755)
    users = ["bench%d" % i for i in range(1, args.users + 1)]
    servers = []
    results = {"machine": {"nproc": os.cpu_count(), "loadavg_start": loadavg(),
                           "uname": " ".join(os.uname())},
               "args": vars(args), "runs": [], "strace": []}
    try:
        mbox = os.path.join(args.workdir, "lmtp.mbox")
        r = subprocess.run([os.path.join(BENCH, "mbox-gen"), "-n", str(args.mbox_count), "--seed",
                            "7", "--max-size", "1M", "--big-every", "100", "-o", mbox],
                           stderr=subprocess.PIPE, check=True)
        results["mbox"] = r.stderr.decode().strip()
        log(results["mbox"])

        # --fsync-seconds 0: no probe of the disk (and no "% of the disk's rate" lines)
        results["fsync_runs"] = [fsync_probe(args, "before")] if args.fsync_seconds > 0 else []

        servers.append(Kura(args.kura, args.workdir, args.users, extra=args.kura_set))
        for extra in args.kura_also:
            # LABEL=PATH[,KEY=VALUE...]: the settings only for this server, after --kura-set
            label, rest = extra.split("=", 1)
            path, *own = rest.split(",")
            servers.append(Kura(path, args.workdir, args.users, label,
                                list(args.kura_set) + own))
        if not args.no_dovecot:
            servers.append(Dovecot(args.format, args.workdir, args.users))
        totals = {}
        for s in servers:
            s.start()
            totals[s.name] = s.inbox_total(users)
            log("%s: IMAP %d, LMTP %d, pid %d, %d messages in the INBOXes" % (
                s.name, s.imap_port, s.lmtp_port, s.proc.pid, totals[s.name]))

        for rnd in range(1, args.rounds + 1):
            order = servers if rnd % 2 == 1 else list(reversed(servers))
            for sc in scenarios:
                for s in order:
                    key = scenario_key(sc, args)
                    tag = "r%d-%s" % (rnd, key.replace("@", "u"))
                    res, totals[s.name] = one(args, s, sc, mbox, tag, users, totals[s.name])
                    res.update({"round": rnd, "server": s.name, "scenario": key})
                    results["runs"].append(res)
                    log("round %d %-5s %-16s %8.1f deliveries/s  p50 %7.1f ms  p99 %7.1f ms  "
                        "errors %d  server CPU %.1f s (+%.1f s later)  landed %d/%d %s  "
                        "load %s" % (
                            rnd, key, s.name, res["deliveries_per_s"], res["p50_ms"] or 0,
                            res["p99_ms"] or 0, res["errors"], res["server_cpu"],
                            res["later_cpu"], res["landed"],
                            res["all_250"], "ok" if res["verified"] else "MISMATCH",
                            res["loadavg"]))
                    for line in res["error_lines"]:
                        log("    " + line)

        if args.fsync_seconds > 0:
            results["fsync_runs"].append(fsync_probe(args, "after"))
        if args.strace:
            for s in servers:
                for sc in ((1, 1, args.users), (1, 1, min(20, args.users)),
                           (1, min(50, args.users), args.users)):
                    st = strace_syncs(args, s, sc, mbox)
                    st["server"] = s.name
                    results["strace"].append(st)
                    log("strace %s %s: %d deliveries, %s -> %.2f syncs per delivery" % (
                        s.name, st["scenario"], st["deliveries"], st["calls"],
                        st["total_per_delivery"]))
    finally:
        for s in servers:
            s.stop()
    results["machine"]["loadavg_end"] = loadavg()

    print()
    print("== deliveries/s, median of %d rounds (min-max); load average %s at the start, %s at "
          "the end ==" % (args.rounds, results["machine"]["loadavg_start"],
                          results["machine"]["loadavg_end"]))
    names = [s.name for s in servers]
    kuras = [n for n in names if n.startswith("kura")]
    dove = [n for n in names if not n.startswith("kura")]
    hdr = "%-8s" % "CxK"
    for n in names:
        hdr += " %22s %9s %7s" % (n, "CPU ms/d", "+later")
    for n in kuras if dove else []:
        hdr += " %13s %11s" % ("%s/D" % n, "per round")
    print(hdr)
    summary = []
    for sc in scenarios:
        key = scenario_key(sc, args)
        row = "%-8s" % key
        med = {}
        entry = {"scenario": key}
        for n in names:
            rs = [x for x in results["runs"] if x["server"] == n and x["scenario"] == key]
            rates = [x["deliveries_per_s"] for x in rs]
            cpu = [1000 * x["server_cpu"] / max(x["all_250"], 1) for x in rs]
            later = [1000 * x["later_cpu"] / max(x["all_250"], 1) for x in rs]
            med[n] = statistics.median(rates)
            entry[n] = {"median": med[n], "min": min(rates), "max": max(rates),
                        "cpu_ms_per_delivery": statistics.median(cpu),
                        "later_cpu_ms_per_delivery": statistics.median(later),
                        "errors": sum(x["errors"] for x in rs),
                        "verified": all(x["verified"] for x in rs)}
            row += " %8.1f (%11s) %9.2f %7.2f" % (med[n], spread(rates), statistics.median(cpu),
                                                statistics.median(later))
        for kn in kuras if dove else []:
            by_round = {n: {x["round"]: x["deliveries_per_s"] for x in results["runs"]
                            if x["server"] == n and x["scenario"] == key} for n in (kn, dove[0])}
            ratio, per = ratio_summary(by_round[kn], by_round[dove[0]])
            ratio = float("nan") if ratio is None else ratio
            entry["ratio_" + kn] = ratio
            entry["ratio_per_round_" + kn] = per
            row += " %13.2f %11s" % (ratio, "%.2f-%.2f" % (min(per), max(per)) if per else "-")
        summary.append(entry)
        print(row)
    results["summary"] = summary
    bad = [x for x in results["runs"] if not x["verified"] or x["errors"]]
    print("verification: %s" % ("every run's 250s all landed (IMAP STATUS sums), no errors"
                               if not bad else "%d run(s) with errors or a mismatch" % len(bad)))
    for fr in results["fsync_runs"]:
        print("disk %s the rounds (fsync-rate.py, same filesystem): " % fr["when"] + "; ".join(
            "%s x%d %.0f ops/s (%.0f syncs/s)" % (x["pattern"], x["threads"], x["ops_per_s"],
                                                  x["syncs_per_s"]) for x in fr["summary"]))
    # the reference: the mean of the two probes
    fs = {}
    for fr in results["fsync_runs"]:
        for x in fr["summary"]:
            fs.setdefault((x["pattern"], x["threads"]), []).append(x["ops_per_s"])
    fs = {k: {"ops_per_s": statistics.mean(v)} for k, v in fs.items()}
    for e in summary:
        c = int(e["scenario"].split("x")[0])
        ref = fs.get(("create", 1 if c == 1 else 8))
        for kn in kuras if ref and ref["ops_per_s"] > 0 else []:
            print("%s %s: %.1f deliveries/s = %.0f%% of the disk's create+fsync+rename+dir-fsync "
                  "rate with %d thread(s) (%.0f/s, mean of the two probes)" % (kn, e["scenario"], e[kn]["median"],
                                                    100 * e[kn]["median"] / ref["ops_per_s"],
                                                    1 if c == 1 else 8, ref["ops_per_s"]))
    for st in results["strace"]:
        print("syncs per delivery, %s %s: %.2f %s" % (st["server"], st["scenario"],
                                                      st["total_per_delivery"],
                                                      st["per_delivery"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if own_workdir and not args.keep:
        shutil.rmtree(args.workdir, ignore_errors=True)
    else:
        print("workdir: %s" % args.workdir)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
