#!/usr/bin/python3
"""test-park.py: a mail process keeps a bounded number of user stores open (issue 4).

Real kura with one mail process, mail_open_stores_max = 5 and mail_store_park_idle = 2: 40
users, each with a session in IDLE (half over the plaintext port, whose fd is passed to the
mail process, half over TLS, relayed by the login process). Checks: the mail process never
has more than 5 store databases open (counted in /proc/PID/fd) and its fd count stays near
sessions + 5 x 6; deliveries over LMTP to every user reach every idler (EXISTS), and so does
an APPEND made by another session of the same user; SELECT, FETCH, STORE and SEARCH work on
the sessions of parked users; after the idle time every store is parked; near the fd limit a
login gets NO [UNAVAILABLE] and the mail process goes on serving (the hand-off channel stays).

    tests/park/test-park.py [--kura PATH] [--users N]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kura  # noqa: E402

PASS = "park-Pass-1"
CAP = 5
STORE_FDS = 6
FD_LIMIT = 120
ARGS = None
USERS = []
IDLERS = {}  # user -> Conn in IDLE


def mail_pid(srv):
    pids = srv.children_by_role().get("kura-mail", [])
    if len(pids) != 1:
        raise kura.TestError("expected one kura-mail process, have %r" % pids)
    return pids[0]


def fds_of(pid):
    """(total fds, store.db fds) of a process."""
    total = dbs = 0
    d = "/proc/%d/fd" % pid
    for name in os.listdir(d):
        total += 1
        try:
            if os.readlink(os.path.join(d, name)).endswith("/store.db"):
                dbs += 1
        except OSError:
            pass
    return total, dbs


def check_bound(srv, sessions, what):
    total, dbs = fds_of(mail_pid(srv))
    print("#   %s: mail process has %d fds, %d store databases open, %d sessions"
          % (what, total, dbs, sessions))
    assert dbs <= CAP, "%s: %d store databases open (cap %d)" % (what, dbs, CAP)
    # sessions + the open stores + what the process has anyway (listeners, inotify, channels)
    assert total <= sessions + CAP * STORE_FDS + 40, \
        "%s: %d fds for %d sessions" % (what, total, sessions)
    return total, dbs


def msg(i, extra=""):
    return ("From: a@example.com\r\nTo: b@example.com\r\nSubject: park %s\r\n"
            "Message-ID: <park%s-%s@example.com>\r\n\r\nbody %s %s\r\n"
            % (i, i, extra, i, extra))


def idle_start(c, tag="idle"):
    c.sendline("%s IDLE" % tag)
    line = c.readline(10)
    if line is None or not line.startswith(b"+"):
        raise kura.TestError("IDLE: %r" % (line,))


def wait_exists(c, n, timeout=20):
    deadline = time.time() + timeout * kura.SLOW
    while time.time() < deadline:
        line = c.readline(max(0.1, deadline - time.time()))
        if line is None:
            break
        if line == b"* %d EXISTS" % n:
            return
    raise kura.TestError("no * %d EXISTS" % n)


def idle_done(c, tag="idle"):
    c.sendline("DONE")
    lines = c.read_until_tagged(tag, 10)
    if not lines[-1].startswith((tag + " OK").encode()):
        raise kura.TestError("DONE: %r" % lines[-3:])
    return lines


def lmtp_deliver(srv, users, body):
    c = srv.lmtp_connect()
    c.sendline("LHLO test.example")
    while True:
        line = c.readline(10)
        if line is None or line.startswith(b"250 "):
            break
    c.sendline("MAIL FROM:<sender@example.com>")
    assert c.readline(10).startswith(b"250"), "MAIL FROM"
    for u in users:
        c.sendline("RCPT TO:<%s@example.com>" % u)
        r = c.readline(10)
        assert r.startswith(b"250"), "RCPT %s: %r" % (u, r)
    c.sendline("DATA")
    assert c.readline(10).startswith(b"354"), "DATA"
    c.send(body.encode() + b".\r\n")
    for u in users:
        r = c.readline(60)
        assert r is not None and r.startswith(b"250"), "delivery to %s: %r" % (u, r)
    c.sendline("QUIT")
    c.close()


# ---- the tests, in order (names sort) ----

def t_1_idlers_bounded(srv):
    """Every user logs in, selects INBOX and idles; the mail process stays bounded."""
    for i, u in enumerate(USERS):
        c = srv.login("plain" if i % 2 == 0 else "tls", u, PASS)
        r = c.command("SELECT INBOX", tag="s")
        assert r[-1].startswith(b"s OK"), r[-3:]
        idle_start(c)
        IDLERS[u] = c
    check_bound(srv, len(IDLERS), "%d idlers" % len(IDLERS))


def t_2_lmtp_reaches_every_idler(srv):
    lmtp_deliver(srv, USERS, msg(1, "lmtp"))
    for u in USERS:
        wait_exists(IDLERS[u], 1)
    check_bound(srv, len(IDLERS), "after LMTP to all")


def t_3_append_from_other_session(srv):
    """Another session of the user appends: the idler (same process) hears it."""
    for u in USERS[:10]:
        c = srv.login("plain", u, PASS)
        data = msg(2, u).encode()
        c.send(b"a APPEND INBOX {%d+}\r\n" % len(data) + data + b"\r\n")
        r = c.read_until_tagged("a", 30)
        assert r[-1].startswith(b"a OK"), r[-3:]
        c.command("LOGOUT", tag="z")
        c.close()
        wait_exists(IDLERS[u], 2)
    check_bound(srv, len(IDLERS), "after APPENDs")


def t_4_commands_on_parked_users(srv):
    """Each idler leaves IDLE and works: FETCH, STORE, SEARCH, SELECT, then idles again."""
    for u in USERS:
        c = IDLERS[u]
        idle_done(c)
        n = 2 if u in USERS[:10] else 1
        r = c.command("FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])", tag="f")
        assert r[-1].startswith(b"f OK") and b"park 1" in b"".join(r), r[-4:]
        r = c.command("STORE 1 +FLAGS (\\Flagged)", tag="st")
        assert r[-1].startswith(b"st OK") and b"\\Flagged" in b"".join(r), r[-3:]
        r = c.command("SEARCH FLAGGED", tag="se")
        assert b"* SEARCH 1" in r, r
        r = c.command("SEARCH BODY lmtp", tag="sb")
        assert b"* SEARCH 1" in r, r
        r = c.command("SELECT INBOX", tag="sel")
        assert r[-1].startswith(b"sel OK") and b"* %d EXISTS" % n in r, r
        idle_start(c)
    check_bound(srv, len(IDLERS), "after commands")


def t_5_idle_parking(srv):
    """After mail_store_park_idle seconds unused, every store is parked; mail still
    arrives."""
    deadline = time.time() + 20 * kura.SLOW
    dbs = None
    while time.time() < deadline:
        _, dbs = fds_of(mail_pid(srv))
        if dbs == 0:
            break
        time.sleep(0.5)
    assert dbs == 0, "%d stores still open after the idle time" % dbs
    check_bound(srv, len(IDLERS), "all parked")
    lmtp_deliver(srv, USERS[::3], msg(3, "late"))
    for u in USERS[::3]:
        n = 3 if u in USERS[:10] else 2
        wait_exists(IDLERS[u], n)
    check_bound(srv, len(IDLERS), "after delivering to parked users")


def t_6_fd_limit_refuses_cleanly(srv):
    """A second server whose processes may open only FD_LIMIT fds (a wrapper sets ulimit -n:
    the mail process raises its soft limit to the hard one, so both are set): once the mail
    process is near its limit, logins get NO [UNAVAILABLE]; sessions already there and the
    hand-off channel go on, and after some leave new logins work again."""
    wrapper = os.path.join(srv.dir, "kura-limited")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nulimit -n %d || exit 1\nexec %s \"$@\"\n" % (FD_LIMIT, srv.binary))
    os.chmod(wrapper, 0o755)
    s2 = kura.Server(wrapper, name="park-limit", config={
        "mail_processes": 1, "login_processes": 1, "mail_open_stores_max": CAP,
        "plaintext_auth": "loopback"})
    s2.binary = wrapper
    path = os.path.join(s2.dir, "passwd")
    with open(path, "w") as f:
        for u in USERS:
            f.write("%s:{PLAIN}%s\n" % (u, PASS))
    ok = False
    accepted, refused = [], 0
    try:
        s2.start()
        r = s2.cli("user", "import", path)
        assert r.returncode == 0, r.stderr
        for u in USERS:
            c = s2.connect("plain")
            r = c.command("LOGIN %s %s" % (u, PASS), tag="l")
            if r[-1].startswith(b"l OK"):
                r = c.command("SELECT INBOX", tag="s")
                assert r[-1].startswith(b"s OK"), r[-2:]
                accepted.append(c)
            else:
                assert r[-1].startswith(b"l NO [UNAVAILABLE]"), r[-2:]
                refused += 1
                c.close()
        print("#   fd limit %d: %d sessions accepted, %d refused" % (FD_LIMIT, len(accepted),
                                                                      refused))
        assert refused > 0 and len(accepted) >= 5, (len(accepted), refused)
        for c in accepted:
            r = c.command("NOOP", tag="n")
            assert r[-1].startswith(b"n OK"), r
        assert "refused" in s2.log_text(), "no refusal logged"
        assert "dropping the channel" not in s2.log_text(), "an IPC channel was dropped"
        for c in accepted[:3]:
            c.command("LOGOUT", tag="z")
            c.close()
        accepted = accepted[3:]
        # the tagged OK of LOGOUT goes out before the mail process closes the session and
        # its store: until then a login may still be refused
        deadline = time.time() + 10 * kura.SLOW
        while True:
            c = s2.connect("plain")
            r = c.command("LOGIN %s %s" % (USERS[-1], PASS), tag="l")
            if r[-1].startswith(b"l OK") or time.time() > deadline:
                break
            assert r[-1].startswith(b"l NO [UNAVAILABLE]"), r[-2:]
            c.close()
            time.sleep(0.1)
        assert r[-1].startswith(b"l OK"), "no login after 3 sessions left: %r" % r[-2:]
        r = c.command("NOOP", tag="n")
        assert r[-1].startswith(b"n OK"), r
        c.close()
        ok = True
    finally:
        for c in accepted:
            c.close()
        status = s2.stop()
        ok = s2.finish(kura.Results(), status, "limited server") and ok
    assert ok, "the limited server failed its end checks"


def t_7_logout_all(srv):
    for u, c in IDLERS.items():
        idle_done(c)
        c.command("LOGOUT", tag="z")
        c.close()
    IDLERS.clear()
    # the last store is closed after its session's LOGOUT reply went out
    deadline = time.time() + 10 * kura.SLOW
    while True:
        total, dbs = fds_of(mail_pid(srv))
        if dbs == 0 or time.time() > deadline:
            break
        time.sleep(0.1)
    assert dbs == 0, "%d stores open with no session" % dbs


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--kura", default=None)
    ap.add_argument("--users", type=int, default=40)
    ARGS, _ = ap.parse_known_args()
    binary, _ = kura.binary_from_argv(["--kura", ARGS.kura] if ARGS.kura else [])
    res = kura.Results()
    if not os.access(binary, os.X_OK):
        res.fail("kura binary %s is missing" % binary)
        return res.summary()
    if kura.is_san_binary(binary):
        kura.SLOW = max(kura.SLOW, 3.0)
    srv = kura.Server(binary, name="park", config={
        "mail_processes": 1,
        "mail_open_stores_max": CAP,
        "mail_store_park_idle": 2,
        "plaintext_auth": "loopback",
    })
    USERS.extend("park%d" % i for i in range(1, ARGS.users + 1))
    path = os.path.join(srv.dir, "passwd")
    with open(path, "w") as f:
        for u in USERS:
            f.write("%s:{PLAIN}%s\n" % (u, PASS))
    try:
        srv.start()
        r = srv.cli("user", "import", path)
        if r.returncode != 0:
            raise kura.TestError("user import: %s" % r.stderr)
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
