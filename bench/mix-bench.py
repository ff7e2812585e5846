#!/usr/bin/python3
"""bench/mix-bench.py: the mixed IMAP workload, kura vs Dovecot 2.3, alternating in one run
(issue 4).

    bench/mix-bench.py [--clients 100,1000] [--rounds 3] [--duration 20] [--prefill 100]
                       [--mix default] [--procs auto] [--source-ips LIST] [--format maildir]
                       [--kura build/kura] [--kura-set KEY=VALUE ...]
                       [--kura-also LABEL=PATH[,KEY=VALUE...] ...] [--load build/kura-load]
                       [--mbox-count 1000] [--no-dovecot] [--workdir DIR] [--keep]
                       [--json FILE]

What it does:
1. Generates test mail once: bench/mbox-gen -n --mbox-count --seed 1 (the mbox of
   bench/run-bench: ~65 KB mean, every 50th message 1-4 MB).
2. For each client count N of --clients, in a directory of its own: sets up kura (its
   defaults: 2 login and 2 mail processes; plain IMAP on a free loopback port, plaintext_auth =
   loopback) and Dovecot (bench/setup-dovecot: Debian's defaults, mail_fsync = optimized,
   Maildir unless --format, --max-clients N for the process limits), both with the users
   bench1..benchN of bench/setup-users (the same SHA512-CRYPT hash). Both servers start once
   and keep running through the rounds. An untimed warm-up run per server
   (`kura-load -c N --prefill P -d 2`) creates each client's Archive folder and fills its INBOX
   to P = --prefill messages (one value, or one per client count: --prefill 100,20; default
   100 up to 200 clients and 20 above, for the disk: kura holds ~13 MB per user at 100).
   Then the script waits until the server's process tree is quiet (logged). Note: kura's
   first round still pays for indexing the prefilled INBOXes (the first SEARCH of each user
   indexes what its mailbox lacks, about 1 ms of CPU a message; Dovecot here has no FTS):
   read the later rounds, or run 3 and more (the median).
3. --rounds rounds; each runs kura then Dovecot (Dovecot first in even rounds), each
   `kura-load -c N -P procs --mix MIX -d DURATION --prefill P --server-pid PID --json`: every
   client its own user and mailbox, closed loop (no think time), every answer checked
   (bench/README.md, "What is checked"); the prefill tops the INBOXes up again if the
   previous run left them below P.
4. Per run: operations/s of the measured phase, errors (every phase, by kind), p50/p99 over
   all operations and per operation, and the CPU time of the server's whole process tree
   during the measured phase: kura-load reads utime+stime+cutime+cstime of the server's master
   and all its descendants from /proc/PID/stat when it sends GO and again when it sends STOP
   (bench/load/procmem.c). The children's times (cutime, cstime) are what makes this right for
   Dovecot, which forks one imap process per connection: the mix's LOGOUT op closes
   connections, and the processes that exit and are reaped by the master during the run land
   in the master's cutime/cstime, so the sum over the tree only grows and the difference is the
   CPU used. (A cgroup per server would give the same without the walk, but these servers run
   as plain children here, and getrusage(RUSAGE_CHILDREN) sees reaped children only.) The same
   reading around the whole kura-load invocation (setup and logins included) is kept as
   server_cpu_all. Work per CPU-second = operations of the measured phase / server CPU
   seconds in it.
5. Prints per client count a table: each server's median (min-max) over the rounds, the ratio
   of the medians kura/Dovecot and the range of the per-round ratios; then per operation
   p50/p99; then the issue-4 target (>= 2x Dovecot's operations per server CPU-second, zero
   errors, p99 below Dovecot's) checked on the medians. --json FILE writes every run.

1,000 clients: the file limit is raised to the hard limit (20,000 here) for the servers and
kura-load; kura-load gets --procs (auto: one worker per 500 clients) and --source-ips if given.
Needs root (Dovecot's mail user; bench/setup-dovecot installs Dovecot if missing). Standard
library only. --no-dovecot runs kura alone (no root needed); --kura-also adds another kura build
(or the same with other settings) to the alternation, e.g. a build before and after a change:
the ratios are then to Dovecot, or without Dovecot to the first kura.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import BENCH, REPO, log, loadavg, med_range, ratio_summary  # noqa: E402

# operations reported one by one (in the order of bench/README.md's table)
OPS = ["select", "fetch-flags", "fetch-env", "fetch-headers", "fetch-body", "fetch-parts",
       "store", "append", "search", "expunge", "copy", "move", "idle", "list", "status", "noop",
       "logout", "login"]


def run_load(args, srv, clients, prefill, duration, json_path, out_path):
    cmd = [args.load, "--port", str(srv.port), "-c", str(clients),
           "-P", str(args.procs_for(clients)),
           "--mix", args.mix, "-d", str(duration), "--prefill", str(prefill), "--mbox", args.mbox,
           "-q", "--server-pid", str(srv.proc.pid), "--json", json_path,
           "--timeout", str(args.timeout)]
    if args.source_ips:
        cmd += ["--source-ips", args.source_ips]
    cpu0 = benchlib.tree_cpu(srv.proc.pid)
    t0 = time.monotonic()
    with open(out_path, "wb") as out:
        r = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT)
    wall = time.monotonic() - t0
    cpu_all = benchlib.tree_cpu(srv.proc.pid) - cpu0
    with open(out_path, errors="replace") as f:
        text = f.read()
    if r.returncode not in (0, 1) or not os.path.exists(json_path):
        raise RuntimeError("kura-load failed (%d) against %s:\n%s" % (r.returncode, srv.name,
                                                                      text[-3000:]))
    with open(json_path) as f:
        j = json.load(f)
    run = j["run"]
    total = run["total"]
    sc = j.get("server_cpu_run")
    server_cpu = sc["user"] + sc["system"] if sc else None
    lc = j.get("load_cpu_run")
    errors_by_kind = {}
    for phase in ("setup", "run", "teardown"):
        for o in j[phase]["ops"].values():
            for kind, n in o["errors"].items():
                if n:
                    errors_by_kind[kind] = errors_by_kind.get(kind, 0) + n
    res = {
        "seconds": run["seconds"],
        "ops": total["count"],
        "ops_per_s": total["rate"],
        "errors": j["errors"],
        "errors_run": sum(total["errors"].values()),
        "errors_by_kind": errors_by_kind,
        "error_lines": [line for line in text.splitlines() if line.startswith("kura-load[")][:10],
        "clients_ready": j["clients_ready"],
        "clients_gave_up": j["clients_gave_up"],
        "p50_ms": total["latency_ms"]["p50"],
        "p99_ms": total["latency_ms"]["p99"],
        "max_ms": total["latency_ms"]["max"],
        "by_op": {name: {"count": o["count"], "errors": sum(o["errors"].values()),
                         "p50_ms": o["latency_ms"]["p50"], "p99_ms": o["latency_ms"]["p99"],
                         "max_ms": o["latency_ms"]["max"]}
                  for name, o in run["ops"].items()},
        "server_cpu": server_cpu,
        "server_cpu_user": sc["user"] if sc else None,
        "server_cpu_system": sc["system"] if sc else None,
        "server_procs_end": sc["procs_end"] if sc else None,
        "server_cpu_all": cpu_all,
        "ops_per_cpu_s": total["count"] / server_cpu if server_cpu else None,
        "server_cores": server_cpu / run["seconds"] if server_cpu and run["seconds"] else None,
        "load_cpu_run": lc["user"] + lc["system"] if lc else None,
        "setup_s": j["setup"]["seconds"],
        "wall": wall,
        "skipped_ops": j.get("skipped_ops", []),
        "exit": r.returncode,
        "loadavg": loadavg(),
    }
    return res


def runs_of(results, clients, server):
    return {x["round"]: x for x in results["runs"]
            if x["clients"] == clients and x["server"] == server}


# (label, key, format, better: "hi" or "lo")
FIGURES = [("operations/s", "ops_per_s", "%.0f", "hi"),
           ("operations per server CPU-second", "ops_per_cpu_s", "%.0f", "hi"),
           ("server CPU s in the run", "server_cpu", "%.1f", None),
           ("server cores busy (CPU s / s)", "server_cores", "%.2f", None),
           ("p50 ms, all operations", "p50_ms", "%.1f", "lo"),
           ("p99 ms, all operations", "p99_ms", "%.1f", "lo"),
           ("max ms", "max_ms", "%.0f", "lo"),
           ("errors (all phases)", "errors", "%.0f", "lo"),
           ("kura-load CPU s in the run", "load_cpu_run", "%.1f", None),
           ("server CPU s, whole invocation", "server_cpu_all", "%.1f", None)]


def print_summary(args, results, clients, names):
    """One table per client count: every server's median (min-max); the ratio of each other
    server to the reference (Dovecot when it ran, else the first kura) and its per-round range;
    then the issue-4 target for each kura against Dovecot."""
    dove = [n for n in names if not n.startswith("kura")]
    ref = dove[0] if dove else names[0]
    others = [n for n in names if n != ref]
    runs = {n: runs_of(results, clients, n) for n in names}
    short = "D" if dove else ref
    print()
    print("== %d clients, mix %s, %d s per run, %d rounds; median (min-max) ==" % (
        clients, args.mix, args.duration, len(runs[names[0]])))
    w = 26
    print("%-34s" % "" + "".join(" %-*s" % (w, n) for n in names) +
          "".join(" %9s %11s" % ("%s/%s" % (n, short) if len(others) > 1 else "ratio",
                                 "per round") for n in others))
    entry = {"clients": clients, "reference": ref, "figures": {}, "ops": {}, "targets": {}}

    def ratio_cells(vals):
        cells, out = "", {}
        for n in others:
            ratio, per = ratio_summary(vals[n], vals[ref])
            out[n] = {"ratio": ratio, "ratio_per_round": per}
            cells += " %9s %11s" % ("%.2f" % ratio if ratio is not None else "-",
                                    "%.2f-%.2f" % (min(per), max(per)) if per else "-")
        return cells, out

    for label, key, fmt, _ in FIGURES:
        vals = {n: {r: x[key] for r, x in runs[n].items()} for n in names}
        cells, ratios = ratio_cells(vals)
        print("%-34s" % label + "".join(" %-*s" % (w, med_range(list(vals[n].values()), fmt))
                                        for n in names) + cells)
        entry["figures"][key] = {"values": vals, "ratios": ratios}
    print("per operation: p50 / p99 ms (medians over the rounds) and count; ratios of the p99 "
          "medians")
    for op in OPS:
        if not any(op in x["by_op"] for n in names for x in runs[n].values()):
            continue
        vals = {n: {r: x["by_op"][op]["p99_ms"] for r, x in runs[n].items() if op in x["by_op"]}
                for n in names}
        line = "  %-32s" % op
        e = {}
        for n in names:
            def med(key):
                v = sorted(x["by_op"][op][key] for x in runs[n].values() if op in x["by_op"])
                return v[len(v) // 2] if v else None
            p50, p99, cnt = med("p50_ms"), med("p99_ms"), med("count")
            e[n] = {"p50_ms": p50, "p99_ms": p99, "count": cnt}
            line += " %-*s" % (w, "-" if p50 is None else "%.1f / %.1f  (n %d)" % (p50, p99, cnt))
        cells, ratios = ratio_cells(vals)
        e["p99_ratios"] = ratios
        entry["ops"][op] = e
        print(line + cells)
    if dove:
        f = entry["figures"]
        for n in others:
            ratio = f["ops_per_cpu_s"]["ratios"][n]["ratio"]
            p99 = f["p99_ms"]["ratios"][n]["ratio"]
            errs = sum(x["errors"] for m in (n, ref) for x in runs[m].values())
            t = {"work_per_cpu_ratio": ratio, "work_per_cpu_ok": ratio is not None and ratio >= 2,
                 "errors": errs, "errors_ok": errs == 0,
                 "p99_ratio": p99, "p99_ok": p99 is not None and p99 < 1}
            entry["targets"][n] = t
            print("target (issue 4), %s: work per server CPU-second %s x Dovecot's (>= 2: %s); "
                  "errors %d in both servers' runs (0: %s); p99 %s x Dovecot's (< 1: %s)" % (
                      n, "%.2f" % ratio if ratio is not None else "-",
                      "met" if t["work_per_cpu_ok"] else "NOT met", errs,
                      "met" if t["errors_ok"] else "NOT met",
                      "%.2f" % p99 if p99 is not None else "-",
                      "met" if t["p99_ok"] else "NOT met"))
    return entry


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", default="100,1000")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--prefill",
                    help="messages per INBOX; one value or one per client count (default: 100 "
                         "up to 200 clients, 20 above: 1,000 users x 100 messages of this mbox "
                         "would be ~13 GB per server)")
    ap.add_argument("--mix", default="default")
    ap.add_argument("--procs", default="auto", help="kura-load workers (auto: 1 per 500 clients)")
    ap.add_argument("--source-ips")
    ap.add_argument("--timeout", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=2, help="seconds of the untimed warm-up run")
    ap.add_argument("--pause", type=float, default=3.0, help="seconds between runs")
    ap.add_argument("--format", default="maildir")
    ap.add_argument("--kura", default=os.path.join(REPO, "build", "kura"))
    ap.add_argument("--kura-set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--kura-also", action="append", default=[], metavar="LABEL=PATH[,KEY=VALUE]",
                    help="another kura build in the alternation (server kura-LABEL)")
    ap.add_argument("--load", default=os.path.join(REPO, "build", "kura-load"))
    ap.add_argument("--mbox-count", type=int, default=1000)
    ap.add_argument("--no-dovecot", action="store_true")
    ap.add_argument("--workdir")
    ap.add_argument("--keep", action="store_true", help="keep the work dir (mail included)")
    ap.add_argument("--json")
    args = ap.parse_args()
    counts = [int(x) for x in args.clients.split(",")]
    if args.prefill is None:
        prefills = [100 if c <= 200 else 20 for c in counts]
    else:
        prefills = [int(x) for x in args.prefill.split(",")]
    if len(prefills) == 1:
        prefills *= len(counts)
    if len(prefills) != len(counts):
        sys.exit("mix-bench: --prefill takes one value or one per client count")
    if args.procs == "auto":
        args.procs_for = lambda c: max(1, (c + 499) // 500)
    else:
        args.procs_for = lambda c: int(args.procs)
    for b in (args.kura, args.load):
        if not os.access(b, os.X_OK):
            sys.exit("mix-bench: %s is missing (make all)" % b)
    nofile = benchlib.raise_nofile()
    own_workdir = args.workdir is None
    if own_workdir:
        args.workdir = tempfile.mkdtemp(prefix="mix-bench-", dir="/tmp")
    os.makedirs(args.workdir, exist_ok=True)
    os.chmod(args.workdir, 0o755)
    results = {"machine": {"nproc": os.cpu_count(), "loadavg_start": loadavg(),
                           "uname": " ".join(os.uname()), "nofile": nofile},
               "args": {k: v for k, v in vars(args).items() if k != "procs_for"},
               "warmup": [], "runs": [], "summary": []}
    args.mbox = os.path.join(args.workdir, "bench.mbox")
    r = subprocess.run([os.path.join(BENCH, "mbox-gen"), "-n", str(args.mbox_count), "--seed",
                        "1", "-o", args.mbox], stderr=subprocess.PIPE, check=True)
    results["mbox"] = r.stderr.decode().strip()
    log(results["mbox"])
    names = None
    for clients, prefill in zip(counts, prefills):
        wd = os.path.join(args.workdir, "c%d" % clients)
        os.makedirs(wd, exist_ok=True)
        os.chmod(wd, 0o755)
        servers = []
        try:
            log("%d clients: setting up the servers with bench1..bench%d" % (clients, clients))
            servers.append(benchlib.Kura(args.kura, wd, users=clients, extra=args.kura_set))
            for extra in args.kura_also:
                # LABEL=PATH[,KEY=VALUE...]: the settings only for this server, after --kura-set
                label, rest = extra.split("=", 1)
                path, *own = rest.split(",")
                servers.append(benchlib.Kura(os.path.abspath(path), wd, users=clients,
                                             extra=list(args.kura_set) + own, label=label))
            if not args.no_dovecot:
                servers.append(benchlib.Dovecot(args.format, wd, users=clients,
                                                setup_args=["--max-clients", str(clients)]))
            names = [s.name for s in servers]
            for s in servers:
                s.start()
                log("%s: port %d, pid %d" % (s.name, s.port, s.proc.pid))
            for s in servers:
                log("%s: warm-up, prefill %d" % (s.name, prefill))
                res = run_load(args, s, clients, prefill, args.warmup,
                               os.path.join(wd, "%s-warmup.json" % s.name),
                               os.path.join(wd, "%s-warmup.txt" % s.name))
                res.update({"clients": clients, "server": s.name})
                results["warmup"].append(res)
                log("%s: warm-up setup %.0f s, %d errors %s" % (
                    s.name, res["setup_s"], res["errors"], res["errors_by_kind"]))
                for line in res["error_lines"]:
                    log("    " + line)
                # whatever the warm-up left running finishes before the timed runs (setup,
                # like the prefill itself, so it is reported apart)
                cpu, waited = benchlib.settle(s.proc.pid)
                res["settle_cpu_s"], res["settle_s"] = cpu, waited
                log("%s: quiet after %.0f s (%.1f s of server CPU after the warm-up)" % (
                    s.name, waited, cpu))
            for rnd in range(1, args.rounds + 1):
                # A B, then B A: a drift of the machine's load during a round hits both alike
                order = servers if rnd % 2 == 1 else list(reversed(servers))
                for s in order:
                    time.sleep(args.pause)
                    tag = "%s-r%d" % (s.name, rnd)
                    res = run_load(args, s, clients, prefill, args.duration,
                                   os.path.join(wd, tag + ".json"), os.path.join(wd, tag + ".txt"))
                    res.update({"clients": clients, "server": s.name, "round": rnd})
                    results["runs"].append(res)
                    log("%d clients round %d %-16s %7.0f ops/s  %6.0f ops/CPU-s  CPU %5.1f s "
                        "(%.2f cores)  p50 %6.1f  p99 %7.1f ms  append p99 %7.1f ms  errors %d  "
                        "load %s" % (
                            clients, rnd, s.name, res["ops_per_s"], res["ops_per_cpu_s"] or 0,
                            res["server_cpu"] or 0, res["server_cores"] or 0, res["p50_ms"],
                            res["p99_ms"], res["by_op"].get("append", {}).get("p99_ms", 0),
                            res["errors"], res["loadavg"]))
                    if res["clients_ready"] < clients:
                        log("    only %d of %d clients got ready (%d gave up)" % (
                            res["clients_ready"], clients, res["clients_gave_up"]))
                    for line in res["error_lines"]:
                        log("    " + line)
        finally:
            for s in servers:
                s.stop()
            if not args.keep:
                for s in servers:
                    shutil.rmtree(s.data_path, ignore_errors=True)
        results["summary"].append(print_summary(args, results, clients, names))
    results["machine"]["loadavg_end"] = loadavg()
    print()
    print("load average %s at the start, %s at the end; %d cores; the servers and kura-load "
          "share them" % (results["machine"]["loadavg_start"], results["machine"]["loadavg_end"],
                          os.cpu_count()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    if own_workdir and not args.keep:
        shutil.rmtree(args.workdir, ignore_errors=True)
    else:
        print("workdir: %s" % args.workdir)
    bad = [x for x in results["runs"] + results["warmup"] if x["errors"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
