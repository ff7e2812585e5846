#!/usr/bin/python3
"""test-lmtp-crash.py: kill -9 during concurrent LMTP deliveries loses nothing acknowledged.

Each trial starts kura on the same data folder, runs several LMTP clients that deliver distinct
messages (each transaction to two or three of four users, pipelined) as fast as they can,
SIGKILLs the master and every child at a random moment, waits until every killed process is
gone, restarts, and checks over IMAP that every recipient that got "250" after the data holds
that message, byte-identical after kura's trace fields. A recipient whose reply never came may
or may not have it (the MTA would deliver again). After the last trial `kura check USER`
reports a clean store for every user and the spool holds no file.

    tests/durability/test-lmtp-crash.py [--kura build/kura] [--trials 20] [--open-stores N]

--open-stores N sets lmtp_open_stores_max: with 1, every delivery to another user parks a store
(without checkpointing its WAL, store_pool_keep_wal) and reopens one.
"""
import argparse
import hashlib
import imaplib
import os
import random
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kura  # noqa: E402

USERS = ["lmtp-durable-%d" % i for i in range(4)]
PASS = "Durable-Pass-1"
TRACE = re.compile(rb"^(?:(?:Return-Path|Delivered-To|Received):[^\r]*\r\n(?:[ \t][^\r]*\r\n)*)+",
                   re.I)
MSGID = re.compile(rb"\r\nMessage-ID: <([^>]+)>\r\n", re.I)


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def reply(self):
        """One (possibly multi-line) reply; returns its last line."""
        while True:
            while b"\r\n" not in self.buf:
                data = self.sock.recv(65536)
                if not data:
                    raise EOFError
                self.buf += data
            line, self.buf = self.buf.split(b"\r\n", 1)
            if len(line) < 4 or line[3:4] != b"-":
                return line


def deliverer(port, ident, acked, stop):
    """Deliver until the server dies; acked gets (user, message-id, sha256 of the message)."""
    rnd = random.Random(ident)
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        r = Reader(s)
        r.reply()
        s.sendall(b"LHLO crash.test\r\n")
        r.reply()
        n = 0
        while not stop.is_set():
            n += 1
            mid = "%s.%d@lmtp-crash.test" % (ident, n)
            body = (b"Message-ID: <%s>\r\nSubject: crash %s %d\r\n\r\n" %
                    (mid.encode(), ident.encode(), n))
            body += os.urandom(rnd.randint(10, 30000)).hex().encode() + b"\r\n"
            rcpts = rnd.sample(USERS, rnd.randint(2, 3))
            s.sendall(b"MAIL FROM:<load@example.org>\r\n" +
                      b"".join(b"RCPT TO:<%s@example.com>\r\n" % u.encode() for u in rcpts) +
                      b"DATA\r\n")
            if not r.reply().startswith(b"250"):
                return
            ok = [u for u in rcpts if r.reply().startswith(b"250")]
            if not r.reply().startswith(b"354"):
                return
            s.sendall(body + b".\r\n")  # hex lines: no dot-stuffing needed
            digest = hashlib.sha256(body).hexdigest()
            for u in ok:
                if r.reply().startswith(b"250 "):
                    acked.append((u, mid, digest))
    except (OSError, EOFError):
        pass


def stored(port):
    """{(user, message-id): sha256 of the message without kura's trace fields}."""
    got = {}
    for u in USERS:
        m = imaplib.IMAP4("127.0.0.1", port)
        m.login(u, PASS)
        m.select("INBOX", readonly=True)
        typ, data = m.uid("FETCH", "1:*", "(BODY.PEEK[])")
        for d in data:
            if not isinstance(d, tuple):
                continue
            msg = d[1]
            t = TRACE.match(msg)
            body = msg[t.end():] if t else msg
            mid = MSGID.search(b"\r\n" + body)
            if mid:
                got[(u, mid.group(1).decode())] = hashlib.sha256(body).hexdigest()
        m.logout()
    return got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kura", default=None)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--open-stores", type=int, default=0, help="lmtp_open_stores_max (0: default)")
    a, _ = ap.parse_known_args()
    binary, _ = kura.binary_from_argv(["--kura", a.kura] if a.kura else [])
    res = kura.Results()
    config = {"plaintext_auth": "loopback"}
    if a.open_stores > 0:
        config["lmtp_open_stores_max"] = a.open_stores
    srv = kura.Server(binary, config=config, name="lmtp-crash")
    ok = True
    all_acked = []
    # the helpers of the APPEND crash test: kill everything, wait until it is gone
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    crash = __import__("test-crash")
    try:
        srv.start()
        for u in USERS:
            srv.user_add(u, PASS)
        srv.users = {}  # added once; restarts must not add them again
        for trial in range(a.trials):
            acked, stop = [], threading.Event()
            threads = [threading.Thread(target=deliverer,
                                        args=(srv.lmtp_port, "t%d-c%d" % (trial, i), acked,
                                              stop), daemon=True)
                       for i in range(a.clients)]
            for t in threads:
                t.start()
            time.sleep(random.uniform(0.2, 1.2))
            crash.kill_all(srv)
            stop.set()
            for t in threads:
                t.join(30)
            all_acked.extend(acked)
            srv.start()
            got = stored(srv.imap_port)
            missing = [x for x in all_acked if got.get((x[0], x[1])) != x[2]]
            ok = res.check("trial %d: %d acknowledged LMTP deliveries (%d in all) survive kill -9"
                           % (trial + 1, len(acked), len(all_acked)), not missing,
                           "missing or changed: %r" % missing[:5]) and ok
        status = srv.stop()
        ok = res.check("server exits 0 after the trials", status == 0, srv.log_tail()) and ok
        problems = []
        for u in USERS:
            r = srv.cli("check", u)
            if r.returncode != 0 or " 0 problems" not in r.stdout:
                problems.append(r.stdout + r.stderr)
        ok = res.check("kura check reports clean stores", not problems, "\n".join(problems)) and ok
        spool = os.path.join(srv.data_dir, "spool")
        left = os.listdir(spool) if os.path.isdir(spool) else []
        ok = res.check("no spool file left behind", not left, repr(left)) and ok
        res.check("no sanitizer report", not srv.sanitizer_reports(),
                  "\n".join(srv.sanitizer_reports()[:10]))
    except (kura.TestError, OSError, EOFError, imaplib.IMAP4.error) as e:
        ok = False
        res.fail("durability run", "%s\n%s" % (e, srv.log_tail()))
    srv.cleanup(ok=ok)
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
