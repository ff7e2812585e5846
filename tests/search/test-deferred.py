#!/usr/bin/python3
"""test-deferred.py: the search index is written after the append, never stale (issue 3).

APPEND and LMTP store a message without its search index (body.search_state 0, no sent date,
no SORT/THREAD keys); SEARCH, SORT and THREAD index the mailbox's waiting bodies before they
answer, and the mail process indexes them at idle time (index_idle_ms). Checked here:
  - with idle indexing off (index_idle_ms = 0): messages APPENDed, and delivered over LMTP,
    leave search_state 0 in store.db (the append path wrote no search_text row); a SEARCH
    right after finds them by body text, subject and sent date, SORT (SUBJECT, DATE) and
    THREAD REFERENCES order them, and afterwards the mailbox's bodies are indexed, those of
    another mailbox still wait; kura check reports no problem for waiting bodies;
  - with idle indexing on (a short index_idle_ms): the bodies get indexed without any search,
    APPENDed ones by the mail process, delivered ones (nobody logged in) by the lmtp process.

Usage: test-deferred.py [--kura BINARY]
"""
import os
import sqlite3
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import kura  # noqa: E402

USER, PASS = "deferred", "Deferred-Pass-7"


def message(i, subject, body, day, refs=None):
    hdr = ("From: Sender %d <s%d@example.org>\r\nTo: deferred@example.org\r\n"
           "Subject: %s\r\nDate: %02d Mar 2024 10:00:00 +0000\r\n"
           "Message-ID: <m%d@example.org>\r\n" % (i, i, subject, day, i))
    if refs:
        hdr += "References: %s\r\n" % refs
    return (hdr + "\r\n" + body + "\r\n").encode()


class Client:
    def __init__(self, srv):
        self.c = srv.login("plain", USER, PASS)
        self.n = 0

    def cmd(self, data, timeout=60):
        self.n += 1
        tag = b"d%d" % self.n
        self.c.send(tag + b" " + data + b"\r\n")
        lines = self.c.read_until_tagged(tag.decode(), timeout=timeout * kura.SLOW)
        if not lines[-1].startswith(tag + b" OK"):
            raise kura.TestError("%r -> %r" % (data[:200], lines[-3:]))
        return lines

    def append(self, box, data):
        self.cmd(b"APPEND " + box + b" {%d+}\r\n" % len(data) + data)

    def untagged(self, cmd, word):
        for line in self.cmd(cmd):
            if line.startswith(b"* " + word):
                return line[len(word) + 2:].strip()
        raise kura.TestError("no %r to %r" % (word, cmd))

    def search(self, crit):
        return [int(x) for x in self.untagged(b"UID SEARCH " + crit, b"SEARCH").split()]

    def sort(self, crit):
        return [int(x) for x in self.untagged(b"UID SORT " + crit + b" UTF-8 ALL",
                                              b"SORT").split()]

    def close(self):
        self.c.close()


def states(srv):
    """search_state -> count of bodies, and the rows of search_text."""
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(srv.data_dir, "users", USER,
                                                           "store.db"), uri=True, timeout=30)
    try:
        st = dict(db.execute("SELECT search_state, COUNT(*) FROM body GROUP BY 1").fetchall())
        rows = db.execute("SELECT COUNT(*) FROM search_text").fetchone()[0]
    finally:
        db.close()
    return st, rows


def lmtp_deliver(srv, data):
    c = srv.lmtp_connect()
    for line, code in ((b"LHLO test", b"250"), (b"MAIL FROM:<s@example.org>", b"250"),
                       (b"RCPT TO:<%s@localhost>" % USER.encode(), b"250"), (b"DATA", b"354")):
        c.sendline(line)
        r = c.smtp_reply()[-1]
        if not r.startswith(code):
            raise kura.TestError("LMTP %r -> %r" % (line, r))
    c.send(data.replace(b"\r\n.", b"\r\n..") + b".\r\n")
    r = c.smtp_reply()[-1]
    if not r.startswith(b"250"):
        raise kura.TestError("LMTP DATA -> %r" % (r,))
    c.sendline(b"QUIT")
    c.close()


def t_no_stale_answers(srv):
    c = Client(srv)
    c.cmd(b"CREATE Other")
    # 1-3 by APPEND, into INBOX; a thread: 2 answers 1, 3 answers 2
    c.append(b"INBOX", message(1, "zulu report", "the walrus sings", 3))
    c.append(b"INBOX", message(2, "Re: zulu report", "a narwhal replies", 5, "<m1@example.org>"))
    c.append(b"Other", message(9, "elsewhere", "the walrus elsewhere", 4))
    c.close()
    # 3 by LMTP, while no session of the user is open
    lmtp_deliver(srv, message(3, "alpha notes", "the walrus again", 1,
                              "<m1@example.org> <m2@example.org>"))
    st, rows = states(srv)
    if st.get(0) != 4 or rows != 0 or st.get(1):
        raise kura.TestError("the append path indexed: states %r, %d index rows" % (st, rows))
    r = srv.cli("check", USER)
    if r.returncode != 0 or "0 problems" not in r.stdout:
        raise kura.TestError("kura check on waiting bodies: %r %r" % (r.stdout, r.stderr))
    c = Client(srv)
    c.cmd(b"SELECT INBOX")
    # right after, nothing indexed yet: every answer complete
    got = c.search(b"BODY walrus")
    if got != [1, 3]:
        raise kura.TestError("BODY walrus -> %r" % got)
    if c.search(b"SUBJECT zulu") != [1, 2]:
        raise kura.TestError("SUBJECT zulu")
    if c.search(b"SENTBEFORE 4-Mar-2024") != [1, 3]:
        raise kura.TestError("SENTBEFORE -> %r" % c.search(b"SENTBEFORE 4-Mar-2024"))
    if c.search(b"SENTON 5-Mar-2024") != [2]:
        raise kura.TestError("SENTON")
    if c.sort(b"(SUBJECT)") != [3, 1, 2]:
        raise kura.TestError("SORT SUBJECT -> %r" % c.sort(b"(SUBJECT)"))
    if c.sort(b"(DATE)") != [3, 1, 2]:
        raise kura.TestError("SORT DATE -> %r" % c.sort(b"(DATE)"))
    thr = c.untagged(b"UID THREAD REFERENCES UTF-8 ALL", b"THREAD")
    if thr != b"(1 2 3)":
        raise kura.TestError("THREAD -> %r" % thr)
    st, rows = states(srv)
    # INBOX's three are indexed, Other's one still waits (the search indexed its mailbox)
    if st.get(1) != 3 or st.get(0) != 1 or rows != 3:
        raise kura.TestError("after the search: states %r, %d index rows" % (st, rows))
    # appended in this session, searched at once
    c.append(b"INBOX", message(4, "yankee", "walrus four", 6))
    c.cmd(b"NOOP")
    if c.search(b"BODY walrus") != [1, 3, 4]:
        raise kura.TestError("the new message is missing")
    if c.search(b"SUBJECT yankee SENTON 6-Mar-2024") != [4]:
        raise kura.TestError("SUBJECT yankee SENTON")
    c.cmd(b"SELECT Other")
    if c.search(b"BODY walrus") != [1]:
        raise kura.TestError("Other: BODY walrus")
    st, rows = states(srv)
    if st.get(0) or rows != 5:
        raise kura.TestError("at the end: states %r, %d index rows" % (st, rows))
    c.close()
    r = srv.cli("check", USER)
    if r.returncode != 0:
        raise kura.TestError("kura check: %r %r" % (r.stdout, r.stderr))


def t_idle_indexing(srv):
    c = Client(srv)
    for i in range(20):
        c.append(b"INBOX", message(100 + i, "idle %d" % i, "idle body %d" % i, 7))
    # no search: the mail process indexes them once the store has been quiet
    deadline = time.time() + 30 * kura.SLOW
    while True:
        st, rows = states(srv)
        if not st.get(0):
            break
        if time.time() > deadline:
            raise kura.TestError("not indexed at idle time: %r" % st)
        time.sleep(0.1)
    c.cmd(b"SELECT INBOX")
    if len(c.search(b"BODY \"idle body\"")) != 20:
        raise kura.TestError("idle-indexed messages not found")
    c.close()


def t_lmtp_idle_indexing(srv):
    # nobody logged in: no mail process has the store; the lmtp process indexes what it
    # delivered once it has had no delivery for index_idle_ms
    for i in range(12):
        lmtp_deliver(srv, message(200 + i, "lmtp idle %d" % i, "delivered idle body %d" % i, 8))
    deadline = time.time() + 30 * kura.SLOW
    while True:
        st, rows = states(srv)
        if not st.get(0) and st.get(1, 0) >= 12:
            break
        if time.time() > deadline:
            raise kura.TestError("delivered bodies not indexed at idle time: %r" % st)
        time.sleep(0.1)
    c = Client(srv)
    c.cmd(b"SELECT INBOX")
    if len(c.search(b"BODY \"delivered idle body\"")) != 12:
        raise kura.TestError("idle-indexed delivered messages not found")
    c.close()


def main():
    binary, _ = kura.binary_from_argv(sys.argv[1:])
    res = kura.Results()
    if not os.access(binary, os.X_OK):
        res.fail("kura binary %s is missing" % binary)
        return res.summary()
    if kura.is_san_binary(binary):
        kura.SLOW = max(kura.SLOW, 3.0)
    for idle, name, fn in ((0, "APPEND and LMTP leave the index to the first search, "
                            "which answers completely (SEARCH, SORT, THREAD)",
                            t_no_stale_answers),
                           (50, "the mail process indexes at idle time", t_idle_indexing),
                           (50, "the lmtp process indexes what it delivered at idle time",
                            t_lmtp_idle_indexing)):
        srv = kura.Server(binary, users={USER: PASS}, name="deferred",
                          config={"plaintext_auth": "loopback", "index_idle_ms": idle})
        status = None
        try:
            srv.start()
            res.run(name, fn, srv)
            status = srv.stop()
        finally:
            srv.finish(res, status)
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
