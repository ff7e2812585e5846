#!/usr/bin/python3
"""test-fetchmail.py: fetchmail (Debian's) downloads and deletes over POP3.

Two runs, each with messages APPENDed over IMAP first:
1. POP3S (implicit TLS, `ssl`), the server's certificate checked against the test cert
   (`sslcertck`, `sslcertfile`; the server is polled as "localhost", a name the generated
   certificate carries);
2. the plain port with plaintext authentication refused before TLS (plaintext_auth = never),
   so fetchmail must use STLS (`sslproto tls1.2+` makes it insist on it) to log in.
Each time fetchmail hands every message to an MDA that appends it to a file; the test checks
that each message arrived once with its body, that fetchmail exited 0, that the server says
the session was TLS, and that INBOX is empty afterwards (fetchmail without `keep` deletes).

Usage: test-fetchmail.py [--kura BINARY]
"""
import imaplib
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kura  # noqa: E402

USER, PASS = "fm-user", "fm-Pass-word"


def inbox_count(srv):
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=kura.client_ssl_context())
    m.login(USER, PASS)
    typ, data = m.status("INBOX", "(MESSAGES)")
    m.logout()
    return int(re.search(rb"MESSAGES (\d+)", data[0]).group(1))


def append(srv, data):
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=kura.client_ssl_context())
    m.login(USER, PASS)
    m.append("INBOX", None, None, data)
    m.logout()


def run_fetchmail(srv, mode, tag):
    home = os.path.join(srv.dir, "fm-" + mode)
    os.makedirs(home, exist_ok=True)
    out = os.path.join(home, "delivered")
    cert = os.path.join(srv.data_dir, "tls", "cert.pem")
    if mode == "ssl":
        port, tls = srv.pop3s_port, "ssl"
    else:
        port, tls = srv.pop3_port, "sslproto 'tls1.2+'"
    rc = os.path.join(home, "fetchmailrc")
    with open(rc, "w") as f:
        f.write("set no syslog\n"
                "poll localhost proto pop3 port %d\n"
                "  user '%s' there with password '%s' is 'nobody' here\n"
                "  %s sslcertck sslcertfile '%s'\n"
                "  mda \"cat >> '%s'\"\n" % (port, USER, PASS, tls, cert, out))
    os.chmod(rc, 0o600)
    env = dict(os.environ, HOME=home, FETCHMAILHOME=home)
    # own lock and UID files: as root fetchmail's default lock is global, and other test runs
    # may use fetchmail at the same time
    r = subprocess.run(["fetchmail", "--fetchmailrc", rc, "--nodetach", "--nosyslog",
                        "--verbose", "--pidfile", os.path.join(home, "fetchmail.pid"),
                        "--idfile", os.path.join(home, "fetchids")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60 * kura.SLOW, text=True)
    data = open(out, "rb").read() if os.path.exists(out) else b""
    return r, data


def t_fetch(srv, mode):
    tag = mode.encode()
    msgs = [b"From: a@example.org\r\nSubject: fm %s %d\r\n\r\nbody %s %d\r\n.dot line\r\n"
            % (tag, i, tag, i) for i in range(3)]
    for m in msgs:
        append(srv, m)
    log_off = srv.log_size()
    r, data = run_fetchmail(srv, mode, tag)
    if r.returncode != 0:
        raise kura.TestError("fetchmail exited %d:\n%s" % (r.returncode, r.stdout[-3000:]))
    for i in range(3):
        want = b"Subject: fm %s %d" % (tag, i)
        if data.count(want) != 1 or (b"body %s %d" % (tag, i)) not in data:
            raise kura.TestError("message %d not delivered once: %r" % (i, data[:2000]))
        if b"\n.dot line" not in data:
            raise kura.TestError("dot-stuffing not undone: %r" % data[:2000])
    if inbox_count(srv) != 0:
        raise kura.TestError("messages left on the server after fetchmail (no keep)")
    log = srv.log_since(log_off)
    if "(POP3, TLS)" not in log:
        raise kura.TestError("the POP3 session was not TLS:\n%s" % log[-2000:])


def main():
    binary, _ = kura.binary_from_argv(sys.argv[1:])
    res = kura.Results()
    if shutil.which("fetchmail") is None:
        res.fail("fetchmail is installed", "install it: scripts/setup")
        return res.summary()
    srv = kura.Server(binary, config={"plaintext_auth": "never"}, users={USER: PASS},
                      name="fetchmail")
    ok = False
    try:
        srv.start()
        res.run("fetchmail over POP3S downloads and deletes", t_fetch, srv, "ssl")
        res.run("fetchmail with STLS downloads and deletes", t_fetch, srv, "stls")
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
