#!/usr/bin/python3
"""test-append-memory.py: APPEND literals are spooled, not held in memory; the session's memory
stays bounded whatever the message size.

The mail process keeps at most 64 KiB of one APPEND command's literals in memory; every literal
that would go over is streamed into an unlinked temporary file in DATA/spool and mapped for the
store (docs/ARCHITECTURE.md, "APPEND literals"). This suite proves it by reading the mail
process's RssAnon from /proc while a slow client uploads, with the sampler, the bounds and the
ASan conventions of test-fetch-memory.py (one mail and one login process; 8 MiB on the normal
build, 24 MiB under ASan with quarantine_size_mb=4):

1. a ~50 MB multipart message (a base64 attachment), one synchronising literal, sent at about
   20 MB/s: the mail process's RssAnon grows < 8 MiB (it grew by the message's size when the
   literal was held in memory); FETCH BODY.PEEK[] gives it back byte-exact (SHA-256);
2. a MULTIAPPEND of 2 x ~30 MB with LITERAL+ at the same rate: the same bound, both exact;
3. the threshold: single literals of 65536 and 65537 bytes (in memory / spooled), and a
   MULTIAPPEND of 30000 + 30000 + 30000 bytes whose third literal goes over the budget: all
   exact;
4. literal8 (RFC 3516) with NUL bytes above the threshold stored exact; the same bytes in a
   plain literal refused (BAD), nothing stored;
5. MULTIAPPEND all or nothing (RFC 3502): a spooled first message and a second one over the
   APPENDLIMIT (NO [TOOBIG], no continuation), a spooled first message and a second with an
   invalid flag (BAD): nothing stored, the session goes on;
6. a connection dropped in the middle of a spooled literal (synchronising and LITERAL+): no file
   left (no entry in DATA/spool, no spool fd left open in the mail process), the server fine;
7. DATA/spool not writable: the APPEND of a big literal fails with NO [SERVERBUG] and no
   continuation (LITERAL+: the bytes are read and discarded), a small one still works.

Usage: test-append-memory.py [--kura BINARY]
"""
import base64
import hashlib
import importlib.util
import os
import re
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import kura  # noqa: E402

# the sampler and the client of the FETCH memory test
_spec = importlib.util.spec_from_file_location("fetch_memory",
                                               os.path.join(HERE, "test-fetch-memory.py"))
fm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fm)

USER, PASS = "appender", "Append-Pass-1"
MIB = 1024
LIMIT_KB = 8 * MIB          # main() raises it under ASan
RATE = 20 * 1000 * 1000     # bytes/s of the slow uploads
MEM_MAX = 64 * 1024         # MAIL_APPEND_MEM_MAX in src/daemon/mail.c


def attachment_message(raw_bytes, tag):
    """A multipart message with a random base64 attachment of raw_bytes bytes."""
    raw = os.urandom(raw_bytes)
    b64 = base64.b64encode(raw)
    body = b"\r\n".join(b64[i:i + 76] for i in range(0, len(b64), 76))
    boundary = b"=_kura_append_test_" + tag
    return (b"From: Sender <sender@example.org>\r\n"
            b"To: Receiver <rcpt@example.net>\r\n"
            b"Subject: append " + tag + b"\r\n"
            b"Message-ID: <" + tag + b"@append.example.org>\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"" + boundary + b"\"\r\n"
            b"\r\n"
            b"--" + boundary + b"\r\n"
            b"Content-Type: text/plain\r\n\r\nThe attachment follows.\r\n"
            b"--" + boundary + b"\r\n"
            b"Content-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + body + b"\r\n"
            b"--" + boundary + b"--\r\n")


def text_message(size, tag):
    """A text/plain message of exactly size bytes (CRLF lines)."""
    head = b"Subject: " + tag + b"\r\nMessage-ID: <" + tag + b"@append.example.org>\r\n\r\n"
    n = size - len(head)
    line = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-" + tag + b"\r\n"
    body = (line * (n // len(line) + 1))[:n]
    if n >= 2:
        body = body[:-2] + b"\r\n"
    msg = head + body
    assert len(msg) == size
    return msg


class Session(fm.Client):
    """fm.Client with paced sending and a few helpers."""

    def __init__(self, srv):
        super().__init__(srv, tls=False, rcvbuf=0)
        self.login(USER, PASS)
        self.tagged_cmd(b"SELECT INBOX")

    def send_paced(self, data, rate=RATE, chunk=65536):
        t0 = time.time()
        for off in range(0, len(data), chunk):
            self.send(data[off:off + chunk])
            ahead = (off + chunk) / rate - (time.time() - t0)
            if ahead > 0:
                time.sleep(ahead)

    def tagged(self, tag):
        """Untagged lines up to the tagged reply; returns (tagged line, [untagged])."""
        out = []
        while True:
            text, lits = self.response()
            if text.startswith(tag + b" "):
                return text, out
            out.append((text, lits))

    def expect_continuation(self):
        text, _ = self.response()
        if not text.startswith(b"+"):
            raise kura.TestError("expected a continuation, got %r" % text[:200])

    def append(self, parts, sync=True, rate=None, flags=b""):
        """APPEND INBOX with one message literal per part ((literal8, bytes) or bytes);
        returns the tagged line."""
        self.tagn += 1
        tag = b"c%d" % self.tagn
        head = tag + b" APPEND INBOX"
        for i, p in enumerate(parts):
            lit8, data = p if isinstance(p, tuple) else (False, p)
            hdr = (b" " + flags if flags and i == 0 else b"") + b" %s{%d%s}\r\n" % (
                b"~" if lit8 else b"", len(data), b"" if sync else b"+")
            self.send(head + hdr)
            head = b""
            if sync:
                text, _ = self.response()
                if not text.startswith(b"+"):
                    return text
            if rate:
                self.send_paced(data, rate)
            else:
                self.send(data)
        self.send(b"\r\n")
        text, _ = self.tagged(tag)
        return text

    def count(self):
        _, untagged = self.tagged_cmd(b"STATUS INBOX (MESSAGES)")
        for text, _ in untagged:
            m = re.search(rb"MESSAGES (\d+)", text)
            if m:
                return int(m.group(1))
        raise kura.TestError("no STATUS response")

    def tagged_cmd(self, cmd):
        self.tagn += 1
        tag = b"c%d" % self.tagn
        self.send(tag + b" " + cmd + b"\r\n")
        return self.tagged(tag)

    def fetch_sum(self, uid, item=b"BODY.PEEK[]", resp=b"BODY[]"):
        """(size, sha256) of UID FETCH BODY.PEEK[] (or item, answered as resp)."""
        tagged, untagged = None, []
        self.tagn += 1
        tag = b"c%d" % self.tagn
        self.send(tag + b" UID FETCH %d %s\r\n" % (uid, item))
        while True:
            text, lits = self.response(keep_limit=0)
            if text.startswith(tag + b" "):
                tagged = text
                break
            untagged.append((text, lits))
        if not tagged.startswith(tag + b" OK"):
            raise kura.TestError("FETCH: %r" % tagged)
        for text, lits in untagged:
            if resp in text and lits:
                return lits[0]
        raise kura.TestError("no BODY[] in %r" % untagged)


def sha(data):
    return (len(data), hashlib.sha256(data).hexdigest())


APPENDUID_RE = re.compile(rb"\[APPENDUID \d+ ([0-9:,]+)\]")


def uids_of(tagged):
    m = APPENDUID_RE.search(tagged)
    if not m:
        raise kura.TestError("no APPENDUID in %r" % tagged)
    out = []
    for part in m.group(1).split(b","):
        a, _, b = part.partition(b":")
        out.extend(range(int(a), int(b or a) + 1))
    return out


def spool_entries(srv):
    d = os.path.join(srv.data_dir, "spool")
    return sorted(os.listdir(d))


def spool_fds(pid, srv):
    """Open fds of pid on a file in DATA/spool (O_TMPFILE files show as "spool/#N (deleted)");
    None when /proc/PID/fd cannot be read."""
    spool = os.path.join(srv.data_dir, "spool") + "/"
    try:
        names = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return None
    out = []
    for n in names:
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, n))
        except OSError:
            continue
        if target.startswith(spool):
            out.append(target)
    return out


def measured_append(srv, res, name, parts, sync):
    """The APPEND of parts (each bytes) from a slow client with the mail process sampled;
    then every message FETCHed back and compared."""
    mail_pid = srv.children_by_role()["kura-mail"][0]
    c = Session(srv)
    time.sleep(0.3)
    sampler = fm.Sampler({"mail": mail_pid})
    sampler.start()
    t0 = time.time()
    open_fds = []
    try:
        tagged = c.append(parts, sync=sync, rate=RATE)
    finally:
        sampler.stop()
    elapsed = time.time() - t0
    total = sum(len(p) for p in parts)
    growth = sampler.growth("mail", "RssAnon")
    print("# %s: %d bytes in %.1f s, %d samples; mail pid %d RssAnon %d -> peak %d KiB (+%d), "
          "VmRSS +%d KiB" % (name, total, elapsed, sampler.samples, mail_pid,
                              sampler.base["mail"].get("RssAnon", 0),
                              sampler.peak["mail"].get("RssAnon", 0), growth,
                              sampler.growth("mail")))
    sys.stdout.flush()
    if not re.match(rb"c\d+ OK \[APPENDUID", tagged):
        res.fail(name + ": APPEND OK", repr(tagged))
        c.close()
        return
    res.ok(name + ": APPEND OK")
    res.check("%s: RssAnon of the mail process grows < %d MiB" % (name, LIMIT_KB // MIB),
              growth <= LIMIT_KB, "+%d KiB for %d bytes of literals" % (growth, total))
    uids = uids_of(tagged)
    got = [c.fetch_sum(u) for u in uids]
    want = [sha(p) for p in parts]
    res.check(name + ": FETCH BODY[] byte-exact (SHA-256)", got == want,
              "got %r\nwant %r" % (got, want))
    open_fds = spool_fds(mail_pid, srv)
    res.check(name + ": no spool file left", spool_entries(srv) == [] and not open_fds,
              "DATA/spool %r, open %r" % (spool_entries(srv), open_fds))
    c.tagged_cmd(b"LOGOUT")
    c.close()


def test_threshold(srv, res):
    c = Session(srv)
    cases = [
        ("one literal of %d bytes (in memory)" % MEM_MAX, [text_message(MEM_MAX, b"t1")], True),
        ("one literal of %d bytes (spooled)" % (MEM_MAX + 1),
         [text_message(MEM_MAX + 1, b"t2")], True),
        ("one LITERAL+ literal of %d bytes (spooled)" % (MEM_MAX + 1),
         [text_message(MEM_MAX + 1, b"t3")], False),
        ("MULTIAPPEND 3 x 30000 bytes (the third spooled)",
         [text_message(30000, b"t4%d" % i) for i in range(3)], True),
        ("MULTIAPPEND 100000 + 1000 + 100000 bytes (spooled, memory, spooled)",
         [text_message(100000, b"t50"), text_message(1000, b"t51"),
          text_message(100000, b"t52")], False),
    ]
    for name, parts, sync in cases:
        before = c.count()
        tagged = c.append(parts, sync=sync)
        if not re.match(rb"c\d+ OK \[APPENDUID", tagged):
            res.fail(name, repr(tagged))
            continue
        got = [c.fetch_sum(u) for u in uids_of(tagged)]
        res.check(name + ": stored byte-exact", got == [sha(p) for p in parts] and
                  c.count() == before + len(parts), "got %r" % got)
    c.close()


def test_literal8(srv, res):
    c = Session(srv)
    data = bytearray(text_message(200000, b"bin"))
    for i in range(100, len(data) - 100, 997):
        data[i] = 0
    data = bytes(data)
    before = c.count()
    for sync in (True, False):
        tagged = c.append([(True, data)], sync=sync)
        ok = re.match(rb"c\d+ OK \[APPENDUID", tagged) is not None
        # BODY[] shows NUL as 0x80 (never NUL outside literal8); BINARY[] is exact
        got = c.fetch_sum(uids_of(tagged)[0], b"BINARY.PEEK[]", b"BINARY[]") if ok else None
        res.check("literal8 of %d bytes with NULs (%s): stored byte-exact (BINARY[])"
                  % (len(data), "synchronising" if sync else "LITERAL+"),
                  ok and got == sha(data), "%r %r" % (tagged, got))
    tagged = c.append([data], sync=False)
    res.check("the same bytes in a plain LITERAL+ literal: BAD, nothing stored",
              re.match(rb"c\d+ BAD", tagged) is not None and c.count() == before + 2,
              repr(tagged))
    text, _ = c.tagged_cmd(b"NOOP")
    res.check("literal8: the session goes on", b" OK" in text, repr(text))
    c.close()


def test_multiappend_atomic(srv, res):
    c = Session(srv)
    before = c.count()
    big = text_message(300000, b"m1")
    # the second literal is over the APPENDLIMIT: NO [TOOBIG] instead of a continuation
    c.tagn += 1
    tag = b"c%d" % c.tagn
    c.send(tag + b" APPEND INBOX {%d}\r\n" % len(big))
    c.expect_continuation()
    c.send(big + b" {%d}\r\n" % (APPEND_LIMIT + 1))
    text, _ = c.tagged(tag)
    res.check("MULTIAPPEND, 2nd over the limit: NO [TOOBIG] without a continuation",
              text.startswith(tag + b" NO [TOOBIG]"), repr(text))
    res.check("MULTIAPPEND, 2nd over the limit: nothing stored", c.count() == before)
    # a spooled first message, then an invalid flag list: BAD, nothing stored
    tagged = c.append([big, big], sync=False, flags=b"(\\Seen \\Bogus)")
    tagged2 = c.append([big, text_message(2000, b"m2")], sync=False)
    ok = re.match(rb"c\d+ OK", tagged2) is not None
    c.tagged_cmd(b"NOOP")
    res.check("MULTIAPPEND with a bad flag list after a spooled literal: BAD, nothing stored; "
              "the next one stored", re.match(rb"c\d+ BAD", tagged) is not None and ok and
              c.count() == before + 2, "%r / %r" % (tagged, tagged2))
    res.check("MULTIAPPEND failures: no spool file left", spool_entries(srv) == [])
    c.close()


def test_dropped(srv, res):
    mail_pid = srv.children_by_role()["kura-mail"][0]
    for sync in (True, False):
        what = "synchronising" if sync else "LITERAL+"
        c = Session(srv)
        before = c.count()
        size = 5 * 1000 * 1000
        c.send(b"d1 APPEND INBOX {%d%s}\r\n" % (size, b"" if sync else b"+"))
        if sync:
            c.expect_continuation()
        c.send(b"x" * (2 * 1000 * 1000))
        # the server has taken the bytes: a spool file is open (and has no name)
        deadline = time.time() + 10 * kura.SLOW
        fds = spool_fds(mail_pid, srv)
        while fds is not None and not fds and time.time() < deadline:
            time.sleep(0.05)
            fds = spool_fds(mail_pid, srv)
        during = spool_entries(srv)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()
        if fds is None:
            print("# /proc/%d/fd is not readable: the open spool file is not checked" % mail_pid)
        else:
            res.check("dropped mid-literal (%s): the spool file was open meanwhile" % what,
                      len(fds) == 1, repr(fds))
        res.check("dropped mid-literal (%s): no name in DATA/spool meanwhile" % what,
                  during == [], repr(during))
        deadline = time.time() + 10 * kura.SLOW
        left = spool_fds(mail_pid, srv)
        while left and time.time() < deadline:
            time.sleep(0.05)
            left = spool_fds(mail_pid, srv)
        res.check("dropped mid-literal (%s): nothing left (DATA/spool empty, no fd open)" % what,
                  spool_entries(srv) == [] and not left, "%r %r" % (spool_entries(srv), left))
        c2 = Session(srv)
        text, _ = c2.tagged_cmd(b"NOOP")
        res.check("dropped mid-literal (%s): the server goes on, nothing stored" % what,
                  b" OK" in text and c2.count() == before, repr(text))
        c2.close()


def test_spool_unwritable(srv, res):
    spool = os.path.join(srv.data_dir, "spool")
    mode = os.stat(spool).st_mode & 0o7777
    os.chmod(spool, 0o500)
    try:
        c = Session(srv)
        before = c.count()
        big = text_message(200000, b"u1")
        c.tagn += 1
        tag = b"c%d" % c.tagn
        c.send(tag + b" APPEND INBOX {%d}\r\n" % len(big))
        text, _ = c.tagged(tag)
        res.check("spool not writable, synchronising literal: NO [SERVERBUG], no continuation",
                  text.startswith(tag + b" NO [SERVERBUG]"), repr(text))
        tagged = c.append([big], sync=False)
        res.check("spool not writable, LITERAL+: NO [SERVERBUG], the literal discarded",
                  re.match(rb"c\d+ NO \[SERVERBUG\]", tagged) is not None, repr(tagged))
        small = text_message(2000, b"u2")
        tagged = c.append([small])
        res.check("spool not writable: a small message is still stored",
                  re.match(rb"c\d+ OK", tagged) is not None and c.count() == before + 1,
                  repr(tagged))
        c.close()
    finally:
        os.chmod(spool, mode)


APPEND_LIMIT = 64 * 1024 * 1024


def main():
    global LIMIT_KB
    binary, _ = kura.binary_from_argv(sys.argv[1:])
    res = kura.Results()
    if not os.access(binary, os.X_OK):
        res.fail("kura binary %s is missing" % binary)
        return res.summary()
    if kura.is_san_binary(binary):
        kura.SLOW = max(kura.SLOW, 3.0)
        LIMIT_KB = 24 * MIB
        opts = os.environ.get("ASAN_OPTIONS", "")
        os.environ["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "quarantine_size_mb=4"
    t_start = time.time()
    srv = kura.Server(binary, config={"mail_processes": 1, "login_processes": 1,
                                      "plaintext_auth": "loopback",
                                      "append_limit": APPEND_LIMIT},
                      users={USER: PASS}, name="append-memory")
    try:
        srv.start()
    except (kura.TestError, OSError) as e:
        res.fail("server starts", str(e))
        srv.cleanup(ok=False)
        return res.summary()
    st = os.stat(os.path.join(srv.data_dir, "spool"))
    res.check("kura serve created DATA/spool, mode 0700", st.st_mode & 0o777 == 0o700,
              oct(st.st_mode))

    tests = [
        ("a 50 MB APPEND from a slow client", lambda n: measured_append(
            srv, res, n, [attachment_message(37 * 1000 * 1000, b"big50")], True)),
        ("a MULTIAPPEND of 2 x 30 MB (LITERAL+) from a slow client", lambda n: measured_append(
            srv, res, n, [attachment_message(22 * 1000 * 1000, b"big30a"),
                          attachment_message(22 * 1000 * 1000, b"big30b")], False)),
        ("threshold", lambda n: test_threshold(srv, res)),
        ("literal8", lambda n: test_literal8(srv, res)),
        ("MULTIAPPEND all or nothing", lambda n: test_multiappend_atomic(srv, res)),
        ("connection dropped mid-literal", lambda n: test_dropped(srv, res)),
        ("DATA/spool not writable", lambda n: test_spool_unwritable(srv, res)),
    ]
    for name, fn in tests:
        off = srv.log_size()
        try:
            fn(name)
        except Exception as e:  # noqa: BLE001 - every error is a test failure
            res.fail(name, "%s: %s" % (type(e).__name__, e))
            print("#   log tail:\n#   " + srv.log_tail(10).replace("\n", "\n#   "))
        crashes = srv.crashes_since(off)
        if crashes:
            res.fail(name + ": no server process crashed", "\n".join(crashes))
        if srv.proc is None or srv.proc.poll() is not None:
            res.fail("server alive after " + name, srv.log_tail())
            break
    status = srv.stop()
    crashes = srv.crashes_since(0)
    res.check("no child crashed (whole run and shutdown)", not crashes, "\n".join(crashes[:20]))
    sanr = srv.sanitizer_reports()
    ok = res.check("server exits 0 on SIGTERM", status == 0,
                   "status %s\n%s" % (status, srv.log_tail()))
    ok = res.check("server log has no sanitizer report", not sanr, "\n".join(sanr[:20])) and ok
    srv.cleanup(ok=ok and res.failed == 0)
    if res.failed:
        print("# server dir kept: %s" % srv.dir)
    print("# suite time %.0f s" % (time.time() - t_start))
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
