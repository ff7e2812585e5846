#!/usr/bin/python3
"""run-conv.py: run scripted IMAP conversations (tests/conv/*.conv) against a real kura.

Usage: run-conv.py [--kura BINARY] [-v] [FILE.conv ...]   (default: every *.conv beside this)

Files sharing the same "!config" lines share one server (started in a temp dir on free ports,
users alice and bob added through the CLI). Format of a .conv file, one item per line:

  # comment                      ignored (also blank lines)
  !config key=value              server config for this file (read before it runs)
  !plain / !tls                  open a connection to the STARTTLS / implicit-TLS port and check
                                 that the greeting is "* OK ..." (closes any previous one)
  !plain-raw / !tls-raw          the same without reading the greeting
  !starttls                      TLS handshake now (after the script matched the tagged OK);
                                 fails if any plaintext byte arrived after that OK
  !close                         close the connection from the client side
  !conn NAME                     make the connection named NAME current (the unnamed one is
                                 "-"): the lines and directives below act on it, !plain/!tls
                                 open it, and the other connections stay open (a second session
                                 of the same user, for instance); at the end every open
                                 connection must be silent
  !expect-close [SECONDS]        the server must close the connection, with no further line
  !silence SECONDS               the server must send nothing during SECONDS
  !sleep SECONDS                 wait
  !timeout SECONDS               per-line read timeout from here on (default 5)
  !login [TAG [USER PASS]]       TAG LOGIN USER PASS must get "TAG OK [CAPABILITY ...] ..."
  !scram TAG USER PASS [ir] [expect=NO]
                                 a computed SCRAM-SHA-256 exchange (server signature checked)
  !has TOKEN...                  the last matched server line has these tokens (glob allowed)
  !lacks TOKEN...                ... and none of these
  !useradd NAME PASS / !passwd NAME PASS / !userdel NAME
                                 run the CLI against the running server
  !mark / !elapsed-min MS / !elapsed-max MS
                                 time since !mark (e.g. failed-login delay)
  C: text                        send text + CRLF
  C~: text                       send text without CRLF
  CE: text                       send text with escapes (\\r \\n \\0 \\xHH \\\\), no CRLF added
  S: pattern [|| pattern ...]    the next server line must match one pattern
  S?: pattern                    an optional line: consumed if it matches
Patterns are exact except "*", which matches any run of characters; a "*" that starts the
pattern (untagged response) and "\\*" are literal. Variables: $USER $PASS (alice), $USER2
$PASS2 (bob, a password with space, quote and backslash), $QPASS2 (bob's as a quoted string),
${b64:TEXT} (base64 of TEXT, "\\0" is NUL), ${len:TEXT} (byte length of TEXT). In a server
pattern ${=NAME} matches a run of characters other than space, "]" and ")" and sets $NAME
for the lines after it (a UIDVALIDITY or MODSEQ the script must send back).
After the last line the connection must stay silent (no unexpected extra responses).
"""
import base64
import glob
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kura  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

USERS = {
    "alice": "alice-Secret-1",
    "bob": 'sp ace"quo\\te',
}
VARS = {
    "USER": "alice",
    "PASS": USERS["alice"],
    "USER2": "bob",
    "PASS2": USERS["bob"],
    "QPASS2": kura.imap_quote(USERS["bob"]),
}


class ConvFail(Exception):
    pass


def expand(text):
    text = re.sub(r"\$([A-Z][A-Z0-9_]*)", lambda m: VARS.get(m.group(1), m.group(0)), text)

    def fn(m):
        name, arg = m.group(1), m.group(2)
        if name == "b64":
            return base64.b64encode(arg.replace("\\0", "\0").encode("utf-8")).decode("ascii")
        if name == "len":
            return str(len(arg.encode("utf-8")))
        raise ConvFail("unknown function ${%s:...}" % name)
    return re.sub(r"\$\{([a-z0-9]+):([^}]*)\}", fn, text)


def unescape(text):
    out = bytearray()
    i = 0
    b = text.encode("utf-8")
    while i < len(b):
        c = b[i:i + 1]
        if c == b"\\" and i + 1 < len(b):
            n = b[i + 1:i + 2]
            if n == b"r":
                out += b"\r"
            elif n == b"n":
                out += b"\n"
            elif n == b"0":
                out += b"\0"
            elif n == b"\\":
                out += b"\\"
            elif n == b"x":
                out.append(int(b[i + 2:i + 4], 16))
                i += 2
            else:
                out += b"\\" + n
            i += 2
            continue
        out += c
        i += 1
    return bytes(out)


def glob_to_regex(pat):
    out = []
    i = 0
    if pat.startswith("* ") or pat == "*":
        out.append(re.escape("*"))
        i = 1
    while i < len(pat):
        c = pat[i]
        if c == "\\" and i + 1 < len(pat) and pat[i + 1] == "*":
            out.append(re.escape("*"))
            i += 2
            continue
        m = CAPTURE_RE.match(pat, i)
        if m:
            out.append("(?P<%s>[^ \\])]+)" % m.group(1))
            i = m.end()
            continue
        out.append(".*" if c == "*" else re.escape(c))
        i += 1
    return re.compile("".join(out), re.S)


CAPTURE_RE = re.compile(r"\$\{=([A-Z][A-Z0-9_]*)\}")


def line_matches(pattern_text, line):
    text = line.decode("utf-8", "replace")
    for alt in pattern_text.split(" || "):
        m = glob_to_regex(alt).fullmatch(text)
        if m:
            VARS.update(m.groupdict())
            return True
    return False


def token_match(tok, tokens):
    rx = glob_to_regex(tok) if tok != "*" else re.compile(re.escape("*"))
    return any(rx.fullmatch(t) for t in tokens)


def parse_conv(path):
    steps, config = [], {}
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.startswith("#"):
                continue
            if line.startswith("!config "):
                k, v = line[len("!config "):].split("=", 1)
                config[k.strip()] = v.strip()
                continue
            m = re.match(r"^(C|C~|CE|S|S\?): ?(.*)$", line)
            if m:
                steps.append((lineno, m.group(1), m.group(2)))
            elif line.startswith("!"):
                parts = line[1:].split()
                steps.append((lineno, "!" + parts[0], parts[1:]))
            else:
                raise ConvFail("%s:%d: cannot parse %r" % (path, lineno, line))
    return steps, config


class ConnLog:
    """A connection's transcript kept in the runner's, in the order things happened, with the
    connection's name (when it has one) after C/S."""

    def __init__(self, log, name):
        self.log, self.name = log, name

    def label(self, who):
        return "%s[%s]" % (who, self.name) if self.name else who

    def append(self, item):
        self.log.append((self.label(item[0]), item[1]))

    def pop(self):
        return self.log.pop()


class Runner:
    def __init__(self, server, verbose=False):
        self.server = server
        self.conns = {}          # name -> kura.Conn ("" is the unnamed one)
        self.name = ""
        self.timeout = 5.0
        self.last = b""
        self.mark = time.time()
        self.verbose = verbose
        self.transcript = []

    @property
    def conn(self):
        return self.conns.get(self.name)

    @conn.setter
    def conn(self, c):
        if c is None:
            self.conns.pop(self.name, None)
        else:
            c.transcript = ConnLog(self.transcript, self.name)
            self.conns[self.name] = c

    def close(self):
        if self.conn:
            self.conn.close()
            self.transcript.append((self.conn.transcript.label("-"), b"(connection closed)"))
            self.conn = None

    def close_all(self):
        for name in list(self.conns):
            self.name = name
            self.close()
        self.name = ""

    def transcript_text(self, last=40):
        c = kura.Conn(None)
        c.transcript = list(self.transcript)
        return c.transcript_text(last)

    def need_conn(self, where):
        if self.conn is None:
            raise ConvFail("%s: no open connection" % where)
        return self.conn

    def readline(self, where):
        try:
            line = self.conn.readline(self.timeout)
        except kura.TestError as e:
            raise ConvFail("%s: %s" % (where, e))
        if line is None:
            raise ConvFail("%s: the server closed the connection" % where)
        return line

    def run(self, path):
        steps, _ = parse_conv(path)
        name = os.path.basename(path)
        self.timeout = 5.0
        try:
            for lineno, kind, arg in steps:
                where = "%s:%d" % (name, lineno)
                self.step(where, kind, arg)
            for cname, conn in sorted(self.conns.items()):
                if conn.eof:
                    continue
                try:
                    conn.silence(0.3)
                except kura.TestError as e:
                    raise ConvFail("%s: after the last line%s: %s"
                                   % (name, " (connection %s)" % cname if cname else "", e))
        finally:
            self.close_all()

    def step(self, where, kind, arg):
        s = self.server
        if kind == "C":
            self.need_conn(where).send(expand(arg).encode("utf-8") + b"\r\n")
        elif kind == "C~":
            self.need_conn(where).send(expand(arg).encode("utf-8"))
        elif kind == "CE":
            self.need_conn(where).send(unescape(expand(arg)))
        elif kind in ("S", "S?"):
            self.need_conn(where)
            pat = expand(arg)
            if kind == "S?":
                # Optional: look at the next line if one arrives soon.
                try:
                    line = self.conn.readline(0.5)
                except kura.TestError:
                    return
                if line is not None and line_matches(pat, line):
                    self.last = line
                    return
                if line is not None:
                    self.conn.buf = line + b"\r\n" + self.conn.buf
                    self.conn.transcript.pop()
                return
            line = self.readline(where + " (expecting %r)" % pat)
            if not line_matches(pat, line):
                raise ConvFail("%s: line does not match\n  expected: %s\n  got:      %s"
                               % (where, pat, line.decode("utf-8", "replace")))
            self.last = line
        elif kind in ("!plain", "!tls", "!plain-raw", "!tls-raw"):
            self.close()
            try:
                self.conn = kura.Conn.connect(s, tls=kind.startswith("!tls"))
            except OSError as e:
                raise ConvFail("%s: connect failed: %s" % (where, e))
            if not kind.endswith("-raw"):
                line = self.readline(where + " (greeting)")
                if not line.startswith(b"* OK"):
                    raise ConvFail("%s: bad greeting %r" % (where, line))
                self.last = line
        elif kind == "!starttls":
            try:
                self.need_conn(where).starttls(s.ssl_context(verify=True))
            except (kura.TestError, OSError) as e:
                raise ConvFail("%s: STARTTLS handshake: %s" % (where, e))
        elif kind == "!close":
            self.close()
        elif kind == "!conn":
            if len(arg) != 1:
                raise ConvFail("%s: !conn needs one name" % where)
            self.name = "" if arg[0] == "-" else arg[0]
        elif kind == "!expect-close":
            secs = float(arg[0]) if arg else self.timeout
            try:
                lines = self.need_conn(where).expect_eof(secs)
            except kura.TestError as e:
                raise ConvFail("%s: %s" % (where, e))
            if lines:
                raise ConvFail("%s: unexpected lines before close: %r" % (where, lines))
            self.close()
        elif kind == "!silence":
            try:
                self.need_conn(where).silence(float(arg[0]))
            except kura.TestError as e:
                raise ConvFail("%s: %s" % (where, e))
        elif kind == "!sleep":
            time.sleep(float(arg[0]))
        elif kind == "!timeout":
            self.timeout = float(arg[0])
        elif kind == "!login":
            tag = arg[0] if arg else "l1"
            user = expand(arg[1]) if len(arg) > 1 else VARS["USER"]
            pw = expand(arg[2]) if len(arg) > 2 else VARS["PASS"]
            self.need_conn(where).send("%s LOGIN %s %s\r\n" % (tag, kura.imap_quote(user),
                                                                kura.imap_quote(pw)))
            line = self.readline(where)
            if not line_matches("%s OK [CAPABILITY *] *" % tag, line):
                raise ConvFail("%s: LOGIN failed: %r" % (where, line))
            self.last = line
        elif kind == "!scram":
            tag, user, pw = arg[0], expand(arg[1]), expand(arg[2])
            ir = "ir" in arg[3:]
            expect = "NO" if "expect=NO" in arg[3:] else "OK"
            try:
                lines = kura.scram_exchange(self.need_conn(where), tag, user, pw, ir=ir,
                                            expect=expect, timeout=self.timeout)
            except kura.TestError as e:
                raise ConvFail("%s: SCRAM: %s" % (where, e))
            self.last = lines[-1]
        elif kind in ("!has", "!lacks"):
            tokens = self.last.decode("utf-8", "replace").replace("[", " ").replace("]", " ")
            tokens = tokens.split()
            for tok in arg:
                found = token_match(expand(tok), tokens)
                if kind == "!has" and not found:
                    raise ConvFail("%s: %r lacks %s" % (where, self.last, tok))
                if kind == "!lacks" and found:
                    raise ConvFail("%s: %r has %s" % (where, self.last, tok))
        elif kind == "!useradd":
            self.cli(where, s.user_add, expand(arg[0]), expand(" ".join(arg[1:])))
        elif kind == "!passwd":
            self.cli(where, s.user_passwd, expand(arg[0]), expand(" ".join(arg[1:])))
        elif kind == "!userdel":
            self.cli(where, s.user_del, expand(arg[0]))
        elif kind == "!mark":
            self.mark = time.time()
        elif kind in ("!elapsed-min", "!elapsed-max"):
            ms = (time.time() - self.mark) * 1000
            limit = float(arg[0])
            if kind == "!elapsed-min" and ms < limit:
                raise ConvFail("%s: only %.0f ms elapsed, expected >= %s" % (where, ms, limit))
            if kind == "!elapsed-max" and ms > limit * kura.SLOW:
                raise ConvFail("%s: %.0f ms elapsed, expected <= %s" % (where, ms, limit))
        else:
            raise ConvFail("%s: unknown directive %s" % (where, kind))

    def cli(self, where, fn, *args):
        try:
            fn(*args)
        except kura.TestError as e:
            raise ConvFail("%s: %s" % (where, e))


def main():
    binary, args = kura.binary_from_argv(sys.argv[1:])
    verbose = "-v" in args
    files = [a for a in args if a != "-v"] or sorted(glob.glob(os.path.join(HERE, "*.conv")))
    if not os.access(binary, os.X_OK):
        print("not ok - kura binary %s is missing" % binary)
        print("0 passed, 1 failed")
        return 1
    if kura.is_san_binary(binary):
        kura.SLOW = max(kura.SLOW, 3.0)

    res = kura.Results()
    groups = {}
    for path in files:
        try:
            _, config = parse_conv(path)
        except (ConvFail, OSError, ValueError) as e:
            res.fail(os.path.basename(path), str(e))
            continue
        groups.setdefault(tuple(sorted(config.items())), []).append(path)

    for config, paths in groups.items():
        label = ",".join("%s=%s" % kv for kv in config) or "defaults"
        server = None
        try:
            server = kura.Server(binary, config=dict(config), users=USERS, name="conv")
            server.start()
        except (kura.TestError, OSError) as e:
            res.fail("server [%s] starts" % label, str(e))
            for path in paths:
                res.fail(os.path.basename(path), "server [%s] did not start" % label)
            if server:
                server.cleanup(ok=False)
            continue
        group_ok = True
        for path in paths:
            name = os.path.basename(path)
            runner = Runner(server, verbose)
            log_offset = server.log_size()
            try:
                runner.run(path)
                time.sleep(0.05)
                crashes = server.crashes_since(log_offset)
                if crashes:
                    raise ConvFail("a server process crashed during this conversation:\n"
                                   + "\n".join(crashes))
            except (ConvFail, OSError, ValueError) as e:
                group_ok = False
                res.fail(name, str(e))
                print("#   --- conversation (last lines) ---")
                for l in runner.transcript_text().split("\n"):
                    print("#   " + l)
                print("#   --- server log (%s, last lines) ---" % server.log_path)
                for l in server.log_tail(15).split("\n"):
                    print("#   " + l)
                if server.proc is None or server.proc.poll() is not None:
                    print("#   server died; restarting it for the next files")
                    server.cleanup(ok=False)
                    server = kura.Server(binary, config=dict(config), users=USERS, name="conv")
                    server.start()
                continue
            finally:
                runner.close_all()
            res.ok(name)
            if server.proc.poll() is not None:
                group_ok = False
                res.fail("server [%s] alive after %s" % (label, name), server.log_tail())
                server.cleanup(ok=False)
                server = kura.Server(binary, config=dict(config), users=USERS, name="conv")
                server.start()
        status = server.stop()
        crashes = server.crashes_since(0)
        group_ok = res.check("server [%s] no child crashed (whole run and shutdown)" % label,
                             not crashes, "\n".join(crashes[:20])) and group_ok
        san = server.sanitizer_reports()
        ok = res.check("server [%s] exits 0 on SIGTERM" % label, status == 0,
                       "exit status %s; log:\n%s" % (status, server.log_tail()))
        ok = res.check("server [%s] log has no sanitizer report" % label, not san,
                       "\n".join(san[:20])) and ok
        server.cleanup(ok=ok and group_ok)
        if not (ok and group_ok):
            print("# server dir kept: %s" % server.dir)
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
