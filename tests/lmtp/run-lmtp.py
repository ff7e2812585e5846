#!/usr/bin/python3
"""run-lmtp.py: scripted LMTP conversations (tests/lmtp/*.lconv) against a real kura.

Usage: run-lmtp.py [--kura BINARY] [-v] [FILE.lconv ...]   (default: every *.lconv beside this)

Files with the same "!config" lines share one server (temp dir, free ports, plaintext IMAP
allowed on loopback so the runner can read what was stored). One item per line:

  # comment                     ignored (also blank lines)
  !config key=value             server config for this file
  !useradd NAME PASS            add a user through the CLI (the file's own users: servers are
                                shared, so use names no other file uses)
  !create USER MAILBOX          create a mailbox over IMAP (USER's password from !useradd)
  !tcp / !unix                  open an LMTP connection (TCP port / UNIX socket) and check the
                                220 greeting; closes any previous one
  !close                        close the connection from the client side
  !expect-close                 the server must close the connection, sending nothing more
  !timeout SECONDS              per-line read timeout (default 5)
  C: text                       send text + CRLF
  CE: text                      send text with escapes (\\r \\n \\t \\0 \\xHH \\\\), nothing added
  CB: N                         send N bytes of filler text ("x" lines of 78 + CRLF)
  S: pattern [|| pattern ...]   the next server line must match one pattern ("*" matches any
                                run of characters, the rest is exact)
  !count USER MAILBOX N         MAILBOX holds N messages
  !body USER MAILBOX SEQ TEXT   message SEQ, without the trace fields kura put in front
                                (Return-Path, Delivered-To, Received), is exactly TEXT (escapes
                                as in CE:)
  !trace USER MAILBOX SEQ PATTERN
                                the trace fields of message SEQ, joined with "|" and their
                                CRLFs and folding removed, match PATTERN
  !samefile USER1 MAILBOX1 SEQ1 USER2 MAILBOX2 SEQ2
                                the two messages are one body file (hard links, same inode)
In C: and CE: lines, ${repeat:N:C} stands for the character C written N times (an overlong
command line without a 3000-character test file).
After the last line the connection must stay silent.
"""
import hashlib
import imaplib
import os
import re
import socket
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kura  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TRACE = (b"return-path:", b"delivered-to:", b"received:")


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


def split_trace(msg):
    """(trace fields as one string, the rest) of a stored message."""
    pos, fields = 0, []
    while True:
        low = msg[pos:pos + 16].lower()
        if not any(low.startswith(t) for t in TRACE):
            break
        end = pos
        while True:
            nl = msg.index(b"\r\n", end)
            end = nl + 2
            if msg[end:end + 1] not in (b"\t", b" "):
                break
        fields.append(re.sub(rb"\r\n[ \t]+", b" ", msg[pos:end - 2]))
        pos = end
    return b"|".join(fields), msg[pos:]


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
            srv = kura.Server(self.binary, config=cfg, name="lmtp")
            srv.start()
            self.servers[key] = srv
        return self.servers[key]

    def imap(self, srv, user):
        m = imaplib.IMAP4("127.0.0.1", srv.imap_port)
        # AUTHENTICATE PLAIN rather than LOGIN: imaplib sends LOGIN arguments as ASCII only,
        # and some users here have UTF-8 names
        cred = b"\0" + user.encode("utf-8") + b"\0" + self.passwords[user].encode("utf-8")
        m.authenticate("PLAIN", lambda _: cred)
        return m

    def fetch(self, srv, user, box, seq):
        m = self.imap(srv, user)
        try:
            typ, _ = m.select('"%s"' % box, readonly=True)
            if typ != "OK":
                raise ConvFail("cannot select %s of %s" % (box, user))
            typ, data = m.fetch(str(seq), "(BODY.PEEK[])")
            if typ != "OK" or not data or not isinstance(data[0], tuple):
                raise ConvFail("no message %s in %s of %s: %r" % (seq, box, user, data))
            return data[0][1]
        finally:
            m.logout()

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

    def step(self, srv, conn, timeout, line):
        if line.startswith("!useradd "):
            _, name, pw = line.split(" ", 2)
            srv.user_add(name, pw)
            self.passwords[name] = pw
        elif line.startswith("!create "):
            _, user, box = line.split(" ", 2)
            m = self.imap(srv, user)
            typ, data = m.create('"%s"' % box)
            m.logout()
            if typ != "OK":
                raise ConvFail("CREATE %s: %r" % (box, data))
        elif line in ("!tcp", "!unix"):
            if conn is not None:
                conn.close()
            conn = srv.lmtp_connect(unix=line == "!unix")
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
        elif line.startswith("CB: "):
            n = int(line[4:])
            chunk = b"x" * 78 + b"\r\n"
            data = chunk * (n // len(chunk)) + b"y" * (n % len(chunk))
            conn.sock.settimeout(60)
            conn.sock.sendall(data)
        elif line.startswith("S: "):
            got = conn.readline(timeout)
            if got is None:
                raise ConvFail("connection closed, expected %r" % line[3:])
            if not any(match(p.strip(), got) for p in line[3:].split(" || ")):
                raise ConvFail("expected %r, got %r" % (line[3:], got))
        elif line.startswith("!count "):
            _, user, box, n = line.split(" ")
            m = self.imap(srv, user)
            typ, data = m.status('"%s"' % box, "(MESSAGES)")
            m.logout()
            got = re.search(rb"MESSAGES (\d+)", data[0] if data and data[0] else b"")
            if typ != "OK" or got is None or int(got.group(1)) != int(n):
                raise ConvFail("%s of %s: expected %s messages, got %r" % (box, user, n, data))
        elif line.startswith("!body "):
            _, user, box, seq, text = (line.split(" ", 4) + [""])[:5]
            _, rest = split_trace(self.fetch(srv, user, box, seq))
            want = unescape(text)
            if rest != want:
                raise ConvFail("stored %r, expected %r" % (rest[:400], want[:400]))
        elif line.startswith("!trace "):
            _, user, box, seq, pattern = line.split(" ", 4)
            trace, _ = split_trace(self.fetch(srv, user, box, seq))
            if not match(pattern, trace):
                raise ConvFail("trace fields %r do not match %r" % (trace, pattern))
        elif line.startswith("!samefile "):
            _, u1, b1, s1, u2, b2, s2 = line.split(" ")
            st = [os.stat(self.body_path(srv, u, b, q)) for u, b, q in ((u1, b1, s1), (u2, b2, s2))]
            if (st[0].st_dev, st[0].st_ino) != (st[1].st_dev, st[1].st_ino):
                raise ConvFail("not one file: %s" % line[10:])
        else:
            raise ConvFail("unknown directive")
        return conn, timeout

    def body_path(self, srv, user, box, seq):
        """the body file of a message (content-addressed: SHA-256 of its bytes)"""
        h = hashlib.sha256(self.fetch(srv, user, box, seq)).hexdigest()
        return os.path.join(srv.data_dir, "users", user, "bodies", h[:2], h)

    def close(self):
        return kura.stop_servers(self.servers.values())

def main():
    return kura.run_conv_files(sys.argv[1:], HERE, ".lconv", Runner,
                               (ConvFail, kura.TestError, OSError))


if __name__ == "__main__":
    sys.exit(main())
