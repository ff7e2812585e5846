#!/usr/bin/python3
"""test-crash.py: kill -9 during concurrent APPENDs loses nothing acknowledged.

Each trial starts kura on the same data folder, runs several clients that APPEND distinct
messages as fast as they can, SIGKILLs the master and every child at a random moment, restarts,
and checks that every APPEND answered OK [APPENDUID v u] is present under that UID with exactly
the bytes sent. After the last trial `kura check USER` must report a clean store.

    tests/durability/test-crash.py [--kura build/kura] [--trials 20]
"""
import argparse
import hashlib
import os
import random
import re
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kura  # noqa: E402

USER, PASS = "durable", "Durable-Pass-1"
APPENDUID = re.compile(rb"^(\S+) OK \[APPENDUID (\d+) (\d+)\]")


def read_line(sock, buf):
    while b"\n" not in buf[0]:
        data = sock.recv(65536)
        if not data:
            raise EOFError
        buf[0] += data
    line, buf[0] = buf[0].split(b"\n", 1)
    return line.rstrip(b"\r")


def appender(port, ident, acked, stop):
    """APPEND messages until the server dies; record (uidvalidity, uid, sha256, size)."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        buf = [b""]
        read_line(s, buf)
        s.sendall(b"a LOGIN %s %s\r\n" % (USER.encode(), PASS.encode()))
        while not read_line(s, buf).startswith(b"a "):
            pass
        n = 0
        while not stop.is_set():
            n += 1
            body = (b"Message-ID: <%s.%d@crash.test>\r\nSubject: crash %s %d\r\n\r\n" %
                    (ident.encode(), n, ident.encode(), n))
            body += os.urandom(random.randint(10, 20000)).hex().encode() + b"\r\n"
            tag = b"t%d" % n
            s.sendall(tag + b" APPEND INBOX {%d+}\r\n" % len(body) + body + b"\r\n")
            while True:
                line = read_line(s, buf)
                if line.startswith(tag + b" "):
                    break
            m = APPENDUID.match(line)
            if m:
                acked.append((int(m.group(2)), int(m.group(3)),
                              hashlib.sha256(body).hexdigest(), len(body)))
    except (OSError, EOFError):
        pass


def fetch_all(port):
    """{uid: (uidvalidity, sha256, size)} of INBOX."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    buf = [b""]
    read_line(s, buf)
    s.sendall(b"a LOGIN %s %s\r\n" % (USER.encode(), PASS.encode()))
    while not read_line(s, buf).startswith(b"a "):
        pass
    s.sendall(b"b SELECT INBOX\r\n")
    uidvalidity = None
    while True:
        line = read_line(s, buf)
        m = re.search(rb"\[UIDVALIDITY (\d+)\]", line)
        if m:
            uidvalidity = int(m.group(1))
        if line.startswith(b"b "):
            break
    s.sendall(b"c UID FETCH 1:* (UID BODY.PEEK[])\r\n")
    got = {}
    while True:
        line = read_line(s, buf)
        if line.startswith(b"c "):
            if not line.startswith(b"c OK"):
                raise kura.TestError("UID FETCH failed: %r" % line)
            break
        m = re.match(rb"\* \d+ FETCH \(.*UID (\d+).*\{(\d+)\}$", line)
        if not m:
            continue
        uid, size = int(m.group(1)), int(m.group(2))
        while len(buf[0]) < size:
            data = s.recv(65536)
            if not data:
                raise EOFError
            buf[0] += data
        body, buf[0] = buf[0][:size], buf[0][size:]
        got[uid] = (uidvalidity, hashlib.sha256(body).hexdigest(), size)
        read_line(s, buf)  # the closing ")"
    s.close()
    return got


def gone(pid):
    """True once pid has exited (no process, or a zombie: its sockets are closed)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def kill_all(srv):
    pids = srv.children() + [srv.pid]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    srv.proc.wait()
    # SIGKILL returns before the processes are gone; a login process still holding the
    # listening sockets would make the restart fail with "Address already in use"
    deadline = time.time() + 30
    while not all(gone(p) for p in pids) and time.time() < deadline:
        time.sleep(0.02)
    srv.proc = None
    if srv.logf:
        srv.logf.close()
        srv.logf = None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kura", default=None)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--clients", type=int, default=4)
    a, _ = ap.parse_known_args()
    binary, _ = kura.binary_from_argv(["--kura", a.kura] if a.kura else [])
    res = kura.Results()
    srv = kura.Server(binary, config={"plaintext_auth": "loopback"}, name="crash")
    ok = True
    all_acked = []
    try:
        srv.start()
        srv.user_add(USER, PASS)
        srv.users = {}  # added once; restarts must not add it again
        for trial in range(a.trials):
            acked, stop = [], threading.Event()
            threads = [threading.Thread(target=appender,
                                        args=(srv.imap_port, "%d-%d" % (trial, i), acked, stop),
                                        daemon=True)
                       for i in range(a.clients)]
            for t in threads:
                t.start()
            time.sleep(random.uniform(0.2, 1.2))
            kill_all(srv)
            stop.set()
            for t in threads:
                t.join(30)
            all_acked.extend(acked)
            srv.start()
            got = fetch_all(srv.imap_port)
            missing = [x for x in all_acked if got.get(x[1]) != (x[0], x[2], x[3])]
            ok = res.check("trial %d: %d acknowledged APPENDs (%d in all) survive kill -9"
                           % (trial + 1, len(acked), len(all_acked)), not missing,
                           "missing or changed: %r" % missing[:5]) and ok
        status = srv.stop()
        ok = res.check("server exits 0 after the trials", status == 0, srv.log_tail()) and ok
        r = srv.cli("check", USER)
        ok = res.check("kura check reports a clean store", r.returncode == 0 and
                       " 0 problems" in r.stdout, r.stdout + r.stderr) and ok
        res.check("no sanitizer report", not srv.sanitizer_reports(),
                  "\n".join(srv.sanitizer_reports()[:10]))
    except (kura.TestError, OSError, EOFError) as e:
        ok = False
        res.fail("durability run", "%s\n%s" % (e, srv.log_tail()))
    srv.cleanup(ok=ok)
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
