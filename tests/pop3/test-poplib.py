#!/usr/bin/python3
"""test-poplib.py: Python's poplib (stdlib) against kura's POP3, with IMAP (imaplib) on the
same store.

1. download and delete: five messages APPENDed over IMAP are listed, retrieved byte-exact
   (over POP3S and over STLS), deleted and QUIT; an IMAP session idling in INBOX is told
   about the expunges (the same store call and notification as IMAP EXPUNGE), and INBOX is
   empty afterwards;
2. IMAP-side changes reach the next POP3 session: an APPEND and an expunge over IMAP; a POP3
   session open meanwhile keeps its snapshot;
3. RETR sets \\Seen, TOP does not; a session that ends without QUIT deletes nothing;
4. UIDL is stable across sessions and across a restart of the server, and has the RFC 2449
   form (1-70 characters 0x21-0x7E), distinct per message;
5. a 24 MB message is retrieved through a reader that stalls: the bytes are exact and the mail
   process's anonymous memory grows by far less than the message (bounded streaming).

Usage: test-poplib.py [--kura BINARY]
"""
import hashlib
import imaplib
import os
import poplib
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kura  # noqa: E402

USER, PASS = "pop-alice", "pop-Alice-pw"
BIG_USER, BIG_PASS = "pop-big", "pop-Big-pw"


def msg(i):
    return (b"From: sender%d@example.org\r\nSubject: message %d\r\n\r\n" % (i, i) +
            b"body line of %d\r\n.starts with a dot\r\n..two dots\r\nlast\r\n" % i)


def imap(srv, user=USER, password=PASS):
    m = imaplib.IMAP4("127.0.0.1", srv.imap_port)
    m.login(user, password)
    return m


def pop(srv, mode="plain", user=USER, password=PASS):
    if mode == "tls":
        p = poplib.POP3_SSL("127.0.0.1", srv.pop3s_port, context=srv.ssl_context())
    else:
        p = poplib.POP3("127.0.0.1", srv.pop3_port, timeout=30)
        if mode == "stls":
            p.stls(srv.ssl_context())
    p.user(user)
    p.pass_(password)
    return p


def inbox_count(srv, user=USER, password=PASS):
    m = imap(srv, user, password)
    typ, data = m.status("INBOX", "(MESSAGES)")
    m.logout()
    return int(re.search(rb"MESSAGES (\d+)", data[0]).group(1))


def append(srv, data, user=USER, password=PASS):
    m = imap(srv, user, password)
    typ, resp = m.append("INBOX", None, None, data)
    m.logout()
    if typ != "OK":
        raise kura.TestError("APPEND: %r" % resp)


def retr_bytes(p, n):
    resp, lines, octets = p.retr(n)
    return b"\r\n".join(lines) + b"\r\n", octets


def t_download_delete(srv, mode):
    msgs = [msg(i) for i in range(5)]
    for m in msgs:
        append(srv, m)
    # an IMAP session idling in INBOX must hear about the POP3 deletions
    idle = kura.Conn.connect(srv)
    idle.expect_greeting()
    idle.command("LOGIN %s %s" % (USER, PASS), tag="l", expect="OK")
    idle.command("SELECT INBOX", tag="s", expect="OK")
    idle.sendline("i IDLE")
    line = idle.readline(10)
    if line is None or not line.startswith(b"+"):
        raise kura.TestError("IDLE: %r" % line)
    p = pop(srv, mode)
    count, size = p.stat()
    if count != 5 or size != sum(len(m) for m in msgs):
        raise kura.TestError("STAT %r, expected 5 %d" % ((count, size), sum(len(m) for m in msgs)))
    _, listing, _ = p.list()
    if [int(x.split()[1]) for x in listing] != [len(m) for m in msgs]:
        raise kura.TestError("LIST %r" % listing)
    for i, m in enumerate(msgs, 1):
        got, octets = retr_bytes(p, i)
        if got != m:
            raise kura.TestError("RETR %d: %r != %r" % (i, got, m))
        p.dele(i)
    p.quit()
    seen = set()
    deadline = time.time() + 10
    while len(seen) < 5 and time.time() < deadline:
        line = idle.readline(10)
        if line is None:
            break
        mm = re.match(rb"\* (\d+) EXPUNGE", line)
        if mm:
            seen.add(line)
    idle.sendline("DONE")
    idle.close()
    if len(seen) < 5:
        raise kura.TestError("the idling IMAP session saw %d EXPUNGEs" % len(seen))
    if inbox_count(srv) != 0:
        raise kura.TestError("INBOX not empty after the POP3 deletions")


def t_imap_changes(srv):
    append(srv, msg(10))
    append(srv, msg(11))
    p = pop(srv)
    if p.stat()[0] != 2:
        raise kura.TestError("STAT %r" % (p.stat(),))
    # IMAP: expunge the first, append a third, while the POP3 session is open
    m = imap(srv)
    m.select("INBOX")
    m.store("1", "+FLAGS.SILENT", "(\\Deleted)")
    m.expunge()
    m.logout()
    append(srv, msg(12))
    if p.stat()[0] != 2:
        raise kura.TestError("the open session's snapshot changed: %r" % (p.stat(),))
    try:
        p.retr(1)
        raise kura.TestError("RETR of an expunged message succeeded")
    except poplib.error_proto as e:
        if not str(e).startswith("b'-ERR"):
            raise
    p.quit()
    p = pop(srv)
    if p.stat()[0] != 2:
        raise kura.TestError("next session STAT %r" % (p.stat(),))
    if retr_bytes(p, 1)[0] != msg(11) or retr_bytes(p, 2)[0] != msg(12):
        raise kura.TestError("next session sees the wrong messages")
    p.dele(1)
    p.dele(2)
    p.quit()
    if inbox_count(srv) != 0:
        raise kura.TestError("INBOX not empty")


def t_seen_and_drop(srv):
    append(srv, msg(20))
    append(srv, msg(21))
    p = pop(srv)
    p.retr(1)
    p.top(2, 0)
    p.dele(1)
    p.dele(2)
    p.sock.close()  # no QUIT: nothing may be deleted
    p.file.close()
    time.sleep(0.3)
    if inbox_count(srv) != 2:
        raise kura.TestError("a dropped session deleted messages")
    m = imap(srv)
    m.select("INBOX", readonly=True)
    _, data = m.fetch("1:2", "(FLAGS)")
    m.logout()
    if b"\\Seen" not in data[0] or b"\\Seen" in data[1]:
        raise kura.TestError("RETR must set \\Seen, TOP must not: %r" % data)


def uidls(srv):
    p = pop(srv)
    _, listing, _ = p.uidl()
    p.quit()
    return [x.split()[1] for x in listing]


def t_uidl_stable(srv):
    first = uidls(srv)
    if len(first) != 2 or len(set(first)) != 2:
        raise kura.TestError("UIDL %r" % first)
    for u in first:
        if not 1 <= len(u) <= 70 or any(c < 0x21 or c > 0x7e for c in u):
            raise kura.TestError("UIDL %r is not RFC 2449 form" % u)
    if uidls(srv) != first:
        raise kura.TestError("UIDL changed between sessions")
    if srv.stop() != 0:
        raise kura.TestError("server exit status")
    users, srv.users = srv.users, {}  # they exist already
    srv.start()
    srv.users = users
    second = uidls(srv)
    if second != first:
        raise kura.TestError("UIDL changed across a restart: %r -> %r" % (first, second))
    # a new message gets a new UIDL, the old ones keep theirs
    append(srv, msg(22))
    third = uidls(srv)
    if third[:2] != first or third[2] in first:
        raise kura.TestError("UIDL after APPEND: %r" % third)


def status_kb(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def t_big_retr(srv):
    # 24 MB of lines, some starting with "." (stuffed on the wire)
    line = b"x" * 70 + b"\r\n"
    body = (b"Subject: big\r\n\r\n" + (line * 99 + b".dotted line\r\n") * 3300)
    srv.user_add(BIG_USER, BIG_PASS)
    append(srv, body, BIG_USER, BIG_PASS)
    mail_pid = srv.children_by_role()["kura-mail"][0]
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    s.connect(("127.0.0.1", srv.pop3_port))
    s.settimeout(30)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"USER %s\r\nPASS %s\r\n" % (BIG_USER.encode(), BIG_PASS.encode()))
    f.readline()
    if not f.readline().startswith(b"+OK"):
        raise kura.TestError("login failed")
    time.sleep(0.3)
    base = status_kb(mail_pid, "RssAnon")
    peak = [base]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], status_kb(mail_pid, "RssAnon"))
            time.sleep(0.02)
    t = threading.Thread(target=sample)
    t.start()
    try:
        s.sendall(b"RETR 1\r\n")
        time.sleep(2.0)  # not reading: the server must stop at its high-water mark
        status = f.readline()
        h = hashlib.sha256()
        while True:
            ln = f.readline()
            if ln == b".\r\n" or not ln:
                break
            h.update(ln[1:] if ln.startswith(b".") else ln)
    finally:
        stop.set()
        t.join()
    s.sendall(b"QUIT\r\n")
    f.readline()
    s.close()
    if status != b"+OK %d octets\r\n" % len(body):
        raise kura.TestError("RETR status %r" % status)
    if h.hexdigest() != hashlib.sha256(body).hexdigest():
        raise kura.TestError("RETR of the big message is not byte-exact")
    bound = 24 * 1024 if kura.is_san_binary(srv.binary) else 8 * 1024
    grew = peak[0] - base
    print("#   mail process RssAnon %d KiB -> peak %d KiB (+%d KiB) for a %d KiB RETR"
          % (base, peak[0], grew, len(body) // 1024))
    if grew > bound:
        raise kura.TestError("RETR grew the mail process by %d KiB (bound %d)" % (grew, bound))


def main():
    binary, _ = kura.binary_from_argv(sys.argv[1:])
    if kura.is_san_binary(binary):
        opts = os.environ.get("ASAN_OPTIONS", "")
        os.environ["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "quarantine_size_mb=4"
    res = kura.Results()
    srv = kura.Server(binary, config={"plaintext_auth": "loopback", "mail_processes": 1,
                                      "login_processes": 1},
                      users={USER: PASS}, name="poplib")
    ok = False
    try:
        srv.start()
        res.run("download and delete (plain), IDLE sees the expunges",
                t_download_delete, srv, "plain")
        res.run("download and delete (POP3S)", t_download_delete, srv, "tls")
        res.run("download and delete (STLS)", t_download_delete, srv, "stls")
        res.run("IMAP changes reach the next POP3 session", t_imap_changes, srv)
        res.run("RETR sets \\Seen, TOP not; no QUIT deletes nothing", t_seen_and_drop, srv)
        res.run("UIDL stable across sessions and a restart", t_uidl_stable, srv)
        res.run("big RETR streams with bounded memory", t_big_retr, srv)
        status = srv.stop()
        reports = srv.sanitizer_reports() + srv.crashes_since(0)
        ok = res.check("server stopped cleanly", status == 0 and not reports,
                       "exit %s\n%s" % (status, "\n".join(reports)))
    finally:
        if srv.proc is not None and srv.proc.poll() is None:
            srv.stop()
        srv.cleanup(ok=ok)
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
