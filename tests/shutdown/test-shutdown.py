#!/usr/bin/python3
"""test-shutdown.py: SIGTERM/SIGINT with open sessions: each session gets "* BYE" and is
closed, the master exits 0, no child is left behind, the ports are released; a restart on the
same data dir reuses the certificate.

Usage: test-shutdown.py [--kura BINARY]
"""
import hashlib
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kura  # noqa: E402

USERS = {"anna": "anna-pw-1", "ben": "ben-pw-2", "cleo": "cleo-pw-3", "dan": "dan-pw-4"}


def open_sessions(srv):
    s = {}
    s["pre-auth plaintext"] = srv.connect("plain")
    s["pre-auth implicit TLS"] = srv.connect("tls")
    s["pre-auth after STARTTLS"] = srv.connect("starttls")
    for i, user in enumerate(sorted(USERS)):
        s["authenticated plaintext %s" % user] = srv.login("plain", user)
        s["authenticated TLS %s" % user] = srv.login("tls", user)
    s["authenticated via STARTTLS"] = srv.login("starttls", "anna")
    c = srv.connect("tls")
    c.send(b"a NOO")
    s["mid-command (partial line)"] = c
    c = srv.connect("tls")
    c.sendline("a AUTHENTICATE PLAIN")
    line = c.readline()
    if line is None or not line.startswith(b"+"):
        raise kura.TestError("AUTHENTICATE PLAIN: no continuation: %r" % (line,))
    s["mid-AUTHENTICATE"] = c
    c = srv.login("tls", "ben")
    c.sendline("a ENABLE IMAP4rev2")
    c.read_until_tagged("a")
    s["authenticated, IMAP4rev2 enabled"] = c
    return s


def port_closed(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except OSError:
        return True


def scenario(res, binary, sig, label):
    srv = kura.Server(binary, config={"plaintext_auth": "always"}, users=USERS,
                      name="shutdown")
    ok = True
    try:
        srv.start()
        srv.wait_children({"kura-login": 2, "kura-auth": 1, "kura-mail": 2})
        sessions = open_sessions(srv)
    except (kura.TestError, OSError) as e:
        res.fail("%s: setup" % label, "%s\n%s" % (e, srv.log_tail()))
        srv.cleanup(ok=False)
        return
    children = srv.descendants = kura.descendants_of(srv.pid)
    master = srv.pid
    t0 = time.time()
    srv.proc.send_signal(sig)
    for name, conn in sorted(sessions.items()):
        try:
            lines = conn.expect_eof(10)
            byes = [l for l in lines if l.startswith(b"* BYE ")]
            ok = res.check("%s: %s gets * BYE and is closed" % (label, name),
                           len(byes) == 1 and lines[-1].startswith(b"* BYE "),
                           "lines before close: %r" % lines) and ok
        except kura.TestError as e:
            ok = False
            res.fail("%s: %s gets * BYE and is closed" % (label, name), str(e))
        conn.close()
    try:
        srv.proc.wait(20 * kura.SLOW)
        status = srv.proc.returncode
    except Exception:  # noqa: BLE001
        status = None
    elapsed = time.time() - t0
    ok = res.check("%s: master exits 0" % label, status == 0,
                   "status %s after %.1fs\n%s" % (status, elapsed, srv.log_tail())) and ok
    if status is None:
        srv.kill_tree()
    left = [p for p in children if kura.pid_alive(p)]
    ok = res.check("%s: no child left" % label, not left,
                   "alive: %s" % [(p, kura.proc_comm(p)) for p in left]) and ok
    ok = res.check("%s: ports released" % label,
                   port_closed(srv.imap_port) and port_closed(srv.imaps_port)) and ok
    srv.proc.wait()
    srv.stop()
    crashes = srv.crashes_since(0)
    ok = res.check("%s: no child crashed (whole run and shutdown)" % label, not crashes,
                   "\n".join(crashes[:20])) and ok
    san = srv.sanitizer_reports()
    ok = res.check("%s: log has no sanitizer report" % label, not san,
                   "\n".join(san[:20])) and ok
    srv.cleanup(ok=ok)
    if not ok:
        print("# server dir kept: %s (master was %d)" % (srv.dir, master))


def idle_and_restart(res, binary):
    """No sessions: SIGTERM exits 0 promptly; a second start on the same data dir keeps the
    certificate (generated on first start only) and the users."""
    srv = kura.Server(binary, users={"anna": "anna-pw-1"}, name="restart")
    ok = True
    try:
        srv.start()
        cert = os.path.join(srv.data_dir, "tls", "cert.pem")
        with open(cert, "rb") as f:
            digest1 = hashlib.sha256(f.read()).hexdigest()
        t0 = time.time()
        status = srv.stop()
        ok = res.check("idle: SIGTERM exits 0 within 5 s", status == 0 and
                       time.time() - t0 < 5 * kura.SLOW, "status %s after %.1fs"
                       % (status, time.time() - t0)) and ok
        srv.users = {}
        srv.start()
        with open(cert, "rb") as f:
            digest2 = hashlib.sha256(f.read()).hexdigest()
        ok = res.check("restart: the certificate is kept", digest1 == digest2) and ok
        c = srv.login("tls", "anna", "anna-pw-1")
        ok = res.check("restart: users are kept", c.noop_ok()) and ok
        c.close()
        status = srv.stop(signal.SIGINT)
        ok = res.check("restart: SIGINT exits 0", status == 0, "status %s" % status) and ok
        crashes = srv.crashes_since(0)
        ok = res.check("idle/restart: no child crashed", not crashes,
                       "\n".join(crashes[:20])) and ok
    except (kura.TestError, OSError) as e:
        ok = False
        res.fail("idle/restart", "%s\n%s" % (e, srv.log_tail()))
    srv.cleanup(ok=ok)
    if not ok:
        print("# server dir kept: %s" % srv.dir)


def main():
    binary, _ = kura.binary_from_argv(sys.argv[1:])
    res = kura.Results()
    if not os.access(binary, os.X_OK):
        res.fail("kura binary %s is missing" % binary)
        return res.summary()
    if kura.is_san_binary(binary):
        kura.SLOW = max(kura.SLOW, 3.0)
    scenario(res, binary, signal.SIGTERM, "SIGTERM")
    scenario(res, binary, signal.SIGINT, "SIGINT")
    idle_and_restart(res, binary)
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
