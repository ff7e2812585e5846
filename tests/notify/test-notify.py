#!/usr/bin/python3
"""test-notify.py: every session of a user sees the same mailbox (issue 5).

Real kura, real TLS sessions. Covers: IDLE pushes (flags, new mail, expunges) from another
session and from another process (a commit made straight into the user's SQLite database, as
a delivery agent or the CLI would, announced through DATA/users/.notify), DONE and bad input
during IDLE, the windows in which EXPUNGE must not be sent (RFC 9051 7.4.1), keywords
announced with FLAGS and PERMANENTFLAGS, a mailbox deleted under a session, and a stress run:
many sessions doing random STORE/EXPUNGE/APPEND/MOVE at once, after which every session's
picture of the mailbox (kept only from what the server told it) equals the store's state.

    tests/notify/test-notify.py [--kura PATH] [--stress-seconds N] [--sessions N]
"""
import argparse
import os
import random
import re
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kura  # noqa: E402

PASS = "notify-Pass-1"
_users = []


def new_user(srv, stem):
    name = "%s-%d" % (stem, len(_users) + 1)
    srv.user_add(name, PASS)
    _users.append(name)
    return name


FETCH_RE = re.compile(rb"^\* (\d+) FETCH \((.*)\)$")
UID_RE = re.compile(rb"UID (\d+)")
FLAGS_RE = re.compile(rb"FLAGS \(([^)]*)\)")


class Mirror:
    """One session and its picture of the selected mailbox, kept only from the server's
    untagged responses (EXISTS, EXPUNGE, FETCH), as a client must."""

    def __init__(self, srv, user, name="m"):
        self.c = srv.login("tls", user, PASS)
        self.name = name
        self.n = 0
        self.uids = []      # by sequence number - 1; None until the client learns the UID
        self.flags = {}     # uid -> set of flags (without \Recent)
        self.errors = []

    def tag(self):
        self.n += 1
        return "%s%d" % (self.name, self.n)

    def apply(self, line):
        m = re.match(rb"^\* (\d+) EXISTS$", line)
        if m:
            n = int(m.group(1))
            if n < len(self.uids):
                self.errors.append("EXISTS went down from %d to %d" % (len(self.uids), n))
                del self.uids[n:]
            self.uids.extend([None] * (n - len(self.uids)))
            return
        m = re.match(rb"^\* (\d+) EXPUNGE$", line)
        if m:
            n = int(m.group(1))
            if not 1 <= n <= len(self.uids):
                self.errors.append("EXPUNGE %d with %d messages" % (n, len(self.uids)))
                return
            uid = self.uids.pop(n - 1)
            self.flags.pop(uid, None)
            return
        m = FETCH_RE.match(line)
        if m:
            n = int(m.group(1))
            if not 1 <= n <= len(self.uids):
                self.errors.append("FETCH %d with %d messages: %r" % (n, len(self.uids), line))
                return
            u = UID_RE.search(m.group(2))
            if u:
                uid = int(u.group(1))
                if self.uids[n - 1] is None:
                    self.uids[n - 1] = uid
                elif self.uids[n - 1] != uid:
                    self.errors.append("message %d is UID %d, FETCH says %d"
                                       % (n, self.uids[n - 1], uid))
            f = FLAGS_RE.search(m.group(2))
            uid = self.uids[n - 1]
            if f and uid is not None:
                self.flags[uid] = set(f.group(1).split()) - {b"\\Recent"}

    def cmd(self, text, expect="OK", timeout=30):
        t = self.tag()
        self.c.send(("%s %s\r\n" % (t, text)).encode())
        lines = self.c.read_until_tagged(t, timeout)
        for line in lines[:-1]:
            self.apply(line)
        status = lines[-1][len(t) + 1:].split(b" ", 1)[0].decode()
        if expect is not None and status != expect:
            raise kura.TestError("%s: %s: expected %s, got %r" % (self.name, text, expect,
                                                                  lines[-3:]))
        return lines

    def fill(self):
        """Learn the UIDs and flags of messages known only by EXISTS."""
        while None in self.uids:
            first = self.uids.index(None) + 1
            self.cmd("FETCH %d:* (UID FLAGS)" % first)

    def append(self, box, text):
        t = self.tag()
        data = text.encode()
        self.c.send(("%s APPEND %s {%d+}\r\n" % (t, box, len(data))).encode() + data + b"\r\n")
        lines = self.c.read_until_tagged(t, 30)
        for line in lines[:-1]:
            self.apply(line)
        if not lines[-1].startswith((t + " OK").encode()):
            raise kura.TestError("APPEND: %r" % lines[-1])

    def close(self):
        self.c.close()


def truth(srv, user, box="INBOX"):
    """The store's state, as a fresh session reads it: [(uid, flags)]."""
    m = Mirror(srv, user, "truth")
    try:
        m.cmd("EXAMINE %s" % box)
        m.fill()
        return [(u, m.flags.get(u, set())) for u in m.uids]
    finally:
        m.close()


def msg(i, extra=""):
    return ("From: a@example.com\r\nTo: b@example.com\r\nSubject: n%s %s\r\n"
            "Message-ID: <n%s@example.com>\r\n\r\nbody %s\r\n" % (i, extra, i, i))


def read_pushed(c, want, timeout=5):
    """Lines pushed during IDLE until one matching each regex in want was seen."""
    got = []
    pending = [re.compile(w) for w in want]
    deadline = time.time() + timeout * kura.SLOW
    while pending:
        line = c.readline(max(0.1, deadline - time.time()))
        if line is None:
            raise kura.TestError("EOF during IDLE; got %r" % got)
        got.append(line)
        pending = [p for p in pending if not p.match(line)]
    return got


# ---------------------------------------------------------------------------------------------


def t_idle_push_from_another_session(srv):
    user = new_user(srv, "idle")
    a, b = Mirror(srv, user, "a"), Mirror(srv, user, "b")
    try:
        b.append("INBOX", msg(1))
        b.append("INBOX", msg(2))
        a.cmd("SELECT INBOX")
        b.cmd("SELECT INBOX")
        a.c.send(b"i1 IDLE\r\n")
        assert a.c.readline(5) == b"+ idling"
        t0 = time.time()
        b.cmd("STORE 2 +FLAGS (\\Flagged)")
        got = read_pushed(a.c, [rb"^\* 2 FETCH \(.*FLAGS \(\\Flagged"])
        latency = time.time() - t0
        b.append("INBOX", msg(3))
        got += read_pushed(a.c, [rb"^\* 3 EXISTS$"])
        b.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
        b.cmd("EXPUNGE")
        got += read_pushed(a.c, [rb"^\* 1 EXPUNGE$"])
        # nothing else while idle
        a.c.send(b"DONE\r\n")
        lines = a.c.read_until_tagged("i1", 5)
        assert lines[-1].startswith(b"i1 OK"), lines
        assert not [x for x in got if x.startswith(b"i1")], got
        print("#   IDLE push latency (STORE acknowledged to FETCH pushed): %.1f ms"
              % (latency * 1000))
        lines = a.cmd("UID FETCH 1:* (FLAGS)")
        assert sum(1 for x in lines if x.startswith(b"* ") and b" FETCH " in x) == 2, lines
    finally:
        a.close()
        b.close()


def t_idle_done_and_bad_input(srv):
    user = new_user(srv, "idledone")
    a = Mirror(srv, user, "a")
    try:
        # IDLE in the authenticated state too
        a.c.send(b"i1 IDLE\r\n")
        assert a.c.readline(5) == b"+ idling"
        a.c.send(b"done\r\n")  # case-insensitive
        assert a.c.read_until_tagged("i1", 5)[-1].startswith(b"i1 OK")
        a.cmd("SELECT INBOX")
        a.c.send(b"i2 IDLE\r\n")
        assert a.c.readline(5) == b"+ idling"
        a.c.send(b"i3 NOOP\r\n")  # not DONE: the IDLE ends with BAD
        lines = a.c.read_until_tagged("i2", 5)
        assert lines[-1].startswith(b"i2 BAD"), lines
        # the session goes on
        a.cmd("NOOP")
        a.cmd("IDLE takes-no-args", expect="BAD")
    finally:
        a.close()


def store_db(srv, user):
    return os.path.join(srv.data_dir, "users", user, "store.db")


def varint(data, p):
    v, shift = 0, 0
    while True:
        b = data[p]
        p += 1
        v |= (b & 0x7f) << shift
        shift += 7
        if not b & 0x80:
            return v, p


def put_varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7f) | 0x80)
        v >>= 7
    out.append(v)
    return out


def state_set_flags(db, mid, uid, add, modseq):
    """What another process's STORE does to one message: its entry in the packed state gets
    flags |= add and the new MODSEQ. The format (src/store/store-state.c), 1024 UIDs a chunk,
    per entry: u8 flags | 0x20 keywords follow | 0x40 UID delta follows | 0x80 MODSEQ follows,
    then those as LEB128 varints."""
    chunk = uid // 1024
    data = db.execute("SELECT data FROM msgstate WHERE mailbox_id = ? AND chunk = ?",
                      (mid, chunk)).fetchone()[0]
    entries, p, u, ms = [], 0, chunk * 1024, 0
    while p < len(data):
        b, delta, kw = data[p], 1, 0
        p += 1
        if b & 0x40:
            delta, p = varint(data, p)
        if b & 0x80:
            ms, p = varint(data, p)
        if b & 0x20:
            kw, p = varint(data, p)
        u += delta - 1
        entries.append([u, b & 0x1f, ms, kw])
        u += 1
    out, nxt, prev = bytearray(), chunk * 1024, 0
    for e in entries:
        if e[0] == uid:
            e[1] |= add
            e[2] = modseq
        b = e[1] | (0x20 if e[3] else 0) | (0x40 if e[0] != nxt else 0) | \
            (0x80 if e[2] != prev or not out else 0)
        out.append(b)
        if b & 0x40:
            out += put_varint(e[0] - nxt + 1)
        if b & 0x80:
            out += put_varint(e[2])
        if b & 0x20:
            out += put_varint(e[3])
        nxt, prev = e[0] + 1, e[2]
    db.execute("UPDATE msgstate SET data = ?, max_modseq = max(max_modseq, ?)"
               " WHERE mailbox_id = ? AND chunk = ?", (bytes(out), modseq, mid, chunk))
    # schema 7: the chunk's counts go with it (a lazily loaded view trusts them)
    db.execute("UPDATE msgcount SET max_modseq = max(max_modseq, ?), messages = ?, unseen = ?,"
               " deleted = ? WHERE mailbox_id = ? AND chunk = ?",
               (modseq, len(entries), sum(1 for e in entries if not e[1] & 1),
                sum(1 for e in entries if e[1] & 8), mid, chunk))


def t_change_from_another_process(srv):
    """A commit made by another process (here straight into the user's database, as kura
    deliver or the CLI would) reaches an idling session through DATA/users/.notify."""
    user = new_user(srv, "xproc")
    a = Mirror(srv, user, "a")
    try:
        a.append("INBOX", msg(1))
        a.cmd("SELECT INBOX")
        a.c.send(b"i1 IDLE\r\n")
        assert a.c.readline(5) == b"+ idling"
        db = sqlite3.connect(store_db(srv, user), timeout=10)
        try:
            with db:
                mid, hms = db.execute("SELECT id, highestmodseq FROM mailbox"
                                      " WHERE name = 'INBOX'").fetchone()
                state_set_flags(db, mid, 1, 4, hms + 1)
                db.execute("UPDATE mailbox SET highestmodseq = ? WHERE id = ?", (hms + 1, mid))
        finally:
            db.close()
        with open(os.path.join(srv.data_dir, "users", ".notify", user), "w"):
            pass
        read_pushed(a.c, [rb"^\* 1 FETCH \(.*FLAGS \(\\Flagged"])
        a.c.send(b"DONE\r\n")
        assert a.c.read_until_tagged("i1", 5)[-1].startswith(b"i1 OK")
    finally:
        a.close()


def t_expunge_windows(srv):
    """RFC 9051 7.4.1: no EXPUNGE while answering FETCH, STORE (or SEARCH) by sequence number;
    UID FETCH, NOOP and others may send it."""
    user = new_user(srv, "window")
    a, b = Mirror(srv, user, "a"), Mirror(srv, user, "b")
    try:
        for i in range(3):
            b.append("INBOX", msg(i))
        a.cmd("SELECT INBOX")
        a.fill()
        b.cmd("SELECT INBOX")
        b.cmd("STORE 2 +FLAGS.SILENT (\\Deleted)")
        b.cmd("EXPUNGE")
        lines = a.cmd("FETCH 1:3 (UID)")
        assert not [x for x in lines if x.endswith(b"EXPUNGE")], lines
        # message 2 is still numbered 2 for a (its data may be left out)
        assert len(a.uids) == 3, a.uids
        lines = a.cmd("STORE 3 +FLAGS (\\Seen)")
        assert not [x for x in lines if x.endswith(b"EXPUNGE")], lines
        assert any(re.match(rb"\* 3 FETCH .*UID 3|\* 3 FETCH \(FLAGS", x) for x in lines), lines
        lines = a.cmd("UID FETCH 1 (FLAGS)")
        assert b"* 2 EXPUNGE" in lines, lines
        assert a.uids == [1, 3], a.uids
        assert not a.errors, a.errors
    finally:
        a.close()
        b.close()


def t_new_keyword_announced(srv):
    user = new_user(srv, "kw")
    a, b = Mirror(srv, user, "a"), Mirror(srv, user, "b")
    try:
        b.append("INBOX", msg(1))
        a.cmd("SELECT INBOX")
        b.cmd("SELECT INBOX")
        b.cmd("STORE 1 +FLAGS ($Important)")
        lines = a.cmd("NOOP")
        flags = [x for x in lines if x.startswith(b"* FLAGS")]
        perm = [x for x in lines if b"[PERMANENTFLAGS" in x]
        assert flags and b"$Important" in flags[0], lines
        assert perm and b"$Important" in perm[0] and b"\\*" in perm[0], lines
        assert any(b"FETCH" in x and b"$Important" in x for x in lines), lines
        # the order: FLAGS before the FETCH that uses the keyword
        assert lines.index(flags[0]) < [i for i, x in enumerate(lines) if b"FETCH" in x][0]
    finally:
        a.close()
        b.close()


def t_mailbox_deleted_under_session(srv):
    user = new_user(srv, "del")
    a, b = Mirror(srv, user, "a"), Mirror(srv, user, "b")
    try:
        b.cmd("CREATE Doomed")
        b.append("Doomed", msg(1))
        b.append("Doomed", msg(2))
        a.cmd("SELECT Doomed")
        a.fill()
        b.cmd("DELETE Doomed")
        lines = a.cmd("NOOP")
        assert a.uids == [], (a.uids, lines)
        assert not a.errors, a.errors
        b.cmd("CREATE Doomed")
        b.append("Doomed", msg(3))
        # a still has the old, deleted mailbox selected: the new one is another mailbox
        lines = a.cmd("NOOP")
        assert a.uids == [], (a.uids, lines)
    finally:
        a.close()
        b.close()


def multiappend(m, box, texts, flags):
    """One MULTIAPPEND with LITERAL+ of texts[i] with flags[i] ("" or "\\Seen")."""
    t = m.tag()
    out = bytearray(("%s APPEND %s" % (t, box)).encode())
    for text, fl in zip(texts, flags):
        data = text.encode()
        out += (" (%s) {%d+}\r\n" % (fl, len(data))).encode() + data
    m.c.send(bytes(out) + b"\r\n")
    lines = m.c.read_until_tagged(t, 60 * kura.SLOW)
    if not lines[-1].startswith((t + " OK").encode()):
        raise kura.TestError("MULTIAPPEND: %r" % lines[-1])


def seen_seqs(state, flag=b"\\Seen", has=False):
    return [i + 1 for i, (_, f) in enumerate(state) if (flag in f) == has]


def search_numbers(lines):
    for x in lines:
        if x.startswith(b"* SEARCH"):
            return [int(v) for v in x.split()[2:]]
    raise kura.TestError("no SEARCH response in %r" % lines[-3:])


def t_lazy_view_across_chunks(srv):
    """SELECT reads only the per-chunk counts and a view decodes a chunk (1,024 UIDs) when it
    first uses it (imap-view.c): with 2,600 messages over three chunks, what SELECT answers,
    what FETCH, STORE, SEARCH and EXPUNGE see in chunks loaded late (after another session
    changed and expunged messages in them), and the sequence numbers after expunges across
    chunks must equal a fresh session's reading of the mailbox."""
    user = new_user(srv, "lazy")
    n = 2600
    a, b = Mirror(srv, user, "a"), Mirror(srv, user, "b")
    try:
        for lo in range(1, n + 1, 200):
            ids = range(lo, min(lo + 200, n + 1))
            multiappend(b, "INBOX", [msg(i) for i in ids],
                        ["\\Seen" if i <= 1500 else "" for i in ids])
        # only chunk 2 (the last, UIDs 2048-2600) is read at SELECT; UNSEEN reads chunk 1
        lines = a.cmd("SELECT INBOX")
        a.uids = list(range(1, n + 1))
        want = [b"* %d EXISTS" % n, b"* OK [UNSEEN 1501] First unseen message",
                b"* OK [UIDNEXT %d] Predicted next UID" % (n + 1)]
        for w in want:
            assert w in lines, (w, lines)
        # another session changes chunks 0 and 1 before a uses them
        b.cmd("SELECT INBOX")
        b.cmd("UID STORE 100,1200 +FLAGS.SILENT (\\Flagged)")
        b.cmd("UID STORE 50,1300,2500 +FLAGS.SILENT (\\Deleted)")
        b.cmd("UID EXPUNGE 50,1300,2500")
        b.append("INBOX", msg(n + 1))
        # by sequence number, no expunge is reported yet: numbers are SELECT's. Chunk 0 is
        # read now, after the change (UID 100 shows it; UID 50 is expunged but still
        # message 50); chunk 1 was read at SELECT (UNSEEN): 1200's change comes unsolicited
        lines = a.cmd("FETCH 49,51,100,1200,1501 (UID FLAGS)")
        fetched = [x.replace(b" \\Recent", b"").replace(b"(\\Recent)", b"()")
                   for x in lines if x.startswith(b"* ") and b"FETCH" in x]
        for w in (b"* 49 FETCH (UID 49 FLAGS (\\Seen))", b"* 51 FETCH (UID 51 FLAGS (\\Seen))",
                  b"* 100 FETCH (UID 100 FLAGS (\\Seen \\Flagged))",
                  b"* 1200 FETCH (UID 1200 FLAGS (\\Seen \\Flagged))",
                  b"* 1501 FETCH (UID 1501 FLAGS ())"):
            assert w in fetched, (w, fetched)
        assert not [x for x in lines if b"EXPUNGE" in x], lines
        lines = a.cmd("NOOP")
        for w in (b"* 1300 EXPUNGE", b"* 50 EXPUNGE", b"* 2500 EXPUNGE"):
            assert w in lines, (w, lines)
        assert len(a.uids) == n - 2, len(a.uids)
        state = truth(srv, user)
        assert len(state) == n - 2 and a.uids[:len(state) - 1] == [u for u, _ in state][:-1], \
            (len(state), len(a.uids))
        # SEARCH over every chunk, some loaded, some not
        assert search_numbers(a.cmd("SEARCH UNSEEN")) == seen_seqs(state)
        a.fill()
        a.cmd("FETCH 1:* (UID FLAGS)")
        assert [(u, a.flags.get(u, set())) for u in a.uids] == state
        assert not a.errors, a.errors[:5]

        # a fresh session: STORE by sequence numbers across three chunks, then EXPUNGE
        c = Mirror(srv, user, "c")
        try:
            c.cmd("SELECT INBOX")
            c.uids = [u for u, _ in state]
            c.cmd("STORE 1000:2100 +FLAGS.SILENT (\\Answered)")
            got = search_numbers(c.cmd("UID SEARCH ANSWERED"))
            assert got == [u for u, _ in state[999:2100]], (got[:3], got[-3:])
            c.cmd("STORE 1:30,1020:1030 +FLAGS.SILENT (\\Deleted)")
            lines = c.cmd("EXPUNGE")
            assert sum(1 for x in lines if x.startswith(b"* ") and x.endswith(b" EXPUNGE")) \
                == 41, lines[-3:]
            state = truth(srv, user)
            lines = c.cmd("UID FETCH 1020:1060 (FLAGS)")
            assert sum(1 for x in lines if x.startswith(b"* ") and b" FETCH " in x) == \
                sum(1 for u, _ in state if 1020 <= u <= 1060), lines
            assert not c.errors, c.errors[:5]
            assert c.uids == [u for u, _ in state], (len(c.uids), len(state))
            assert search_numbers(c.cmd("SEARCH ANSWERED")) == \
                seen_seqs(state, b"\\Answered", True)
        finally:
            c.close()
    finally:
        a.close()
        b.close()


def t_stress_sessions(srv):
    """Many sessions doing random changes at once; afterwards each session's picture, built
    only from untagged responses, equals the store's state: no lost or phantom message or
    flag."""
    user = new_user(srv, "stress")
    seed = int(os.environ.get("KURA_TEST_SEED", "0")) or random.randrange(1 << 30)
    print("#   stress: seed %d, %d sessions, %d s" % (seed, ARGS.sessions, ARGS.stress_seconds))
    setup = Mirror(srv, user, "setup")
    setup.cmd("CREATE Other")
    for i in range(40):
        setup.append("INBOX", msg(i))
    setup.close()
    sessions = [Mirror(srv, user, "s%d-" % k) for k in range(ARGS.sessions)]
    for s in sessions:
        s.cmd("SELECT INBOX")
        s.fill()
    stop = time.time() + ARGS.stress_seconds
    failures = []
    counts = {}

    def worker(s, rnd):
        try:
            while time.time() < stop:
                op = rnd.choice(["store", "store", "store", "append", "append", "append",
                                 "append", "expunge", "move", "noop", "fetch", "uidexpunge"])
                counts[op] = counts.get(op, 0) + 1
                known = [u for u in s.uids if u is not None]
                if op == "store" and known:
                    u = rnd.choice(known)
                    f = rnd.choice(["\\Seen", "\\Flagged", "\\Answered", "$Label1", "$Label2"])
                    sign = rnd.choice("+-")
                    silent = rnd.choice(["", ".SILENT"])
                    if rnd.random() < 0.5:
                        s.cmd("UID STORE %d %sFLAGS%s (%s)" % (u, sign, silent, f))
                    else:
                        n = s.uids.index(u) + 1
                        s.cmd("STORE %d %sFLAGS%s (%s)" % (n, sign, silent, f))
                elif op == "append":
                    s.append("INBOX", msg(rnd.randrange(1 << 20), s.name))
                elif op == "expunge" and known:
                    u = rnd.choice(known)
                    s.cmd("UID STORE %d +FLAGS.SILENT (\\Deleted)" % u)
                    s.cmd("EXPUNGE")
                elif op == "uidexpunge" and known:
                    u = rnd.choice(known)
                    s.cmd("UID STORE %d +FLAGS.SILENT (\\Deleted)" % u)
                    s.cmd("UID EXPUNGE %d" % u)
                elif op == "move" and known:
                    s.cmd("UID MOVE %d Other" % rnd.choice(known))
                elif op == "fetch" and s.uids:
                    n = rnd.randrange(1, len(s.uids) + 1)
                    s.cmd("FETCH %d:%d (UID FLAGS)" % (n, min(len(s.uids), n + 5)))
                else:
                    s.cmd("NOOP")
                if s.errors:
                    failures.append("%s: %s" % (s.name, s.errors[:3]))
                    return
        except Exception as e:  # noqa: BLE001 - reported as a failure
            failures.append("%s: %r" % (s.name, e))

    threads = [threading.Thread(target=worker, args=(s, random.Random(seed + k)))
               for k, s in enumerate(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(ARGS.stress_seconds + 120)
    assert not failures, failures[:5]
    want = truth(srv, user)
    # \Deleted may be left by an EXPUNGE that raced with a -FLAGS: compare everything
    for s in sessions:
        s.cmd("NOOP")
        s.fill()
        mine = [(u, s.flags.get(u, set())) for u in s.uids]
        if mine != want:
            diff = [(a, b) for a, b in zip(mine, want) if a != b][:3]
            raise kura.TestError("%s: %d messages vs %d in the store; first differences %r"
                                 % (s.name, len(mine), len(want), diff))
        assert not s.errors, s.errors[:3]
    for s in sessions:
        s.close()
    print("#   stress: %d messages at the end; operations %r" % (len(want), counts))


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--kura", default=None)
    ap.add_argument("--stress-seconds", type=int, default=0)
    ap.add_argument("--sessions", type=int, default=50)
    ARGS, _ = ap.parse_known_args()
    binary, _ = kura.binary_from_argv(["--kura", ARGS.kura] if ARGS.kura else [])
    res = kura.Results()
    if not os.access(binary, os.X_OK):
        res.fail("kura binary %s is missing" % binary)
        return res.summary()
    if kura.is_san_binary(binary):
        kura.SLOW = max(kura.SLOW, 3.0)
    if ARGS.stress_seconds == 0:
        ARGS.stress_seconds = 30 if kura.is_san_binary(binary) else 60
    srv = kura.Server(binary, name="notify")
    try:
        srv.start()
    except (kura.TestError, OSError) as e:
        res.fail("server starts", str(e))
        srv.cleanup(ok=False)
        return res.summary()
    tests = [(n[2:], f) for n, f in sorted(globals().items())
             if n.startswith("t_") and callable(f)]
    srv.run_each(res, tests)
    srv.finish(res, srv.stop())
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
