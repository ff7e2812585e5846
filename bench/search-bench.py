#!/usr/bin/python3
"""bench/search-bench.py: SEARCH on a big mailbox, served from kura's index.

Starts kura in a temp dir, fills one INBOX with N generated messages (default 100,000:
English and Japanese text, plain, HTML alternatives, 15% with a base64 attachment; pipelined
MULTIAPPEND with LITERAL+), restarts the server (cold process, warm page cache), then times
UID SEARCH for: a rare word in BODY, a common word in BODY, a two-character Japanese word
(会議, answered through the trigram vocabulary), one-character strings (a common one takes the
scan fallback),
FROM, TEXT, a flag (no index), and a combination. Each query runs --runs times; the median
and the minimum are printed. While the slowest query runs, a second session of the same user
(the same mail process) sends NOOPs: their worst latency shows how much a long SEARCH holds
other sessions. Then SORT and THREAD over the whole mailbox (hits: messages sorted, or
threads). Finally the sizes: body files (the mail), the search index (FTS5 tables, from
SQLite's dbstat) and the whole store.db.

    bench/search-bench.py [--kura build/kura] [-n 100000] [--runs 5] [--keep]

With --dovecot maildir[,sdbox] (as root; bench/setup-dovecot installs Dovecot 2.3 from apt) the
same messages go into kura and into one Dovecot per format (Debian's defaults: no FTS plugin,
so Dovecot answers SEARCH BODY by reading and decoding every message) through the same
pipelined MULTIAPPENDs, and the issue-6 queries (BODY rare word, BODY common word, BODY 2-char
Japanese, FROM, SORT (DATE), THREAD REFERENCES) are timed on every server in turn:

    bench/search-bench.py -n 100000 --runs 3 --dovecot maildir [--repeat 1] [--json FILE]

Each run restores every server's data from a snapshot taken after populating and restarts the
servers (page cache warm, processes and Dovecot's dovecot.index.cache as after delivery), then
per query: the first execution on each server ("first": for Dovecot the one that may have to
add header fields to its cache file), then --repeat more executions on each server in turn
("repeat"). The order of the servers rotates between runs. Medians over runs of "first" and of
all "repeat" times are printed with Dovecot/kura ratios (how many times kura is faster), and
the hit counts of the servers are compared (a difference is printed as a warning). Then the
sizes: kura's search index as a share of the mail, and Dovecot's index files.

Results are written down in bench/RESULTS.md."""
import argparse
import base64
import json
import mmap
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
import kura  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

USER, PASS = "bench", "Bench-Pass-1"
BATCH = 1000

EN = ("the of and to in is that for it as was with be by on not he this are or his from at "
      "which but have an they you were her all she there would their we him been has when who "
      "will more no if out so said what up its about into than them can only other new some "
      "could time these two may then do first any my now such like our over man me even most "
      "made after also did many before must through back years where much your way well down "
      "should because each just those people how too little state good very make world still "
      "own see men work long get here between both life being under never day same another "
      "know while last might us great old year off come since against go came right used take "
      "three meeting project report budget review schedule release server mail search index "
      "invoice customer deadline agenda minutes proposal contract delivery quality support").split()
JA = ("会議 議事録 予定 資料 確認 東京 大阪 営業 開発 担当 本日 明日 打ち合わせ ミーティング "
      "よろしくお願いします お疲れ様です 以上 報告 連絡 相談 見積 請求 納品 品質 対応 検討 "
      "進捗 課題 共有 添付").split()
RARE = "zygomorphic"
FROM_RARE = "tanaka.ichiro@example.jp"


def zipf_words(rng, n):
    out = []
    for _ in range(n):
        if rng.random() < 0.03:
            out.append(rng.choice(JA))
        else:
            out.append(EN[min(int(rng.paretovariate(1.1)) - 1, len(EN) - 1)])
    return out


def message(rng, i, rare_at):
    words = zipf_words(rng, rng.randint(80, 700))
    if i in rare_at:
        words.insert(rng.randrange(len(words)), RARE)
    text = " ".join(words)
    lines, cur = [], []
    for w in text.split(" "):
        cur.append(w)
        if sum(len(x) + 1 for x in cur) > 70:
            lines.append(" ".join(cur))
            cur = []
    lines.append(" ".join(cur))
    body = "\r\n".join(lines) + "\r\n"
    frm = FROM_RARE if i % 100 == 7 else "user%d@example.%s" % (rng.randrange(500),
                                                                  rng.choice(["com", "jp"]))
    subject = " ".join(zipf_words(rng, rng.randint(2, 8)))
    head = ("From: %s\r\nTo: bench@example.com\r\nSubject: =?UTF-8?B?%s?=\r\n"
            "Date: Mon, %d Jan 2024 10:%02d:00 +0900\r\nMessage-ID: <b%d@example.com>\r\n"
            "MIME-Version: 1.0\r\n" % (frm, base64.b64encode(subject.encode()).decode(),
                                       1 + i % 28, i % 60, i))
    r = rng.random()
    if r < 0.6:
        return (head + "Content-Type: text/plain; charset=UTF-8\r\n"
                "Content-Transfer-Encoding: 8bit\r\n\r\n" + body).encode()
    b = "=_b%d" % i
    html = "<html><body><p>" + body.replace("\r\n", "</p><p>") + "</p></body></html>\r\n"
    out = head + "Content-Type: multipart/%s; boundary=\"%s\"\r\n\r\n" % (
        "alternative" if r < 0.85 else "mixed", b)
    out += "--%s\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n%s" % (b, body)
    if r < 0.85:
        out += "--%s\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n%s" % (b, html)
    else:
        att = base64.encodebytes(rng.randbytes(rng.randint(8000, 40000))).decode()
        out += ("--%s\r\nContent-Type: application/pdf; name=\"scan-%d.pdf\"\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n%s" % (b, i, att.replace("\n", "\r\n")))
    out += "--%s--\r\n" % b
    return out.encode()


def populate(srv, n, seed):
    rng = random.Random(seed)
    rare_at = set(rng.sample(range(n), 5))
    c = srv.login("plain", USER, PASS)
    pending = []
    answered = [0]
    errors = []
    total = [0]

    def reader(count):
        while answered[0] < count:
            line = c.readline(timeout=600)
            if line is None:
                errors.append(b"EOF")
                return
            if line.startswith(b"p"):
                answered[0] += 1
                if b" OK " not in line:
                    errors.append(line)
    ncmd = (n + BATCH - 1) // BATCH
    t = threading.Thread(target=reader, args=(ncmd,), daemon=True)
    t.start()
    for k, start in enumerate(range(0, n, BATCH)):
        parts = [b"p%d APPEND INBOX" % k]
        for i in range(start, min(n, start + BATCH)):
            m = message(rng, i, rare_at)
            total[0] += len(m)
            parts.append(b" {%d+}\r\n" % len(m))
            parts.append(m)
        parts.append(b"\r\n")
        c.send(b"".join(parts))
        pending.append(k)
        while k - answered[0] > 4:  # keep a few commands in flight
            time.sleep(0.05)
        if k % 10 == 9:
            print("#   %d messages sent, %d commands answered" % (min(n, start + BATCH),
                                                                answered[0]), flush=True)
    t.join(3600)
    c.close()
    if errors or answered[0] != ncmd:
        raise kura.TestError("populating: %d of %d answered, %r" % (answered[0], ncmd,
                                                                   errors[:3]))
    return total[0], rare_at


def timed_search(c, crit, tag):
    t0 = time.perf_counter()
    cmd = crit if crit.startswith((b"SORT ", b"THREAD ")) else b"SEARCH " + crit
    c.send(tag.encode() + b" UID " + cmd + b"\r\n")
    lines = c.read_until_tagged(tag, timeout=600)
    dt = time.perf_counter() - t0
    if not lines[-1].startswith(tag.encode() + b" OK"):
        raise kura.TestError("%r: %r" % (crit, lines[-1]))
    hits = 0
    for line in lines:
        if line.startswith((b"* SEARCH", b"* SORT")):
            hits = len(line.split()) - 2
        elif line.startswith(b"* THREAD"):
            depth = 0  # threads: the top-level parentheses
            for ch in line[8:]:
                if ch == 0x28:
                    hits += depth == 0
                    depth += 1
                elif ch == 0x29:
                    depth -= 1
    return dt, hits


def noop_latency_during(srv, c, crit):
    """Worst NOOP round trip of a second session while crit runs in the first."""
    other = srv.login("plain", USER, PASS)
    other.command("SELECT INBOX", tag="s", expect="OK", timeout=120)
    worst = [0.0]
    stop = [False]

    def pinger():
        k = 0
        while not stop[0]:
            k += 1
            t0 = time.perf_counter()
            other.command("NOOP", tag="n%d" % k, expect="OK", timeout=60)
            worst[0] = max(worst[0], time.perf_counter() - t0)
            time.sleep(0.005)
    t = threading.Thread(target=pinger, daemon=True)
    t.start()
    time.sleep(0.1)
    dt, _ = timed_search(c, crit, "lat")
    stop[0] = True
    t.join(60)
    other.close()
    return dt, worst[0]


def sizes(srv):
    udir = os.path.join(srv.data_dir, "users", USER)
    mail = 0
    for root, _, files in os.walk(os.path.join(udir, "bodies")):
        for f in files:
            mail += os.path.getsize(os.path.join(root, f))
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(udir, "store.db"), uri=True)
    index = db.execute("SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name LIKE 'search_text%'"
                       " OR name = 'body_unindexed'").fetchone()[0]
    content = db.execute("SELECT COALESCE(SUM(pgsize), 0) FROM dbstat"
                         " WHERE name = 'search_text_content'").fetchone()[0]
    dbsize = db.execute("SELECT COALESCE(SUM(pgsize), 0) FROM dbstat").fetchone()[0]
    db.close()
    return mail, index, content, dbsize


# ----------------------------------------------------------------------------------------------
# kura vs Dovecot (issue 6)

CMP_QUERIES = [
    ("SEARCH BODY rare word", b"UID SEARCH BODY " + RARE.encode()),
    ("SEARCH BODY common word", b"UID SEARCH BODY would"),
    ("SEARCH BODY 2-char Japanese", b"UID SEARCH CHARSET UTF-8 BODY {6+}\r\n" + "会議".encode()),
    ("SEARCH FROM", b"UID SEARCH FROM " + FROM_RARE.encode()),
    ("SORT (DATE) ALL", b"UID SORT (DATE) UTF-8 ALL"),
    ("THREAD REFERENCES ALL", b"UID THREAD REFERENCES UTF-8 ALL"),
]


class GenFile:
    """search-bench's messages, generated once into one file (the same bytes populate() would
    send), with the interface of benchlib.MessageFile for benchlib.append_stream."""

    def __init__(self, path, n, seed):
        rng = random.Random(seed)
        rare_at = set(rng.sample(range(n), 5))
        self.index = []
        t0 = time.time()
        off = 0
        with open(path, "wb") as f:
            for i in range(n):
                m = message(rng, i, rare_at)
                f.write(m)
                self.index.append((off, len(m), "", ""))
                off += len(m)
        self.total = off
        benchlib.log("generated %d messages, %.0f MB, in %.0f s" % (n, off / 1e6, time.time() - t0))
        self.f = open(path, "rb")
        self.mm = mmap.mmap(self.f.fileno(), 0, access=mmap.ACCESS_READ)

    def data(self, i):
        off, n, _, _ = self.index[i]
        return self.mm[off:off + n]

    def close(self):
        self.mm.close()
        self.f.close()


def cmp_populate(srv, msgs, n):
    srv.start()
    c = benchlib.Imap(srv.port)
    c.login()
    batch = 500
    nb = (n + batch - 1) // batch
    t0 = time.time()
    last, _, counts = c.pipeline(benchlib.append_stream(msgs, "INBOX", list(range(n)), b"P",
                                                        batch=batch), nb, b"P")
    if counts[b" OK "] < nb or counts[b" NO "] or counts[b" BAD "]:
        raise benchlib.ImapError("%s: populate: %s; last %r" % (srv.name, counts, last))
    dt = time.time() - t0
    c.close()
    srv.stop()
    srv.snapshot()
    benchlib.log("%s: %d messages appended in %.0f s (MULTIAPPEND x%d, all in flight)"
                 % (srv.name, n, dt, batch))
    return dt


def count_hits(data):
    for line in data.split(b"\r\n"):
        if line.startswith((b"* SEARCH", b"* SORT")):
            return len(line.split()) - 2
        if line.startswith(b"* THREAD"):
            hits, depth = 0, 0     # threads: the top-level parentheses
            for ch in line[8:]:
                if ch == 0x28:
                    hits += depth == 0
                    depth += 1
                elif ch == 0x29:
                    depth -= 1
            return hits
    return -1


def cmp_time(c, cmd):
    t0 = time.perf_counter()
    last, data = c.command_data(cmd)
    return time.perf_counter() - t0, count_hits(data), len(data)


def dir_size(path, pred=lambda name: True):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            if pred(f):
                try:
                    total += os.lstat(os.path.join(root, f)).st_size
                except OSError:
                    pass
    return total


def compare(a):
    if os.geteuid() != 0:
        sys.exit("search-bench.py --dovecot: run as root (Dovecot's mail user)")
    workdir = tempfile.mkdtemp(prefix="kura-search-cmp-", dir="/tmp")
    os.chmod(workdir, 0o755)
    benchlib.log("work dir %s" % workdir)
    servers, msgs, ok = [], None, False
    try:
        msgs = GenFile(os.path.join(workdir, "messages.bin"), a.n, a.seed)
        servers.append(benchlib.Kura(os.path.abspath(a.kura), workdir))
        for fmt in a.dovecot.split(","):
            if fmt:
                servers.append(benchlib.Dovecot(fmt, workdir))
        res = {s.name: {"populate_s": cmp_populate(s, msgs, a.n), "q": {}} for s in servers}
        for r in range(a.runs):
            for s in servers:
                s.restore()
                s.start()
            order = servers[r % len(servers):] + servers[:r % len(servers)]
            conns = {}
            for s in servers:
                c = benchlib.Imap(s.port)
                c.login()
                c.command("SELECT INBOX")
                conns[s.name] = c
            for name, cmd in CMP_QUERIES:
                for k in range(1 + a.repeat):
                    for s in order:
                        dt, hits, nbytes = cmp_time(conns[s.name], cmd)
                        q = res[s.name]["q"].setdefault(name, {"first": [], "repeat": [],
                                                               "hits": set(), "bytes": nbytes})
                        q["first" if k == 0 else "repeat"].append(dt)
                        q["hits"].add(hits)
                        benchlib.log("run %d %-18s %-28s %s %8.3f s  %d hits"
                                     % (r + 1, s.name, name, "first " if k == 0 else "repeat",
                                        dt, hits))
            for c in conns.values():
                c.close()
            for s in servers:
                s.stop()
        cmp_report(a, servers, res, msgs)
        ok = True
    finally:
        for s in servers:
            try:
                s.stop()
            except Exception as e:  # noqa: BLE001 - keep stopping the others
                benchlib.log("stopping %s: %s" % (s.name, e))
        if msgs:
            msgs.close()
        if not a.keep and ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            benchlib.log("work dir kept: %s" % workdir)


def spread(xs):
    return "%s–%s" % (fmt_t(min(xs)), fmt_t(max(xs)))


def fmt_ratio(x):
    return "%.0f×" % x if x >= 10 else "%.2f×" % x


def fmt_t(x):
    return "%.1f ms" % (x * 1000) if x < 1 else "%.2f s" % x


def cmp_report(a, servers, res, msgs):
    med = statistics.median
    kname = servers[0].name
    others = [s.name for s in servers[1:]]
    print("\n%d messages (%.0f MB), %d runs; median (min–max) wall time to the tagged OK\n"
          % (a.n, msgs.total / 1e6, a.runs))
    hdr = "| query | hits | kura first | kura repeat |"
    sep = "| --- | ---: | ---: | ---: |"
    for o in others:
        hdr += " %s first | %s repeat | Dovecot/kura first | Dovecot/kura repeat |" % (o, o)
        sep += " ---: | ---: | ---: | ---: |"
    print(hdr)
    print(sep)
    for name, _ in CMP_QUERIES:
        k = res[kname]["q"][name]
        hits = set(k["hits"])
        for o in others:
            hits |= res[o]["q"][name]["hits"]
        row = "| `%s` | %s | %s (%s) | %s (%s) |" % (
            name, "/".join(str(h) for h in sorted(hits)), fmt_t(med(k["first"])),
            spread(k["first"]), fmt_t(med(k["repeat"])) if k["repeat"] else "-",
            spread(k["repeat"]) if k["repeat"] else "-")
        for o in others:
            d = res[o]["q"][name]
            row += " %s (%s) | %s (%s) | %s | %s |" % (
                fmt_t(med(d["first"])), spread(d["first"]),
                fmt_t(med(d["repeat"])) if d["repeat"] else "-",
                spread(d["repeat"]) if d["repeat"] else "-",
                fmt_ratio(med(d["first"]) / med(k["first"])),
                fmt_ratio(med(d["repeat"]) / med(k["repeat"])) if d["repeat"] else "-")
        print(row)
        if len(hits) > 1:
            print("WARNING: `%s`: the servers' hit counts differ: %s" % (name, {
                s.name: sorted(res[s.name]["q"][name]["hits"]) for s in servers}))
    print()
    for s in servers:
        print("# %s: populated in %.0f s" % (s.name, res[s.name]["populate_s"]))
    kdir = os.path.join(servers[0].data_path, "users", benchlib.USER)
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(kdir, "store.db"), uri=True)
    index = db.execute("SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name LIKE "
                       "'search_text%' OR name = 'body_unindexed'").fetchone()[0]
    dbsize = db.execute("SELECT COALESCE(SUM(pgsize), 0) FROM dbstat").fetchone()[0]
    db.close()
    mail = dir_size(os.path.join(kdir, "bodies"))
    print("# kura: mail (body files) %.0f MB; search index %.0f MB = %.0f%% of the mail; "
          "store.db %.0f MB" % (mail / 1e6, index / 1e6, 100.0 * index / mail, dbsize / 1e6))
    for s in servers[1:]:
        idx = dir_size(s.data_path, lambda f: f.startswith("dovecot.index") or
                       f.startswith("dovecot-uidlist") or f.startswith("dovecot.list"))
        total = dir_size(s.data_path)
        print("# %s: all files %.0f MB, of which index/cache/uidlist %.0f MB (%.0f%%)"
              % (s.name, total / 1e6, idx / 1e6, 100.0 * idx / max(1, total - idx)))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({s.name: {"populate_s": res[s.name]["populate_s"],
                                "q": {n: dict(v, hits=sorted(v["hits"]))
                                      for n, v in res[s.name]["q"].items()}}
                       for s in servers}, f, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kura", default=kura.DEFAULT_BINARY)
    ap.add_argument("-n", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--dovecot", help="compare with Dovecot: formats, e.g. maildir,sdbox")
    ap.add_argument("--repeat", type=int, default=1,
                    help="with --dovecot: executions after the first per query and run")
    ap.add_argument("--json", help="with --dovecot: write the measurements to this file")
    a = ap.parse_args()
    if a.dovecot:
        compare(a)
        return
    srv = kura.Server(a.kura, users={USER: PASS}, name="search-bench",
                      config={"log_level": "warning", "plaintext_auth": "loopback"})
    srv.start()
    try:
        t0 = time.time()
        total, _ = populate(srv, a.n, a.seed)
        fill = time.time() - t0
        print("# %d messages (%.0f MB) appended and indexed in %.0f s (%.0f messages/s)"
              % (a.n, total / 1e6, fill, a.n / fill), flush=True)
        srv.stop()
        srv.users = {}  # already added
        srv.start()
        c = srv.login("plain", USER, PASS)
        c.command("SELECT INBOX", tag="s", expect="OK", timeout=120)
        queries = [
            ("BODY rare word", b"BODY " + RARE.encode()),
            ("BODY common word", b"BODY would"),
            ("BODY 2-char Japanese", b"CHARSET UTF-8 BODY {6+}\r\n" + "会議".encode()),
            ("BODY 3-char Japanese", b"CHARSET UTF-8 BODY {9+}\r\n" + "議事録".encode()),
            ("BODY 1 char", b"BODY e"),
            ("BODY 1 rarer char", b"BODY z"),
            ("FROM", b"FROM " + FROM_RARE.encode()),
            ("TEXT common word", b"TEXT people"),
            ("SUBJECT 2 chars", b"SUBJECT of"),
            ("UNSEEN (no index)", b"UNSEEN"),
            ("SINCE + BODY", b"SINCE 20-Jan-2024 BODY their"),
            ("SORT (SUBJECT) ALL", b"SORT (SUBJECT) UTF-8 ALL"),
            ("SORT (REVERSE DATE) ALL", b"SORT (REVERSE DATE) UTF-8 ALL"),
            ("SORT (DISPLAYFROM) BODY common", b"SORT (DISPLAYFROM) UTF-8 BODY would"),
            ("THREAD REFERENCES ALL", b"THREAD REFERENCES UTF-8 ALL"),
            ("THREAD ORDEREDSUBJECT ALL", b"THREAD ORDEREDSUBJECT UTF-8 ALL"),
        ]
        print("| query | hits | median | min |")
        print("| --- | ---: | ---: | ---: |")
        slowest = None
        for name, crit in queries:
            times = []
            hits = 0
            for r in range(a.runs):
                dt, hits = timed_search(c, crit, "t")
                times.append(dt)
            med = statistics.median(times)
            if slowest is None or med > slowest[1]:
                slowest = (crit, med, name)
            print("| `%s` | %d | %.1f ms | %.1f ms |" % (name, hits, med * 1000,
                                                          min(times) * 1000), flush=True)
        for crit, name in ((slowest[0], slowest[2]),
                           (b"SORT (SUBJECT) UTF-8 ALL", "SORT (SUBJECT) ALL"),
                           (b"THREAD REFERENCES UTF-8 ALL", "THREAD REFERENCES ALL")):
            dt, worst = noop_latency_during(srv, c, crit)
            print("# during `%s` (%.0f ms) a second session's worst NOOP took %.1f ms"
                  % (name, dt * 1000, worst * 1000), flush=True)
        c.close()
        srv.stop()
        mail, index, content, dbsize = sizes(srv)
        print("# mail (body files) %.0f MB; search index %.0f MB (%.0f%% of the mail; of it the"
              " stored text %.0f MB); store.db %.0f MB"
              % (mail / 1e6, index / 1e6, 100.0 * index / mail, content / 1e6, dbsize / 1e6))
    finally:
        srv.stop()
        srv.cleanup(ok=not a.keep)
        if a.keep:
            print("# kept %s" % srv.dir)


if __name__ == "__main__":
    main()
