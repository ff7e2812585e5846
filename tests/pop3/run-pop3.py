#!/usr/bin/python3
"""run-pop3.py: scripted POP3 conversations (tests/pop3/*.pconv) against a real kura.

Usage: run-pop3.py [--kura BINARY] [-v] [FILE.pconv ...]   (default: every *.pconv beside this)

The format follows tests/lmtp/run-lmtp.py. Files with the same "!config" lines share one
server (plaintext IMAP and POP3 allowed on loopback unless a file says otherwise). Each file
uses its own user names (servers are shared). One item per line:

  # comment                     ignored (also blank lines)
  !config key=value             server config for this file
  !useradd NAME PASS            add a user through the CLI
  !append USER TEXT             APPEND TEXT (escapes as in CE:) to USER's INBOX over IMAP
  !expunge USER SEQ             expunge message SEQ of USER's INBOX over IMAP
  !plain / !tls                 open a POP3 connection (STLS port / implicit TLS port) and check
                                the +OK greeting; closes any previous one
  !stls                         TLS handshake on the current connection (after STLS's +OK)
  !scram USER PASS [ir]         AUTH SCRAM-SHA-256 (with initial response if "ir"), checking
                                the server signature; the +OK must follow
  !close                        close the connection from the client side
  !expect-close                 the server must close the connection, sending nothing more
  !timeout SECONDS              per-line read timeout (default 5)
  C: text                       send text + CRLF
  CE: text                      send text with escapes (\\r \\n \\t \\0 \\xHH \\\\), nothing added
  S: pattern [|| pattern ...]   the next server line must match one pattern ("*" matches any
                                run of characters, the rest is exact)
  !count USER N                 USER's INBOX holds N messages
  !flags USER SEQ PATTERN       the FLAGS of message SEQ match PATTERN, e.g. *\\Seen*
  !not-flags USER SEQ PATTERN   ... do not match it
In C: and CE: lines, ${repeat:N:C} stands for the character C written N times.
After the last line the connection must stay silent.
"""
import base64
import glob
import imaplib
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kura  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


class ConvFail(Exception):
    pass


def unescape(text):
    out = bytearray()
    data = text.encode("utf-8")
    i = 0
    while i < len(data):
        c = data[i]
        if c == 0x5c and i + 1 < len(data):
            n = chr(data[i + 1])
            if n in "rnt0\\":
                out += {"r": b"\r", "n": b"\n", "t": b"\t", "0": b"\0", "\\": b"\\"}[n]
                i += 2
                continue
            if n == "x" and i + 3 < len(data):
                out.append(int(data[i + 2:i + 4], 16))
                i += 4
                continue
        out.append(c)
        i += 1
    return bytes(out)


def expand(text):
    return re.sub(r"\$\{repeat:(\d+):(.)\}", lambda m: m.group(2) * int(m.group(1)), text)


def match(pattern, line):
    rx = "^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$"
    return re.match(rx.encode("utf-8"), line, re.S) is not None


class Runner:
    def __init__(self, binary, verbose=False):
        self.binary = binary
        self.verbose = verbose
        self.servers = {}
        self.passwords = {}

    def server(self, config):
        key = tuple(sorted(config.items()))
        if key not in self.servers:
            cfg = {"plaintext_auth": "loopback"}
            cfg.update(config)
            srv = kura.Server(self.binary, config=cfg, name="pop3")
            srv.start()
            self.servers[key] = srv
        return self.servers[key]

    def imap(self, srv, user):
        # over TLS: a file may forbid plaintext authentication
        m = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=kura.client_ssl_context())
        cred = b"\0" + user.encode("utf-8") + b"\0" + self.passwords[user].encode("utf-8")
        m.authenticate("PLAIN", lambda _: cred)
        return m

    def run_file(self, path):
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        config = {}
        for line in lines:
            if line.startswith("!config "):
                k, v = line[8:].split("=", 1)
                config[k.strip()] = v.strip()
        srv = self.server(config)
        conn = None
        timeout = 5
        try:
            for no, raw in enumerate(lines, 1):
                line = raw.rstrip("\r")
                if not line.strip() or line.startswith("#") or line.startswith("!config "):
                    continue
                where = "%s:%d: %s" % (os.path.basename(path), no, line)
                try:
                    conn, timeout = self.step(srv, conn, timeout, line)
                except (ConvFail, kura.TestError, OSError, imaplib.IMAP4.error) as e:
                    tr = conn.transcript_text() if conn is not None else ""
                    raise ConvFail("%s\n%s\n%s" % (where, e, tr))
            if conn is not None:
                try:
                    conn.silence(0.3)
                except kura.TestError as e:
                    raise ConvFail("after the last line: %s" % e)
        finally:
            if conn is not None:
                conn.close()

    def expect(self, conn, timeout, pattern):
        got = conn.readline(timeout)
        if got is None:
            raise ConvFail("connection closed, expected %r" % pattern)
        pats = pattern.split(" || ")
        if not any(match(p.strip() if len(pats) > 1 else p, got) for p in pats):
            raise ConvFail("expected %r, got %r" % (pattern, got))
        return got

    def scram(self, conn, timeout, user, password, ir):
        sc = kura.ScramClient(user, password)
        first = kura.b64(sc.first())
        if ir:
            conn.send(("AUTH SCRAM-SHA-256 %s\r\n" % first).encode())
        else:
            conn.send(b"AUTH SCRAM-SHA-256\r\n")
            self.expect(conn, timeout, "+ ")
            conn.send(first.encode() + b"\r\n")
        line = self.expect(conn, timeout, "+ *")
        conn.send(kura.b64(sc.final(base64.b64decode(line[2:], validate=True))).encode() + b"\r\n")
        line = self.expect(conn, timeout * 3, "+ *")
        sc.verify(base64.b64decode(line[2:], validate=True))
        conn.send(b"\r\n")
        self.expect(conn, timeout, "+OK Logged in*")

    def step(self, srv, conn, timeout, line):
        if line.startswith("!useradd "):
            _, name, pw = line.split(" ", 2)
            srv.user_add(name, pw)
            self.passwords[name] = pw
        elif line.startswith("!append "):
            _, user, text = line.split(" ", 2)
            m = self.imap(srv, user)
            typ, data = m.append("INBOX", None, None, unescape(text))
            m.logout()
            if typ != "OK":
                raise ConvFail("APPEND: %r" % data)
        elif line.startswith("!expunge "):
            _, user, seq = line.split(" ")
            m = self.imap(srv, user)
            m.select("INBOX")
            m.store(seq, "+FLAGS.SILENT", "(\\Deleted)")
            typ, data = m.expunge()
            m.logout()
            if typ != "OK":
                raise ConvFail("EXPUNGE: %r" % data)
        elif line in ("!plain", "!tls"):
            if conn is not None:
                conn.close()
            tls = line == "!tls"
            conn = kura.Conn.connect(srv, tls=tls, port=srv.pop3s_port if tls else srv.pop3_port,
                                     ctx=kura.client_ssl_context() if tls else None)
            self.expect(conn, timeout, "+OK *")
        elif line == "!stls":
            conn.starttls(kura.client_ssl_context())
        elif line.startswith("!scram "):
            parts = line.split(" ")
            self.scram(conn, timeout, parts[1], parts[2], len(parts) > 3 and parts[3] == "ir")
        elif line == "!close":
            conn.close()
            conn = None
        elif line == "!expect-close":
            rest = conn.expect_eof(timeout)
            if rest:
                raise ConvFail("lines before the close: %r" % rest)
            conn.close()
            conn = None
        elif line.startswith("!timeout "):
            timeout = float(line.split()[1])
        elif line.startswith("C: ") or line == "C:":
            conn.send(expand(line[3:]).encode("utf-8") + b"\r\n")
        elif line.startswith("CE: "):
            conn.send(unescape(expand(line[4:])))
        elif line.startswith("S: "):
            self.expect(conn, timeout, line[3:])
        elif line.startswith("!count "):
            _, user, n = line.split(" ")
            m = self.imap(srv, user)
            typ, data = m.status("INBOX", "(MESSAGES)")
            m.logout()
            got = re.search(rb"MESSAGES (\d+)", data[0] if data and data[0] else b"")
            if typ != "OK" or got is None or int(got.group(1)) != int(n):
                raise ConvFail("INBOX of %s: expected %s messages, got %r" % (user, n, data))
        elif line.startswith("!flags ") or line.startswith("!not-flags "):
            neg, (_, user, seq, pattern) = line.startswith("!not"), line.split(" ", 3)
            m = self.imap(srv, user)
            m.select("INBOX", readonly=True)
            typ, data = m.fetch(seq, "(FLAGS)")
            m.logout()
            if typ != "OK" or not data or data[0] is None or match(pattern, data[0]) == neg:
                raise ConvFail("flags of %s: %r do not match %r" % (seq, data, pattern))
        else:
            raise ConvFail("unknown directive")
        return conn, timeout

    def close(self):
        ok = True
        for srv in self.servers.values():
            status = srv.stop()
            reports = srv.sanitizer_reports()
            crashes = srv.crashes_since(0)
            if status != 0 or reports or crashes:
                ok = False
                print("not ok - server %s exited %s%s" % (srv.dir, status,
                      "\n#   " + "\n#   ".join(reports + crashes) if reports or crashes else ""))
            srv.cleanup(ok=ok)
        return ok


def main():
    binary, args = kura.binary_from_argv(sys.argv[1:])
    verbose = "-v" in args
    files = [a for a in args if a.endswith(".pconv")] or sorted(glob.glob(os.path.join(HERE, "*.pconv")))
    res = kura.Results()
    runner = Runner(binary, verbose)
    try:
        for path in files:
            name = os.path.basename(path)[:-6]
            try:
                start = time.time()
                runner.run_file(path)
                res.ok(name + (" (%.1fs)" % (time.time() - start) if verbose else ""))
            except (ConvFail, kura.TestError, OSError) as e:
                res.fail(name, str(e))
    finally:
        if not runner.close():
            res.fail("servers stopped cleanly")
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
