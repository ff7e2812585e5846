#!/usr/bin/python3
"""bench/sync-bench.py: how fast changes reach other sessions, kura vs Dovecot 2.3 (issue 5).

    bench/sync-bench.py [--part idle,qresync] [--dovecot maildir] [--runs 3]
                        [--idlers 1000] [--stores 200] [--interval-ms 20] [--idle-messages 2000]
                        [--messages 100000] [--kura build/kura] [--keep] [--json FILE]

Part "idle" (propagation latency): one user's INBOX of --idle-messages messages (the
deterministic messages of store-bench.py, no flags, UIDs 1..N so sequence number = UID) on
kura and on Dovecot. --idlers sessions of that ONE user per server LOGIN, SELECT INBOX (EXISTS
and UIDNEXT checked) and IDLE, all on one selectors (epoll) loop in this process. Then, per run
and server in turn (the order rotating), a separate session sends --stores
`UID STORE u +FLAGS (\\Flagged)`, one every --interval-ms, each on a different random message not
flagged before. Each idler must see an untagged `* u FETCH (... FLAGS (... \\Flagged ...))`:
the latency of a (STORE, idler) pair is from sending the STORE to reading that FETCH
(time.monotonic, taken when this process reads the socket, so it includes this client's own
queueing: one Python loop reading 1000 sockets). After the last STORE the bench waits until
every pair arrived or --wait seconds (default 40: Dovecot's fallback poll is
mailbox_idle_check_interval = 30 s). Reported: p50/p90/p99/max over all pairs, pairs that never
arrived (and how many idlers missed any), FETCHes arriving twice. Dovecot needs more than its
defaults to accept 1000 sessions of one user from one address: setup-dovecot --max-sessions
raises mail_max_userip_connections (10), the imap process_limit (1024) and default_client_limit
(1000); everything else is Debian's default (IDLE: inotify on the index, 500 ms notify delay,
mailbox_idle_check_interval = 30 s).

Part "qresync" (resync cost): an INBOX of --messages (100,000) messages with store-bench's
flags. Per run and server: a client LOGINs, ENABLEs QRESYNC, SELECTs and keeps UIDVALIDITY,
HIGHESTMODSEQ and the UID list, and logs out; another session makes 100 changes: 80 separate
`UID STORE u +FLAGS.SILENT (\\Draft)` (messages never changed before, so each is a change) and
20 expunges (`UID STORE set +FLAGS.SILENT (\\Deleted)`, `UID EXPUNGE set`). Then, on fresh
connections (LOGIN and ENABLE QRESYNC untimed), timed to the tagged OK with the bytes received,
each server in turn, --repeat times:
  qresync        SELECT INBOX (QRESYNC (uidvalidity modseq))
  qresync-known  SELECT INBOX (QRESYNC (uidvalidity modseq known-uids (seqs uids))), with the
                 client's UID list compressed to ranges and 5 sequence/UID pairs
  full           SELECT INBOX + UID FETCH 1:* (FLAGS): what a client without QRESYNC does
  select         SELECT INBOX alone (after ENABLE QRESYNC): the cost of opening the mailbox,
                 for reference
The first timed resync on each server after the changes (qresync, the first of --repeat) is
also reported on its own: Dovecot Maildir rescans its directory then.
Checked: VANISHED (EARLIER) names exactly the 20 expunged UIDs, FETCHes come for exactly the 80
changed UIDs with \\Draft (more FETCHes are counted and reported), EXISTS = N - 20; the full
resync returns a FETCH for every message.

Standard library only; root (Dovecot's mail user; setup-dovecot installs Dovecot from apt).
Results are written down in bench/RESULTS.md."""
import argparse
import json
import os
import random
import re
import resource
import selectors
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (REPO, USER, PASSWORD, Dovecot, ImapError, Imap, Kura,  # noqa: E402
                      MessageFile, append_stream, log)

POPULATE_BATCH = 500


def populate(srv, msgs, n, with_flags):
    srv.start()
    c = Imap(srv.port)
    c.login()
    nb = (n + POPULATE_BATCH - 1) // POPULATE_BATCH
    t0 = time.time()
    last, _, counts = c.pipeline(append_stream(msgs, "INBOX", list(range(n)), b"P",
                                               batch=POPULATE_BATCH, with_meta=with_flags),
                                 nb, b"P")
    if counts[b" OK "] < nb or counts[b" NO "] or counts[b" BAD "]:
        raise ImapError("%s: populate: %s; last %r" % (srv.name, counts, last))
    c.close()
    log("%s: %d messages appended in %.0f s" % (srv.name, n, time.time() - t0))


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


# ----------------------------------------------------------------------------------------------
# part 1: IDLE propagation

FETCH_RE = re.compile(rb"^\* (\d+) FETCH \((.*)\)$")
UID_RE = re.compile(rb"\bUID (\d+)")
FLAGS_RE = re.compile(rb"FLAGS \(([^)]*)\)")


class Conn:
    """One non-blocking session on the shared loop."""

    def __init__(self, srv, kind):
        self.srv = srv
        self.kind = kind            # "idler" or "storer"
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.connect_ex(("127.0.0.1", srv.port))
        self.buf = b""
        self.state = "greet"
        self.exists = None
        self.uidnext = None
        self.seen = {}              # uid -> monotonic time of the first matching FETCH
        self.dups = 0
        self.tagged = []            # storer: (tag, ok)
        self.error = None

    def send(self, data):
        # small commands: the socket buffer takes them whole
        n = self.sock.send(data)
        if n != len(data):
            raise ImapError("short send")


class IdleBench:
    def __init__(self, servers, a):
        self.servers = servers
        self.a = a
        self.sel = selectors.DefaultSelector()
        self.idlers = {s.name: [] for s in servers}
        self.storers = {}
        self.sent = {}              # server name -> {uid: send time}

    def on_line(self, c, line, now):
        st = c.state
        if st == "greet":
            if not line.startswith(b"* OK"):
                c.error = "greeting %r" % line[:80]
                return
            c.send(b"a LOGIN %s %s\r\n" % (USER.encode(), PASSWORD.encode()))
            c.state = "login"
        elif st == "login":
            if line.startswith(b"a "):
                if not line.startswith(b"a OK"):
                    c.error = "LOGIN: %r" % line[:120]
                    return
                c.send(b"b SELECT INBOX\r\n")
                c.state = "select"
        elif st == "select":
            if line.endswith(b" EXISTS"):
                c.exists = int(line.split()[1])
            elif b"[UIDNEXT " in line:
                c.uidnext = int(line.split(b"[UIDNEXT ")[1].split(b"]")[0])
            elif line.startswith(b"b "):
                if not line.startswith(b"b OK"):
                    c.error = "SELECT: %r" % line[:120]
                    return
                n = self.a.idle_messages
                if c.exists != n or c.uidnext != n + 1:
                    c.error = "SELECT: EXISTS %s UIDNEXT %s, expected %d/%d" % (
                        c.exists, c.uidnext, n, n + 1)
                    return
                if c.kind == "storer":
                    c.state = "ready"
                else:
                    c.send(b"c IDLE\r\n")
                    c.state = "idle-wait"
        elif st == "idle-wait":
            if line.startswith(b"+"):
                c.state = "idling"
            elif line.startswith(b"c "):
                c.error = "IDLE: %r" % line[:120]
        elif st == "idling":
            m = FETCH_RE.match(line)
            if m:
                u = UID_RE.search(m.group(2))
                uid = int(u.group(1)) if u else int(m.group(1))   # seq = UID in this mailbox
                f = FLAGS_RE.search(m.group(2))
                if f and b"\\Flagged" in f.group(1):
                    if uid in c.seen:
                        c.dups += 1
                    else:
                        c.seen[uid] = now
        elif st == "ready":
            if line[:1] in (b"s",):
                c.tagged.append((line.split()[0], line.split()[1:2] == [b"OK"]))

    def on_readable(self, c):
        try:
            data = c.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            c.error = "recv: %s" % e
            self.sel.unregister(c.sock)
            return
        now = time.monotonic()
        if not data:
            c.error = c.error or "connection closed in state %s" % c.state
            self.sel.unregister(c.sock)
            return
        c.buf += data
        while True:
            i = c.buf.find(b"\r\n")
            if i < 0:
                break
            line, c.buf = c.buf[:i], c.buf[i + 2:]
            self.on_line(c, line, now)

    def poll(self, timeout):
        for key, _ in self.sel.select(timeout):
            self.on_readable(key.data)

    def connect_all(self):
        """Bring every idler (and one storer per server) into its state, at most 64
        connections in setup at a time per server."""
        t0 = time.monotonic()
        for s in self.servers:
            todo = self.a.idlers
            active = []
            ts = time.monotonic()
            while todo or active:
                while todo and len(active) < 64:
                    c = Conn(s, "idler")
                    self.sel.register(c.sock, selectors.EVENT_READ, c)
                    self.idlers[s.name].append(c)
                    active.append(c)
                    todo -= 1
                self.poll(0.5)
                for c in active:
                    if c.error:
                        raise ImapError("%s: idler: %s" % (s.name, c.error))
                active = [c for c in active if c.state != "idling"]
                if time.monotonic() - ts > 600:
                    raise ImapError("%s: idlers not ready after 600 s" % s.name)
            log("%s: %d sessions of %s in IDLE (%.1f s)" % (s.name, self.a.idlers, USER,
                                                            time.monotonic() - ts))
            c = Conn(s, "storer")
            self.sel.register(c.sock, selectors.EVENT_READ, c)
            self.storers[s.name] = c
            while c.state != "ready":
                self.poll(0.5)
                if c.error:
                    raise ImapError("%s: storer: %s" % (s.name, c.error))
        return time.monotonic() - t0

    def burst(self, s, uids):
        """STORE each uid on server s, --interval-ms apart; wait for the FETCHes."""
        st = self.storers[s.name]
        sent = {}
        self.sent[s.name] = sent
        interval = self.a.interval_ms / 1000.0
        nxt = time.monotonic()
        k = 0
        st.tagged = []
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        w0 = time.monotonic()
        while k < len(uids):
            now = time.monotonic()
            if now >= nxt:
                u = uids[k]
                sent[u] = time.monotonic()
                st.send(b"s%d UID STORE %d +FLAGS (\\Flagged)\r\n" % (k, u))
                k += 1
                nxt += interval
                continue
            self.poll(nxt - now)
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        client_cpu = (ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime) / max(
            1e-9, time.monotonic() - w0)
        idlers = self.idlers[s.name]
        deadline = time.monotonic() + self.a.wait
        want = set(uids)
        while time.monotonic() < deadline:
            if all(want.issubset(c.seen.keys()) for c in idlers) and len(st.tagged) >= len(uids):
                break
            self.poll(0.2)
        t_end = time.monotonic()
        lat, missed, idlers_missing, dups, errors = [], 0, 0, 0, 0
        for c in idlers:
            if c.error:
                errors += 1
            miss = 0
            for u in uids:
                t = c.seen.get(u)
                if t is None:
                    miss += 1
                else:
                    lat.append(t - sent[u])
            missed += miss
            idlers_missing += miss > 0
            dups += c.dups
        # per STORE: the first and the last idler to see it (fan-out), and the storer's order
        first, last = [], []
        for u in uids:
            ts = [c.seen[u] - sent[u] for c in idlers if u in c.seen]
            if ts:
                first.append(min(ts))
                last.append(max(ts))
        bad_tagged = sum(1 for _, ok in st.tagged if not ok)
        return {"latencies": lat, "missed": missed, "idlers_missing": idlers_missing,
                "dups": dups, "idler_errors": errors, "stores_ok": len(st.tagged) - bad_tagged,
                "stores_bad": bad_tagged, "stores": len(uids),
                "wait_s": t_end - sent[uids[-1]], "client_cpu_share": client_cpu,
                "first_idler": first, "last_idler": last}

    def close(self):
        for cs in list(self.idlers.values()) + [[c] for c in self.storers.values()]:
            for c in cs:
                try:
                    c.sock.close()
                except OSError:
                    pass


def idle_summary(r):
    lat = r["latencies"]
    return ("pairs %d, p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms; missed %d (%d idlers); "
            "dup %d; STORE OK %d/%d; client CPU %.0f%% of the sending time; per STORE the "
            "first idler: median %.1f ms (first 10 STOREs %.1f ms, last 10 %.1f ms), the last "
            "idler: median %.1f ms"
            % (len(lat), pct(lat, 50) * 1e3, pct(lat, 90) * 1e3, pct(lat, 99) * 1e3,
               max(lat, default=float("nan")) * 1e3, r["missed"], r["idlers_missing"],
               r["dups"], r["stores_ok"], r["stores"], 100 * r["client_cpu_share"],
               pct(r["first_idler"], 50) * 1e3, pct(r["first_idler"][:10], 50) * 1e3,
               pct(r["first_idler"][-10:], 50) * 1e3, pct(r["last_idler"], 50) * 1e3))


def part_idle(a, binary, workdir, msgs, results):
    wd = os.path.join(workdir, "idle")
    os.makedirs(wd)
    os.chmod(wd, 0o755)
    servers = [Kura(binary, wd)]
    for fmt in a.dovecot.split(","):
        if fmt:
            servers.append(Dovecot(fmt, wd, ["--max-sessions", str(a.idlers + 16)]))
    need = a.runs * a.stores
    if a.idle_messages < need:
        sys.exit("sync-bench.py: --idle-messages must be at least runs x stores = %d" % need)
    bench = None
    try:
        for s in servers:
            populate(s, msgs, a.idle_messages, with_flags=False)
        bench = IdleBench(servers, a)
        bench.connect_all()
        time.sleep(2)
        bench.poll(0)
        rng = random.Random(a.seed)
        uids = rng.sample(range(1, a.idle_messages + 1), need)
        for r in range(a.runs):
            order = servers[r % len(servers):] + servers[:r % len(servers)]
            for s in order:
                res = bench.burst(s, uids[r * a.stores:(r + 1) * a.stores])
                results["idle"].setdefault(s.name, []).append(res)
                log("idle run %d %-16s %s" % (r + 1, s.name, idle_summary(res)))
                time.sleep(1)
                bench.poll(0)
        for s in servers[1:]:
            logf = os.path.join(s.dir, "dovecot.log")
            try:
                with open(logf, errors="replace") as f:
                    text = f.read()
                n_ino = text.count("Inotify instance limit")
                results.setdefault("dovecot_log", {})[s.name] = {
                    "inotify_limit_warnings": n_ino,
                    "errors": text.count("Error:"), "fatals": text.count("Fatal:")}
                log("%s: dovecot.log: %d 'Inotify instance limit' warnings, %d errors, %d fatal"
                    % (s.name, n_ino, text.count("Error:"), text.count("Fatal:")))
            except OSError:
                pass
    finally:
        if bench:
            bench.close()
        for s in servers:
            s.stop()


# ----------------------------------------------------------------------------------------------
# part 2: QRESYNC resync

def uidset(uids):
    """Compressed UID set: 1:5,7,9:12."""
    out = []
    uids = sorted(uids)
    i = 0
    while i < len(uids):
        j = i
        while j + 1 < len(uids) and uids[j + 1] == uids[j] + 1:
            j += 1
        out.append("%d" % uids[i] if i == j else "%d:%d" % (uids[i], uids[j]))
        i = j + 1
    return ",".join(out)


def parse_uidset(text):
    out = set()
    for part in text.split(","):
        if ":" in part:
            x, y = part.split(":")
            x, y = int(x), int(y)
            out.update(range(min(x, y), max(x, y) + 1))
        elif part:
            out.add(int(part))
    return out


def resp_code(data, name):
    m = re.search(rb"\[" + name + rb" (\d+)\]", data)
    return int(m.group(1)) if m else None


def session(srv, qresync=True):
    c = Imap(srv.port)
    c.login()
    if qresync:
        c.command("ENABLE QRESYNC")
    return c


def client_state(srv):
    """What the client remembers: UIDVALIDITY, HIGHESTMODSEQ, the UIDs (in order)."""
    c = session(srv)
    _, data = c.command_data("SELECT INBOX")
    uv = resp_code(data, b"UIDVALIDITY")
    hms = resp_code(data, b"HIGHESTMODSEQ")
    _, data = c.command_data("UID SEARCH ALL")
    uids = []
    for line in data.split(b"\r\n"):
        if line.startswith(b"* SEARCH"):
            uids = [int(x) for x in line.split()[2:]]
    c.close()
    if uv is None or hms is None or not uids:
        raise ImapError("%s: SELECT gave UIDVALIDITY %s HIGHESTMODSEQ %s, %d UIDs"
                        % (srv.name, uv, hms, len(uids)))
    return uv, hms, sorted(uids)


def make_changes(srv, flag_uids, expunge_uids):
    c = session(srv, qresync=False)
    c.command("SELECT INBOX")
    for u in flag_uids:
        c.command("UID STORE %d +FLAGS.SILENT (\\Draft)" % u)
    s = uidset(expunge_uids)
    c.command("UID STORE %s +FLAGS.SILENT (\\Deleted)" % s)
    c.command("UID EXPUNGE %s" % s)
    c.close()


def timed_resync(srv, variant, state, expect_flag, expect_gone):
    uv, hms, uids = state
    c = session(srv, qresync=variant != "full")
    if variant == "qresync":
        cmd = "SELECT INBOX (QRESYNC (%d %d))" % (uv, hms)
    elif variant == "qresync-known":
        picks = [0, len(uids) // 4, len(uids) // 2, 3 * len(uids) // 4, len(uids) - 1]
        cmd = "SELECT INBOX (QRESYNC (%d %d %s (%s %s)))" % (
            uv, hms, uidset(uids), ",".join(str(i + 1) for i in picks),
            ",".join(str(uids[i]) for i in picks))
    else:
        cmd = "SELECT INBOX"
    if variant == "select":
        # the same session setup, a plain SELECT: what opening the mailbox costs by itself
        t0 = time.perf_counter()
        last, nbytes, _ = c.command(cmd)
        wall = time.perf_counter() - t0
        c.close()
        return {"wall": wall, "bytes": nbytes, "check": "ok", "fetches": 0,
                "extra_fetches": 0, "vanished": 0}
    t0 = time.perf_counter()
    if variant == "full":
        c.tagn += 1
        tag = b"K%d" % c.tagn
        c.sock.sendall(tag + b" " + cmd.encode() + b"\r\n")
        _, n1, _ = c.read_stream(b"\n" + tag + b" ", 1)
        last, n2, counts = c.command("UID FETCH 1:* (FLAGS)", (b" FETCH (",))
        wall = time.perf_counter() - t0
        c.close()
        want = len(uids) - len(expect_gone)
        check = "ok" if counts[b" FETCH ("] == want else "FETCHes %d, expected %d" % (
            counts[b" FETCH ("], want)
        return {"wall": wall, "bytes": n1 + n2, "check": check, "fetches": counts[b" FETCH ("]}
    last, data = c.command_data(cmd)
    wall = time.perf_counter() - t0
    c.close()
    vanished, fetched, draft, exists = set(), set(), set(), None
    for line in data.split(b"\r\n"):
        if line.startswith(b"* VANISHED (EARLIER) "):
            vanished |= parse_uidset(line.split()[3].decode())
        elif line.endswith(b" EXISTS"):
            exists = int(line.split()[1])
        else:
            m = FETCH_RE.match(line)
            if m:
                u = UID_RE.search(m.group(2))
                if u:
                    fetched.add(int(u.group(1)))
                    f = FLAGS_RE.search(m.group(2))
                    if f and b"\\Draft" in f.group(1):
                        draft.add(int(u.group(1)))
    problems = []
    if vanished != set(expect_gone):
        problems.append("VANISHED %d UIDs (%d of the %d expunged)" % (
            len(vanished), len(vanished & set(expect_gone)), len(expect_gone)))
    if not set(expect_flag) <= draft:
        problems.append("only %d of the %d changed UIDs FETCHed with \\Draft" % (
            len(draft & set(expect_flag)), len(expect_flag)))
    if exists != len(uids) - len(expect_gone):
        problems.append("EXISTS %s, expected %d" % (exists, len(uids) - len(expect_gone)))
    extra = len(fetched - set(expect_flag))
    return {"wall": wall, "bytes": len(data), "check": "; ".join(problems) or "ok",
            "fetches": len(fetched), "extra_fetches": extra, "vanished": len(vanished)}


VARIANTS = ["qresync", "qresync-known", "full", "select"]


def part_qresync(a, binary, workdir, msgs, results):
    wd = os.path.join(workdir, "qresync")
    os.makedirs(wd)
    os.chmod(wd, 0o755)
    servers = [Kura(binary, wd)]
    for fmt in a.dovecot.split(","):
        if fmt:
            servers.append(Dovecot(fmt, wd))
    try:
        for s in servers:
            populate(s, msgs, a.messages, with_flags=True)
            s.stop()
        for s in servers:
            s.start()
        rng = random.Random(a.seed + 1)
        touched = {s.name: set() for s in servers}
        for r in range(a.runs):
            order = servers[r % len(servers):] + servers[:r % len(servers)]
            plan = {}
            for s in order:
                state = client_state(s)
                pool = [u for u in state[2] if u not in touched[s.name]]
                pick = rng.sample(pool, a.flag_changes + a.expunges)
                flag_uids, gone = pick[:a.flag_changes], pick[a.flag_changes:]
                touched[s.name].update(pick)
                t0 = time.perf_counter()
                make_changes(s, flag_uids, gone)
                log("qresync run %d %-16s %d messages, HIGHESTMODSEQ %d; %d flag changes and "
                    "%d expunges in %.2f s" % (r + 1, s.name, len(state[2]), state[1],
                                               len(flag_uids), len(gone),
                                               time.perf_counter() - t0))
                plan[s.name] = (state, flag_uids, gone)
            for variant in VARIANTS:
                for k in range(a.repeat):
                    for s in (order if k % 2 == 0 else order[::-1]):
                        state, flag_uids, gone = plan[s.name]
                        res = timed_resync(s, variant, state, flag_uids, gone)
                        results["qresync"].setdefault(s.name, {}).setdefault(
                            variant, []).append(res)
                        log("qresync run %d %-16s %-14s %8.1f ms %9d bytes  %s%s"
                            % (r + 1, s.name, variant, res["wall"] * 1e3, res["bytes"],
                               res["check"], "" if variant in ("full", "select") else
                               " (FETCH %d, extra %d, VANISHED %d)"
                               % (res["fetches"], res["extra_fetches"], res["vanished"])))
    finally:
        for s in servers:
            s.stop()


# ----------------------------------------------------------------------------------------------

def report(a, results):
    med = statistics.median
    lines = []
    if results.get("idle"):
        names = list(results["idle"])
        lines.append("IDLE propagation: %d sessions of one user in IDLE per server, %d STOREs per "
                     "run %d ms apart, %d runs" % (a.idlers, a.stores, a.interval_ms, a.runs))
        lines.append("")
        lines.append("| server | pairs | p50 | p90 | p99 | max | missed pairs (idlers) | "
                     "per-run p50 | per-run p99 |")
        lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
        for n in names:
            rs = results["idle"][n]
            lat = [x for r in rs for x in r["latencies"]]
            lines.append("| %s | %d | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %d (%s) | %s | %s |"
                         % (n, len(lat), pct(lat, 50) * 1e3, pct(lat, 90) * 1e3,
                            pct(lat, 99) * 1e3, max(lat, default=float("nan")) * 1e3,
                            sum(r["missed"] for r in rs),
                            "/".join(str(r["idlers_missing"]) for r in rs),
                            " / ".join("%.1f" % (pct(r["latencies"], 50) * 1e3) for r in rs),
                            " / ".join("%.1f" % (pct(r["latencies"], 99) * 1e3) for r in rs)))
        lines.append("")
    if results.get("qresync"):
        names = list(results["qresync"])
        lines.append("Resync after %d flag changes + %d expunges, %d-message INBOX; median "
                     "(min-max) over %d runs x %d" % (a.flag_changes, a.expunges, a.messages,
                                                      a.runs, a.repeat))
        lines.append("")
        hdr = "| resync |"
        sep = "| --- |"
        for n in names:
            hdr += " %s time | %s bytes |" % (n, n)
            sep += " ---: | ---: |"
        for n in names[1:]:
            hdr += " %s/kura time |" % n
            sep += " ---: |"
        lines += [hdr, sep]
        for v in VARIANTS:
            row = "| %s |" % v
            meds = {}
            for n in names:
                xs = results["qresync"][n][v]
                w = [x["wall"] for x in xs]
                meds[n] = med(w)
                row += " %.1f ms (%.1f-%.1f) | %s |" % (
                    med(w) * 1e3, min(w) * 1e3, max(w) * 1e3,
                    "/".join(sorted({str(x["bytes"]) for x in xs})) if len(
                        {x["bytes"] for x in xs}) <= 3 else "%d-%d" % (
                        min(x["bytes"] for x in xs), max(x["bytes"] for x in xs)))
            for n in names[1:]:
                row += " %.2f |" % (meds[n] / meds[names[0]])
            lines.append(row)
        row = "| qresync, first after the changes |"
        meds = {}
        for n in names:
            w = [x["wall"] for x in results["qresync"][n]["qresync"][::a.repeat]]
            meds[n] = med(w)
            row += " %.1f ms (%.1f-%.1f) | |" % (med(w) * 1e3, min(w) * 1e3, max(w) * 1e3)
        for n in names[1:]:
            row += " %.2f |" % (meds[n] / meds[names[0]])
        lines.append(row)
        bad = ["%s %s: %s" % (n, v, x["check"]) for n in names for v in VARIANTS
               for x in results["qresync"][n][v] if x["check"] != "ok"]
        lines.append("")
        lines.append("checks: %s" % ("all ok" if not bad else "; ".join(sorted(set(bad)))))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kura", default=os.path.join(REPO, "build", "kura"))
    ap.add_argument("--part", default="idle,qresync")
    ap.add_argument("--dovecot", default="maildir")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--idlers", type=int, default=1000)
    ap.add_argument("--stores", type=int, default=200)
    ap.add_argument("--interval-ms", type=int, default=20)
    ap.add_argument("--idle-messages", type=int, default=2000)
    ap.add_argument("--wait", type=float, default=40.0)
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--flag-changes", type=int, default=80)
    ap.add_argument("--expunges", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=2, help="timed resyncs per variant and run")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--workdir")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()

    def terminate(signum, frame):
        raise SystemExit("sync-bench.py: signal %d, cleaning up" % signum)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, terminate)
    if os.geteuid() != 0:
        sys.exit("sync-bench.py: run as root (Dovecot's mail user)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    parts = a.part.split(",")
    binary = os.path.abspath(a.kura)
    workdir = a.workdir or tempfile.mkdtemp(prefix="kura-sync-bench-", dir="/tmp")
    os.makedirs(workdir, exist_ok=True)
    os.chmod(workdir, 0o755)
    log("work dir %s" % workdir)
    results = {"idle": {}, "qresync": {}}
    msgs = None
    ok = False
    try:
        count = max(a.idle_messages if "idle" in parts else 0,
                    a.messages if "qresync" in parts else 0)
        msgs = MessageFile(os.path.join(workdir, "messages.bin"), count, a.seed)
        if "idle" in parts:
            part_idle(a, binary, workdir, msgs, results)
        if "qresync" in parts:
            part_qresync(a, binary, workdir, msgs, results)
        print(report(a, results))
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"args": vars(a), "results": results}, f, indent=1)
        ok = True
    finally:
        if msgs:
            msgs.close()
        if not a.keep and ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log("work dir kept: %s" % workdir)


if __name__ == "__main__":
    main()
