#!/usr/bin/python3
"""test-kill.py: SIGKILL the login, auth and mail children in turn while sessions are open.

Sessions: plaintext logins handed off (fd passing) to both mail processes (users chosen so
that they hash to different mail processes, found by which process holds the socket), TLS
logins relayed by the login processes, and not-yet-authenticated TLS connections. For each
kill: the master logs it and starts a new child with the same comm, new logins work, the
sessions living in other processes still answer NOOP, the ones in the killed process are
dropped (closed, not left hanging).

Usage: test-kill.py [--kura BINARY]
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kura  # noqa: E402

USERS = {"user%02d" % i: "pw-%02d-secret" % i for i in range(12)}
COUNTS = {"kura-login": 2, "kura-auth": 1, "kura-mail": 2}
VICTIMS = []


class Session:
    def __init__(self, conn, user, mode, holder):
        self.conn, self.user, self.mode, self.holder = conn, user, mode, holder

    def __repr__(self):
        return "%s/%s@%s" % (self.user, self.mode, self.holder)


def holders(srv, conn):
    """Every kura process holding the server end of conn's TCP socket."""
    inode = kura._tcp_inode(conn.sock.getpeername()[1], conn.local_port())
    if not inode or inode == "0":
        return []
    target = "socket:[%s]" % inode
    out = []
    for pid in [srv.pid] + kura.descendants_of(srv.pid):
        try:
            for fd in os.listdir("/proc/%d/fd" % pid):
                try:
                    if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == target:
                        out.append(pid)
                        break
                except OSError:
                    pass
        except OSError:
            pass
    return out


def sole_holder(srv, conn, timeout=3):
    """The one process holding conn's socket (waits for the hand-off to settle)."""
    deadline = time.time() + timeout * kura.SLOW
    h = []
    while time.time() < deadline:
        h = holders(srv, conn)
        if len(h) == 1:
            return h[0]
        time.sleep(0.05)
    raise kura.TestError("socket held by %s (%s), expected exactly one process"
                         % (h, [kura.proc_comm(p) for p in h]))


def login(srv, mode, user):
    c = srv.login(mode, user, USERS[user])
    return Session(c, user, mode, sole_holder(srv, c))


def dropped(sess, timeout=5):
    """The session was closed by the server (maybe after a BYE); True/False."""
    try:
        lines = sess.conn.expect_eof(timeout)
    except kura.TestError:
        # still open: does it at least answer? (then it was not dropped)
        return False
    return all(l.startswith(b"* BYE") for l in lines)


def noop_all(sessions):
    bad = []
    for i, s in enumerate(sessions):
        if not s.conn.noop_ok("n%d" % i):
            bad.append(s)
    return bad


def wait_restart(srv, comm, old_pid, timeout=15):
    """Wait until old_pid is gone and comm has its full count again with a new pid."""
    deadline = time.time() + timeout * kura.SLOW
    roles = {}
    while time.time() < deadline:
        roles = srv.children_by_role()
        pids = roles.get(comm, [])
        if old_pid not in pids and len(pids) == COUNTS[comm] and \
                all(len(roles.get(k, [])) == n for k, n in COUNTS.items()):
            return roles
        time.sleep(0.05)
    raise kura.TestError("%s pid %d not replaced within %ss; children now %s"
                         % (comm, old_pid, timeout, roles))


def log_reports(srv, offset, pid, timeout=5):
    deadline = time.time() + timeout * kura.SLOW
    while time.time() < deadline:
        text = srv.log_since(offset)
        for line in text.splitlines():
            if ("pid %d " % pid) in line and ("signal 9" in line or "killed" in line.lower()):
                return line
        time.sleep(0.05)
    raise kura.TestError("no log line reports pid %d killed; log since:\n%s"
                         % (pid, srv.log_since(offset)[-2000:]))


def new_logins_work(srv, users, retry=5):
    """TLS and plaintext logins for each user work (retrying for a short while after a
    restart); returns the sessions (closed by the caller)."""
    out = []
    for user in users:
        for mode in ("tls", "plain"):
            deadline = time.time() + retry * kura.SLOW
            while True:
                try:
                    s = login(srv, mode, user)
                    if not s.conn.noop_ok():
                        raise kura.TestError("NOOP after login failed")
                    out.append(s)
                    break
                except (kura.TestError, OSError) as e:
                    if time.time() > deadline:
                        raise kura.TestError("new %s login for %s fails: %s" % (mode, user, e))
                    time.sleep(0.2)
    return out


def main():
    binary, _ = kura.binary_from_argv(sys.argv[1:])
    res = kura.Results()
    if not os.access(binary, os.X_OK):
        res.fail("kura binary %s is missing" % binary)
        return res.summary()
    if kura.is_san_binary(binary):
        kura.SLOW = max(kura.SLOW, 3.0)
    srv = kura.Server(binary, config={"plaintext_auth": "always", "login_processes": 2,
                                      "mail_processes": 2}, users=USERS, name="kill")
    try:
        srv.start()
        roles = srv.wait_children(COUNTS)
    except (kura.TestError, OSError) as e:
        res.fail("server starts with 2 login, 1 auth, 2 mail children", str(e))
        srv.cleanup(ok=False)
        return res.summary()
    res.ok("server starts with 2 login, 1 auth, 2 mail children")
    try:
        run(srv, res, roles)
    except (kura.TestError, OSError) as e:
        res.fail("kill sequence aborted", "%s: %s\nlog:\n%s" % (type(e).__name__, e,
                                                                  srv.log_tail(20)))
    status = srv.stop()
    crashes = srv.crashes_since(0, ignore_pids=VICTIMS)
    res.check("no child crashed other than the killed ones (whole run and shutdown)",
              not crashes, "\n".join(crashes[:20]))
    san = srv.sanitizer_reports()
    ok = res.check("server exits 0 on SIGTERM after the kills", status == 0,
                   "status %s\n%s" % (status, srv.log_tail()))
    ok = res.check("server log has no sanitizer report", not san, "\n".join(san[:20])) and ok
    srv.cleanup(ok=ok and res.failed == 0)
    if res.failed:
        print("# server dir kept: %s" % srv.dir)
    return res.summary()


def run(srv, res, roles):
    mails = roles["kura-mail"]
    logins = roles["kura-login"]

    # Map users to mail processes through plaintext sessions (the fd moves to the mail side).
    by_mail = {}
    plain = []
    for user in sorted(USERS):
        s = login(srv, "plain", user)
        plain.append(s)
        by_mail.setdefault(s.holder, []).append(user)
    res.check("plaintext sessions are handed to mail processes",
              all(p in mails for p in by_mail), "holders %s, mail pids %s, login pids %s"
              % (by_mail, mails, logins))
    if not res.check("users hash to both mail processes", len(by_mail) == 2,
                     "users by mail process: %s" % by_mail):
        return
    # one user's sessions per mail process are stable: every session of a user in one process
    again = login(srv, "plain", plain[0].user)
    res.check("a user's sessions share one mail process", again.holder == plain[0].holder,
              "%s first in %d, then in %d" % (plain[0].user, plain[0].holder, again.holder))
    plain.append(again)
    m1, m2 = mails
    user_a, user_b = by_mail[m1][0], by_mail[m2][0]
    keep_plain = [s for s in plain if s.user in (user_a, user_b)]
    for s in plain:
        if s not in keep_plain:
            s.conn.close()
    plain = keep_plain

    # TLS sessions: the login process holding the TCP socket relays them. An idle server
    # wakes the same login process for every connection (shared listener, EPOLLEXCLUSIVE),
    # so to get sessions into both, the one that took the first ones is paused (SIGSTOP)
    # while the next ones are opened: the kernel then wakes the other.
    tls = [login(srv, "tls", user_a), login(srv, "tls", user_b)]
    first = tls[0].holder
    pre = []

    def pre_conn():
        c = srv.connect("tls")
        return Session(c, None, "pre", sole_holder(srv, c))
    os.kill(first, signal.SIGSTOP)
    try:
        for user in (user_a, user_b):
            tls.append(login(srv, "tls", user))
        pre += [pre_conn() for _ in range(3)]
    finally:
        os.kill(first, signal.SIGCONT)
    for user in (user_a, user_b):
        tls.append(login(srv, "tls", user))
    pre += [pre_conn() for _ in range(2)]
    res.check("TLS sessions stay in the login processes",
              all(t.holder in logins for t in tls), "holders %s, login pids %s"
              % ([t.holder for t in tls], logins))
    if not res.check("TLS sessions spread over both login processes",
                     {t.holder for t in tls} == set(logins),
                     "holders %s" % [t.holder for t in tls]):
        return
    res.check("not-authenticated connections in both login processes",
              {p.holder for p in pre} == set(logins), "holders %s" % [p.holder for p in pre])

    # ---- kill a login process ----
    victim = tls[0].holder
    off = srv.log_size()
    VICTIMS.append(victim)
    os.kill(victim, signal.SIGKILL)
    step = "kill kura-login"
    roles = checked(res, step + ": restarted (new pid, same comm)", wait_restart, srv,
                    "kura-login", victim)
    checked(res, step + ": master logs it", log_reports, srv, off, victim)
    gone = [s for s in tls + pre if s.holder == victim]
    stay = [s for s in tls + pre if s.holder != victim]
    res.check(step + ": its sessions are dropped", all(dropped(s) for s in gone),
              "still open: %s" % [s for s in gone if not s.conn.eof])
    bad = noop_all(plain + stay)
    res.check(step + ": sessions in other processes unaffected", not bad, "failed: %s" % bad)
    tls, pre = [s for s in tls if s not in gone], [s for s in pre if s not in gone]
    new = checked(res, step + ": new logins work", new_logins_work, srv, (user_a, user_b))
    close_all(new)
    # a not-authenticated connection that survived can still log in
    if not pre:
        res.fail(step + ": surviving pre-auth connection logs in", "no pre-auth connection "
                 "survived (none was in the other login process)")
    else:
        s = pre.pop()
        r = s.conn.command("LOGIN %s %s" % (user_a, USERS[user_a]), tag="L")
        res.check(step + ": surviving pre-auth connection logs in",
                  r[-1].startswith(b"L OK"), r)
        s.conn.close()

    # ---- kill the auth process ----
    roles = srv.children_by_role()
    victim = roles["kura-auth"][0]
    off = srv.log_size()
    VICTIMS.append(victim)
    os.kill(victim, signal.SIGKILL)
    step = "kill kura-auth"
    checked(res, step + ": restarted (new pid, same comm)", wait_restart, srv, "kura-auth",
            victim)
    checked(res, step + ": master logs it", log_reports, srv, off, victim)
    bad = noop_all(plain + tls + pre)
    res.check(step + ": open sessions unaffected", not bad, "failed: %s" % bad)
    new = checked(res, step + ": new logins work", new_logins_work, srv, (user_a, user_b))
    close_all(new)
    if not pre:
        res.fail(step + ": pre-auth connection opened before the kill logs in",
                 "no pre-auth connection left")
    else:
        s = pre.pop()
        ok = False
        deadline = time.time() + 5 * kura.SLOW
        while time.time() < deadline and not ok:
            r = s.conn.command("LOGIN %s %s" % (user_b, USERS[user_b]), tag="L")
            ok = r[-1].startswith(b"L OK")
            if not ok:
                time.sleep(0.2)
        res.check(step + ": pre-auth connection opened before the kill logs in", ok, r)
        s.conn.close()

    # ---- kill the mail process of user_a ----
    victim = m1
    off = srv.log_size()
    VICTIMS.append(victim)
    os.kill(victim, signal.SIGKILL)
    step = "kill kura-mail"
    roles = checked(res, step + ": restarted (new pid, same comm)", wait_restart, srv,
                    "kura-mail", victim)
    checked(res, step + ": master logs it", log_reports, srv, off, victim)
    gone = [s for s in plain if s.holder == victim] + [s for s in tls if s.user == user_a]
    stay = [s for s in plain if s.holder != victim] + [s for s in tls if s.user != user_a]
    res.check(step + ": its sessions are dropped (plaintext and TLS-relayed)",
              all(dropped(s) for s in gone),
              "still open: %s" % [s for s in gone if not s.conn.eof])
    bad = noop_all(stay + pre)
    res.check(step + ": sessions in other processes unaffected", not bad, "failed: %s" % bad)
    new = checked(res, step + ": new logins work", new_logins_work, srv, (user_a, user_b))
    if new and roles:
        new_mail = [p for p in roles["kura-mail"] if p != m2]
        a_plain = [s for s in new if s.user == user_a and s.mode == "plain"]
        res.check(step + ": the user's new sessions go to the new mail process",
                  a_plain and a_plain[0].holder in new_mail,
                  "%s in %s, new mail pids %s" % (user_a, [s.holder for s in a_plain], new_mail))
    close_all(new)
    bad = noop_all(stay)
    res.check("after all kills: old sessions still answer", not bad, "failed: %s" % bad)
    close_all(stay + pre)
    try:
        srv.wait_children(COUNTS, timeout=5)
        res.ok("after all kills: 2 login, 1 auth, 2 mail children")
    except kura.TestError as e:
        res.fail("after all kills: 2 login, 1 auth, 2 mail children", str(e))


def checked(res, name, fn, *args):
    try:
        v = fn(*args)
    except (kura.TestError, OSError) as e:
        res.fail(name, str(e))
        return None
    res.ok(name)
    return v


def close_all(sessions):
    for s in sessions or []:
        s.conn.close()


if __name__ == "__main__":
    sys.exit(main())
