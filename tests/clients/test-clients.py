#!/usr/bin/python3
"""test-clients.py: real clients against a real kura.

Python imaplib (IMAP4_SSL and IMAP4 + starttls(), LOGIN, AUTHENTICATE PLAIN and SCRAM-SHA-256
driven through imaplib), a SCRAM-SHA-256 client of our own with the server signature checked,
curl (imaps:// and imap:// with --ssl-reqd, SASL PLAIN and SASL LOGIN; curl 7.88 cannot force
the LOGIN command: --login-options AUTH=+LOGIN fails with exit 3 inside curl),
openssl s_client (-starttls imap, implicit TLS, TLS versions, the certificate).

Usage: test-clients.py [--kura BINARY]
"""
import imaplib
import os
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kura  # noqa: E402

USER, PASS = "clientuser", "Client-Pass-42"
USER2, PASS2 = "second.user", 'p w"q\\z'


def t_imaplib_ssl_login(srv):
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=srv.ssl_context())
    caps = m.capabilities
    for cap in ("IMAP4REV1", "IMAP4REV2", "AUTH=PLAIN", "AUTH=SCRAM-SHA-256"):
        assert cap in caps, "%s not in %s" % (cap, caps)
    assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps, caps
    typ, data = m.login(USER, PASS)
    assert typ == "OK", (typ, data)
    typ, data = m.noop()
    assert typ == "OK", (typ, data)
    typ, data = m.capability()
    assert typ == "OK" and b"IMAP4rev2" in data[0], data
    typ, data = m.logout()
    assert typ == "BYE", (typ, data)


def t_imaplib_ssl_login_quoted_password(srv):
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=srv.ssl_context())
    typ, data = m.login(USER2, PASS2)  # imaplib quotes it, escaping " and \
    assert typ == "OK", (typ, data)
    m.logout()


def t_imaplib_ssl_authenticate_plain(srv):
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=srv.ssl_context())
    typ, data = m.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (USER, PASS)).encode())
    assert typ == "OK", (typ, data)
    assert m.state == "AUTH"
    typ, _ = m.noop()
    assert typ == "OK"
    m.logout()


def t_imaplib_starttls_login(srv):
    m = imaplib.IMAP4("127.0.0.1", srv.imap_port)
    assert "STARTTLS" in m.capabilities and "LOGINDISABLED" in m.capabilities, m.capabilities
    typ, data = m.starttls(ssl_context=srv.ssl_context())
    assert typ == "OK", (typ, data)
    # imaplib refreshes the capabilities after TLS
    assert "STARTTLS" not in m.capabilities and "AUTH=PLAIN" in m.capabilities, m.capabilities
    typ, data = m.login(USER, PASS)
    assert typ == "OK", (typ, data)
    m.logout()


def t_imaplib_starttls_authenticate_plain(srv):
    m = imaplib.IMAP4("127.0.0.1", srv.imap_port)
    m.starttls(ssl_context=srv.ssl_context())
    typ, data = m.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (USER2, PASS2)).encode())
    assert typ == "OK", (typ, data)
    m.logout()


def t_imaplib_wrong_password_login(srv):
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=srv.ssl_context())
    try:
        m.login(USER, "not-the-password")
    except imaplib.IMAP4.error:
        pass
    else:
        raise AssertionError("login with a wrong password succeeded")
    # the connection is still usable for a correct login
    typ, _ = m.login(USER, PASS)
    assert typ == "OK"
    m.logout()


def t_imaplib_wrong_password_authenticate(srv):
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=srv.ssl_context())
    try:
        m.authenticate("PLAIN", lambda _: ("\0%s\0wrong" % USER).encode())
    except imaplib.IMAP4.error:
        pass
    else:
        raise AssertionError("AUTHENTICATE PLAIN with a wrong password succeeded")
    m.logout()


def t_imaplib_plaintext_login_refused(srv):
    m = imaplib.IMAP4("127.0.0.1", srv.imap_port)
    try:
        m.login(USER, PASS)
    except imaplib.IMAP4.error:
        pass
    else:
        raise AssertionError("plaintext LOGIN succeeded despite LOGINDISABLED")
    m.logout()


def t_imaplib_authenticate_scram(srv):
    """imaplib drives the exchange; our callback is a SCRAM client (signature checked)."""
    sc = kura.ScramClient(USER, PASS)
    state = {"step": 0}

    def cb(challenge):
        state["step"] += 1
        if state["step"] == 1:
            assert challenge == b"", challenge
            return sc.first().encode()
        if state["step"] == 2:
            return sc.final(challenge).encode()
        sc.verify(challenge)
        state["verified"] = True
        return b""
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=srv.ssl_context())
    typ, data = m.authenticate("SCRAM-SHA-256", cb)
    assert typ == "OK", (typ, data)
    assert state.get("verified"), "the server never sent its signature (v=...)"
    m.logout()


def t_scram_raw(srv):
    c = srv.connect("tls")
    kura.scram_exchange(c, "a", USER2, PASS2)
    assert c.noop_ok()
    c.close()
    c = srv.connect("starttls")
    kura.scram_exchange(c, "b", USER, PASS, ir=True)
    assert c.noop_ok()
    c.close()


def t_scram_wrong_and_unknown(srv):
    c = srv.connect("tls")
    kura.scram_exchange(c, "a", USER, "wrong", expect="NO")
    kura.scram_exchange(c, "b", "no-such-user", "whatever", expect="NO")
    assert c.noop_ok()
    c.close()


def t_scram_server_nonce_fresh(srv):
    """Two exchanges with the same client nonce get different server nonces and the salt
    for a user is stable."""
    seen = []
    for _ in range(2):
        c = srv.connect("tls")
        sc = kura.ScramClient(USER, PASS, nonce="fixedclientnonce")
        c.sendline("a AUTHENTICATE SCRAM-SHA-256 " + kura.b64(sc.first()))
        line = c.readline()
        assert line and line.startswith(b"+ "), line
        import base64
        sf = base64.b64decode(line[2:]).decode()
        attrs = dict(kv.split("=", 1) for kv in sf.split(","))
        seen.append(attrs)
        c.sendline("*")
        line = c.readline()
        assert line and line.startswith(b"a BAD"), line
        c.close()
    assert seen[0]["r"] != seen[1]["r"], "server nonce reused: %r" % seen
    assert seen[0]["s"] == seen[1]["s"], "salt changed between exchanges: %r" % seen


def t_failure_does_not_reveal_user(srv):
    """The NO for an unknown user and for a wrong password read the same."""
    c = srv.connect("tls")
    a = c.command('LOGIN %s "wrong-password"' % USER, tag="a")[-1][2:]
    b = c.command('LOGIN nobody-here "wrong-password"', tag="a")[-1][2:]
    c.close()
    assert a == b, "different answers: %r vs %r" % (a, b)
    assert a.startswith(b"NO"), a


def curl(args, timeout=60):
    return subprocess.run(["curl", "-sS", "--max-time", str(int(30 * kura.SLOW))] + args,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout * kura.SLOW)


def t_curl_imaps(srv):
    r = curl(["--insecure", "imaps://127.0.0.1:%d/" % srv.imaps_port, "-u",
              "%s:%s" % (USER, PASS), "-X", "CAPABILITY"])
    assert r.returncode == 0, "curl exit %d: %s" % (r.returncode, r.stderr)
    assert "IMAP4rev2" in r.stdout, r.stdout


def t_curl_imaps_cacert(srv):
    # --cacert with the generated certificate (curl checks the name: the cert is for localhost)
    r = curl(["--cacert", os.path.join(srv.data_dir, "tls", "cert.pem"), "--resolve",
              "localhost:%d:127.0.0.1" % srv.imaps_port, "imaps://localhost:%d/" % srv.imaps_port,
              "-u", "%s:%s" % (USER, PASS), "-X", "CAPABILITY"])
    assert r.returncode == 0, "curl exit %d: %s" % (r.returncode, r.stderr)


def t_curl_imaps_wrong_password(srv):
    r = curl(["--insecure", "imaps://127.0.0.1:%d/" % srv.imaps_port, "-u",
              "%s:wrong" % USER, "-X", "CAPABILITY"])
    assert r.returncode == 67, "curl exit %d (expected 67): %s" % (r.returncode, r.stderr)


def t_curl_starttls(srv):
    r = curl(["--insecure", "--ssl-reqd", "imap://127.0.0.1:%d/" % srv.imap_port, "-u",
              "%s:%s" % (USER2, PASS2), "-X", "CAPABILITY"])
    assert r.returncode == 0, "curl exit %d: %s" % (r.returncode, r.stderr)
    assert "IMAP4rev2" in r.stdout, r.stdout


def t_curl_starttls_wrong_password(srv):
    r = curl(["--insecure", "--ssl-reqd", "imap://127.0.0.1:%d/" % srv.imap_port, "-u",
              "%s:wrong" % USER2, "-X", "CAPABILITY"])
    assert r.returncode == 67, "curl exit %d (expected 67): %s" % (r.returncode, r.stderr)


def t_curl_sasl_login(srv):
    r = curl(["--insecure", "--login-options", "AUTH=LOGIN",
              "imaps://127.0.0.1:%d/" % srv.imaps_port, "-u", "%s:%s" % (USER, PASS),
              "-X", "NOOP"])
    assert r.returncode == 0, "curl exit %d: %s" % (r.returncode, r.stderr)


def t_curl_plaintext_refused(srv):
    """Without TLS (LOGINDISABLED, no AUTH=) curl cannot log in."""
    r = curl(["imap://127.0.0.1:%d/" % srv.imap_port, "-u", "%s:%s" % (USER, PASS),
              "-X", "CAPABILITY"])
    assert r.returncode != 0, "curl logged in over plaintext: %s" % r.stdout


class SClient:
    def __init__(self, args):
        self.p = subprocess.Popen(["openssl", "s_client"] + args, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.out = b""

    def send(self, line):
        self.p.stdin.write(line.encode() + b"\n")
        self.p.stdin.flush()

    def wait_for(self, needle, timeout=15):
        deadline = time.time() + timeout * kura.SLOW
        while needle.encode() not in self.out:
            r, _, _ = select.select([self.p.stdout], [], [], max(0, deadline - time.time()))
            if not r:
                raise AssertionError("timeout waiting for %r; output:\n%s"
                                     % (needle, self.out.decode(errors="replace")[-2000:]))
            chunk = os.read(self.p.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError("s_client ended before %r; output:\n%s"
                                     % (needle, self.out.decode(errors="replace")[-2000:]))
            self.out += chunk
        return self.out

    def finish(self, timeout=15):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(timeout * kura.SLOW)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            return None
        self.out += self.p.stdout.read()
        return self.p.returncode


def t_openssl_starttls(srv):
    cafile = os.path.join(srv.data_dir, "tls", "cert.pem")
    s = SClient(["-starttls", "imap", "-connect", "127.0.0.1:%d" % srv.imap_port, "-quiet",
                 "-crlf", "-CAfile", cafile, "-verify_return_error"])
    s.send("a CAPABILITY")
    out = s.wait_for("a OK").decode(errors="replace")
    cap = [l for l in out.splitlines() if l.startswith("* CAPABILITY")]
    assert cap and "AUTH=PLAIN" in cap[-1] and "STARTTLS" not in cap[-1].split(), out
    s.send("b LOGIN %s %s" % (USER, PASS))
    s.wait_for("b OK")
    s.send("c LOGOUT")
    s.wait_for("c OK")
    rc = s.finish()
    assert rc == 0, "s_client exit %s:\n%s" % (rc, s.out.decode(errors="replace")[-1500:])
    assert b"* BYE" in s.out, s.out[-500:]


def t_openssl_implicit_tls(srv):
    cafile = os.path.join(srv.data_dir, "tls", "cert.pem")
    s = SClient(["-connect", "127.0.0.1:%d" % srv.imaps_port, "-CAfile", cafile,
                 "-verify_return_error", "-crlf"])
    s.wait_for("* OK")
    s.send("a LOGOUT")
    s.wait_for("a OK")
    s.finish()
    text = s.out.decode(errors="replace")
    assert "Verify return code: 0 (ok)" in text, text[-2000:]
    # the default certificate is ECDSA P-256
    assert "Peer signature type: ECDSA" in text or "Server public key is 256 bit" in text, \
        text[-2000:]


def tls_version_ok(srv, flag, extra=()):
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % srv.imaps_port,
                        "-ign_eof", "-crlf", flag] + list(extra), input=b"a LOGOUT\n",
                       stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30 * kura.SLOW)
    return r.returncode == 0 and b"* OK" in r.stdout, r.stdout.decode(errors="replace")


def t_tls_versions(srv):
    ok, out = tls_version_ok(srv, "-tls1_2")
    assert ok, "TLS 1.2 refused:\n" + out[-1500:]
    ok, out = tls_version_ok(srv, "-tls1_3")
    assert ok, "TLS 1.3 refused:\n" + out[-1500:]
    ok, out = tls_version_ok(srv, "-tls1_1", ["-cipher", "DEFAULT@SECLEVEL=0"])
    assert not ok, "TLS 1.1 accepted:\n" + out[-1500:]
    ok, out = tls_version_ok(srv, "-tls1", ["-cipher", "DEFAULT@SECLEVEL=0"])
    assert not ok, "TLS 1.0 accepted:\n" + out[-1500:]


def t_certificate(srv):
    cert = os.path.join(srv.data_dir, "tls", "cert.pem")
    r = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-text"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert r.returncode == 0, r.stdout
    assert "prime256v1" in r.stdout or "P-256" in r.stdout, r.stdout[:1500]
    key = os.path.join(srv.data_dir, "tls", "key.pem")
    mode = os.stat(key).st_mode & 0o777
    assert mode & 0o077 == 0, "key.pem is readable by others: %o" % mode


def login_time(srv, user, password):
    c = srv.connect("tls")
    t0 = time.time()
    r = c.command("LOGIN %s %s" % (kura.imap_quote(user), kura.imap_quote(password)), tag="a")
    dt = time.time() - t0
    c.close()
    assert r[-1].startswith(b"a NO"), r
    return dt


def timing_does_not_reveal_user(binary, res):
    """With the failure delay off, a wrong password for an existing user and any password for
    an unknown user take about as long (the unknown user is checked against a dummy hash):
    an unknown user answered much faster would reveal which users exist."""
    srv = kura.Server(binary, config={"auth_fail_delay_ms": 0, "auth_fail_delay_max_ms": 0},
                      users={USER: PASS}, name="timing")
    ok = False
    try:
        srv.start()
        known, unknown = [], []
        for i in range(7):
            known.append(login_time(srv, USER, "wrong-%d" % i))
            unknown.append(login_time(srv, "nosuch%d" % i, "wrong-%d" % i))
        known.sort()
        unknown.sort()
        mk, mu = known[3], unknown[3]
        print("# failed LOGIN, median: wrong password %.1f ms, unknown user %.1f ms"
              % (mk * 1000, mu * 1000))
        ok = res.check("failed-login timing does not reveal whether the user exists",
                       mu >= 0.5 * mk and mk >= 0.5 * mu,
                       "median wrong password %.1f ms, median unknown user %.1f ms"
                       % (mk * 1000, mu * 1000))
        srv.stop()
    except (kura.TestError, OSError, AssertionError) as e:
        res.fail("failed-login timing does not reveal whether the user exists", str(e))
    srv.cleanup(ok=ok)


def main():
    binary, _ = kura.binary_from_argv(sys.argv[1:])
    res = kura.Results()
    if not os.access(binary, os.X_OK):
        res.fail("kura binary %s is missing" % binary)
        return res.summary()
    if kura.is_san_binary(binary):
        kura.SLOW = max(kura.SLOW, 3.0)
    srv = kura.Server(binary, users={USER: PASS, USER2: PASS2}, name="clients")
    try:
        srv.start()
    except (kura.TestError, OSError) as e:
        res.fail("server starts", str(e))
        srv.cleanup(ok=False)
        return res.summary()
    tests = [(n[2:], f) for n, f in sorted(globals().items())
             if n.startswith("t_") and callable(f)]
    for name, fn in tests:
        off = srv.log_size()
        ok = res.run(name, fn, srv)
        time.sleep(0.05)
        crashes = srv.crashes_since(off)
        if crashes:
            ok = False
            res.fail(name + ": no server process crashed", "\n".join(crashes))
        if not ok:
            print("#   log tail:\n#   " + srv.log_tail(10).replace("\n", "\n#   "))
        if srv.proc.poll() is not None:
            res.fail("server alive after " + name, srv.log_tail())
            break
    status = srv.stop()
    crashes = srv.crashes_since(0)
    res.check("no child crashed (whole run and shutdown)", not crashes, "\n".join(crashes[:20]))
    san = srv.sanitizer_reports()
    ok = res.check("server exits 0 on SIGTERM", status == 0,
                   "status %s\n%s" % (status, srv.log_tail()))
    ok = res.check("server log has no sanitizer report", not san, "\n".join(san[:20])) and ok
    srv.cleanup(ok=ok and res.failed == 0)
    if res.failed:
        print("# server dir kept: %s" % srv.dir)
    timing_does_not_reveal_user(binary, res)
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
