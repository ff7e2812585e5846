#!/usr/bin/python3
"""test-fetch-memory.py: FETCH streams as the socket drains; the session's memory stays bounded.

The issue's promise: "FETCH over a 100k-message mailbox or of a 50 MB attachment streams as the
socket drains; the session's memory stays bounded". This suite proves it by reading RSS.

One kura with `mail_processes = 1` and `login_processes = 1`, so the mail process that runs the
sessions (and the login process that relays the TLS ones) are known (Server.children_by_role).
A sampler thread reads /proc/PID/status (VmRSS, RssAnon) of both every 20 ms; VmHWM (the peak
RSS) is reset first through /proc/PID/clear_refs, so the peak of VmRSS is exact even for a
mapping touched and released between two samples (root only; otherwise sampled).

1. A ~50 MB message (multipart/mixed: a 23-byte text part and a ~37 MB random attachment in
   base64) is APPENDed in one LITERAL+ literal; 100k small distinct messages go into a second
   user's INBOX (pipelined MULTIAPPEND, LITERAL+, 1000 messages per command; one APPEND per
   message would cost a transaction each). The peak RSS during the big APPEND is printed as a
   control: kura spools a big APPEND literal to a file and maps it for the store, so VmRSS
   shows ~50 MB of file-backed pages there while RssAnon barely moves (asserted by
   test-append-memory.py).
2. The server is restarted, so the mail process has never mapped the 50 MB APPEND literal and
   the baseline is not hiding freed heap that a FETCH could reuse without RSS growing.
3. Each FETCH runs on a client socket with a 32 KiB receive buffer (no autotuning), which sends
   the command and then does not read at all for 3 s (the socket buffers fill, the server must
   stop), then reads slowly (about 4 MB/s for 2 s), then reads the rest at full speed:
   - BODY.PEEK[] (over IMAPS: the login process relays), BODY.PEEK[2] (the attachment part as
     stored, plaintext: the mail process writes the client socket itself), BINARY.PEEK[2]
     (decoded, literal8, over IMAPS): byte count and SHA-256 exact; BODY.PEEK[1] (the 23-byte
     part, no stall): exact;
   - FETCH 1:* (ENVELOPE FLAGS) over IMAPS and UID FETCH 1:* (BODY.PEEK[HEADER]) in plaintext:
     exactly one FETCH response per message, in order, each with the right sequence number,
     UID and content (the Message-ID in the envelope; the header section byte-exact).
   For each, over the baseline taken just before the command (after LOGIN and EXAMINE: the
   view of 100k messages, ~4 MB, is in it), in the mail process and in the login process:
   - "anonymous memory": the peak RssAnon growth stays below a bound far smaller than the data
     sent (8 MiB on the normal build, where < 1 MiB is measured);
   - "peak RSS": the same bound for VmRSS/VmHWM, which also counts file-backed pages mapped
     into the process. A FETCH of a part (BODY[1], BODY[2], BINARY[2]) maps the whole message
     file and parses its MIME structure (fetch_msg_tree in src/imap/imap-fetch-body.c), which
     touches every page: the peak RSS grows by the message's size (+49 MB here) for the time
     of the parse, then MADV_DONTNEED gives the pages back. Those checks fail until the
     section lookup stops touching the whole file;
   - in the last second of the stall neither process uses more than 20% of a core (paused on
     the full socket, not spinning); while one still does (the work before the first write
     is slow on a loaded machine), the stall goes on a second at a time, up to 20 s.

Under the ASan+UBSan build (build-san, or KURA_TEST_SAN=1) the server runs with
quarantine_size_mb=4 added to ASAN_OPTIONS (freed blocks are otherwise kept in a 256 MB
quarantine, so RSS grows with any allocation churn and says nothing about buffering), the
bound is 24 MiB (~6 MiB measured: the small quarantine, shadow memory, allocator caches), which
still catches buffering the 50 MB message, the 37 MB decoded part or the 34 MB ENVELOPE
response, and the stall is 4.5 s (a BINARY[] decodes the whole part for its size first, which
takes over a second under ASan).

The mailbox holds 100k messages on both builds (populating costs ~0.15-0.25 ms per message,
mostly the fsync of each body file, on either build); KURA_TEST_MESSAGES=N overrides the count.

Usage: test-fetch-memory.py [--kura BINARY]
"""
import base64
import hashlib
import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kura  # noqa: E402

BIG_USER, BIG_PASS = "bigmsg", "Big-Pass-1"
MANY_USER, MANY_PASS = "manymsg", "Many-Pass-2"

ATTACHMENT_BYTES = 37 * 1000 * 1000 + 17   # base64 with CRLF: ~50.1 MB
MESSAGES = 100000
BATCH = 1000                                # kura's MULTIAPPEND maximum

STALL = 3.0             # seconds the client reads nothing after sending the FETCH
IDLE_WINDOW = 1.0       # CPU is measured over the last second of the stall
STALL_MAX = 20.0        # the stall goes on while the server still works, up to this (x SLOW)
SLOW_READ = 2.0         # then seconds of reading at SLOW_RATE
SLOW_RATE = 4 * 1000 * 1000
RCVBUF = 32 * 1024
MIB = 1024

# main() changes these for the sanitizer build
LIMIT_KB = 8 * MIB
CPU_IDLE_MAX = 0.20     # share of one core while the client does not read


# ----------------------------------------------------------------------------------------------
# messages


PART1_TEXT = b"The attachment follows."


def big_message():
    """(message bytes, part 2 body as stored, part 2 decoded)."""
    raw = os.urandom(ATTACHMENT_BYTES)
    b64 = base64.b64encode(raw)
    lines = [b64[i:i + 76] for i in range(0, len(b64), 76)]
    part2_body = b"\r\n".join(lines)
    boundary = b"=_kura_memory_test_boundary_0123456789"
    msg = (b"From: Big Sender <big@example.org>\r\n"
           b"To: Receiver <rcpt@example.net>\r\n"
           b"Subject: a 50 MB attachment\r\n"
           b"Date: Mon, 24 Nov 2025 10:00:00 +0000\r\n"
           b"Message-ID: <big.attachment@example.org>\r\n"
           b"MIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=\"" + boundary + b"\"\r\n"
           b"\r\n"
           b"This is a multi-part message in MIME format.\r\n"
           b"--" + boundary + b"\r\n"
           b"Content-Type: text/plain; charset=us-ascii\r\n"
           b"\r\n" + PART1_TEXT + b"\r\n"
           b"--" + boundary + b"\r\n"
           b"Content-Type: application/octet-stream; name=\"random.bin\"\r\n"
           b"Content-Transfer-Encoding: base64\r\n"
           b"Content-Disposition: attachment; filename=\"random.bin\"\r\n"
           b"\r\n" + part2_body + b"\r\n"
           b"--" + boundary + b"--\r\n")
    return msg, part2_body, raw


def small_header(i):
    return ("From: Sender %d <sender%d@example.org>\r\n"
            "To: Receiver <rcpt@example.net>\r\n"
            "Subject: message number %d\r\n"
            "Date: Mon, 24 Nov 2025 10:00:00 +0000\r\n"
            "Message-ID: <%d.memory-test@example.org>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n"
            "\r\n" % (i, i, i, i)).encode()


def small_message(i):
    return small_header(i) + b"Body of message %d.\r\n" % i


# ----------------------------------------------------------------------------------------------
# process sampling


def proc_status(pid):
    """{"VmRSS": kB, "RssAnon": kB, ...} from /proc/PID/status."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(("VmRSS:", "RssAnon:", "RssFile:", "VmHWM:")):
                    k, v = line.split(":", 1)
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def proc_cpu_seconds(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def smaps_rss(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Rss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def reset_hwm(pid):
    """Reset VmHWM (peak RSS) to the current RSS: /proc/PID/clear_refs "5" (Linux 4.0; needs
    the right to ptrace the process, so root here since the children run as user kura)."""
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class Sampler(threading.Thread):
    """Samples VmRSS / RssAnon of {role: pid} every 20 ms and keeps the peaks. The peak of VmRSS
    is exact where VmHWM could be reset at the start: a mapping touched and released between
    two samples still counts."""

    def __init__(self, pids):
        super().__init__(daemon=True)
        self.pids = dict(pids)
        self.hwm = {r: reset_hwm(p) for r, p in self.pids.items()}
        self.base = {r: proc_status(p) for r, p in self.pids.items()}
        self.peak = {r: dict(s) for r, s in self.base.items()}
        self.samples = 0
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            self.sample()
            self.halt.wait(0.02)

    def sample(self):
        for r, p in self.pids.items():
            st = proc_status(p)
            if not self.hwm[r]:
                st.pop("VmHWM", None)
            elif "VmHWM" in st:
                st["VmRSS"] = max(st.get("VmRSS", 0), st["VmHWM"])
            for k, v in st.items():
                if v > self.peak[r].get(k, 0):
                    self.peak[r][k] = v
        self.samples += 1

    def stop(self):
        self.halt.set()
        self.join()
        self.sample()

    def growth(self, role, key="VmRSS"):
        return self.peak[role].get(key, 0) - self.base[role].get(key, 0)


# ----------------------------------------------------------------------------------------------
# a client with a small receive buffer and a streaming response reader


LITERAL_RE = re.compile(rb"(~?)\{(\d+)\}$")


class Client:
    def __init__(self, srv, tls, rcvbuf=RCVBUF):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            # before connect(): a fixed buffer (no autotuning), so the server meets a full
            # socket quickly when we stop reading
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.settimeout(60 * kura.SLOW)
        s.connect(("127.0.0.1", srv.imaps_port if tls else srv.imap_port))
        if tls:
            s = srv.ssl_context().wrap_socket(s)
        self.sock = s
        self.buf = bytearray()
        self.pos = 0
        self.received = 0
        self.rate = None
        self.rate_until = 0.0
        self.tagn = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def throttle(self, rate, seconds):
        self.rate = rate
        self.rate_until = time.time() + seconds

    def _recv(self):
        slow = self.rate is not None and time.time() < self.rate_until
        try:
            data = self.sock.recv(16384 if slow else 1 << 20)
        except socket.timeout:
            raise kura.TestError("timeout waiting for the server (%d bytes received)"
                                 % self.received)
        if not data:
            raise kura.TestError("connection closed by the server (%d bytes received)"
                                 % self.received)
        self.received += len(data)
        if slow:
            time.sleep(len(data) / self.rate)
        return data

    def _fill(self):
        if self.pos and self.pos == len(self.buf):
            self.buf.clear()
            self.pos = 0
        elif self.pos > (1 << 20):
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += self._recv()

    def line(self):
        scanned = 0  # bytes after pos known to hold no CRLF (_fill may move pos)
        while True:
            i = self.buf.find(b"\r\n", self.pos + scanned)
            if i >= 0:
                out = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return out
            scanned = max(0, len(self.buf) - self.pos - 1)
            self._fill()

    def literal(self, n, sink):
        """Feed the next n bytes to sink(bytes)."""
        while n > 0:
            avail = len(self.buf) - self.pos
            if avail == 0:
                self.buf.clear()
                self.pos = 0
                data = self._recv()
                if len(data) > n:
                    self.buf += data[n:]
                    data = data[:n]
                sink(data)
                n -= len(data)
                continue
            k = min(avail, n)
            sink(bytes(self.buf[self.pos:self.pos + k]))
            self.pos += k
            n -= k

    def response(self, keep_limit=1 << 20):
        """One whole response: (text with each literal replaced by "{}", [literals]); a
        literal is its bytes when at most keep_limit long, else (length, sha256 hexdigest)."""
        parts, lits = [], []
        while True:
            ln = self.line()
            m = LITERAL_RE.search(ln)
            if not m:
                parts.append(ln)
                return b"".join(parts), lits
            parts.append(ln[:m.start()] + m.group(1) + b"{}")
            n = int(m.group(2))
            if n <= keep_limit:
                chunks = []
                self.literal(n, chunks.append)
                lits.append(b"".join(chunks))
            else:
                h = hashlib.sha256()
                self.literal(n, h.update)
                lits.append((n, h.hexdigest()))

    def command(self, cmd, expect="OK"):
        """Send a command, read to its tagged reply; returns the untagged responses."""
        self.tagn += 1
        tag = b"c%d" % self.tagn
        self.send(tag + b" " + cmd + b"\r\n")
        out = []
        while True:
            text, lits = self.response()
            if text.startswith(tag + b" "):
                if expect and not text[len(tag) + 1:].startswith(expect.encode()):
                    raise kura.TestError("%s: expected %s, got %r" % (cmd[:60], expect, text))
                return out
            out.append((text, lits))

    def login(self, user, password):
        greeting = self.line()
        if not greeting.startswith(b"* OK"):
            raise kura.TestError("bad greeting %r" % greeting)
        self.command(b"LOGIN " + kura.imap_quote(user).encode() + b" " +
                     kura.imap_quote(password).encode())


# ----------------------------------------------------------------------------------------------
# populating


def append_big(srv, msg):
    c = Client(srv, tls=False, rcvbuf=0)
    c.login(BIG_USER, BIG_PASS)
    c.tagn += 1
    c.send(b"c%d APPEND INBOX {%d+}\r\n" % (c.tagn, len(msg)) + msg + b"\r\n")
    text, _ = c.response()
    if not text.startswith(b"c%d OK" % c.tagn):
        raise kura.TestError("APPEND of the big message: %r" % text)
    c.close()


def populate(srv, count):
    """count messages into MANY_USER's INBOX: pipelined MULTIAPPEND with LITERAL+ (a single
    APPEND per message costs a transaction each: ~1.6 ms against ~0.5 ms in batches)."""
    c = Client(srv, tls=False, rcvbuf=0)
    c.login(MANY_USER, MANY_PASS)
    cmds = []
    for k, start in enumerate(range(0, count, BATCH)):
        parts = [b"p%d APPEND INBOX" % k]
        for i in range(start, min(count, start + BATCH)):
            m = small_message(i)
            parts.append(b" {%d+}\r\n" % len(m))
            parts.append(m)
        parts.append(b"\r\n")
        cmds.append(b"".join(parts))
    errors = []
    answered = [0]

    def reader():
        try:
            while answered[0] < len(cmds):
                text, _ = c.response()
                if text.startswith(b"p"):
                    answered[0] += 1
                    if b" OK " not in text:
                        errors.append(text)
        except (kura.TestError, OSError) as e:
            errors.append(str(e).encode())
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    for data in cmds:
        c.send(data)
    t.join(600 * kura.SLOW)
    c.close()
    if t.is_alive() or errors or answered[0] != len(cmds):
        raise kura.TestError("populating: %d of %d APPENDs answered; errors %r"
                             % (answered[0], len(cmds), errors[:3]))


# ----------------------------------------------------------------------------------------------
# one measured FETCH


class Measured:
    """A FETCH on a fresh session (LOGIN, EXAMINE INBOX) with the sampler running and the
    stall / slow read / fast read pattern; the memory and CPU figures are kept for check()."""

    def __init__(self, srv, tls, user, password, label):
        self.srv = srv
        self.label = label
        roles = srv.children_by_role()
        self.pids = {"mail": roles["kura-mail"][0], "login": roles["kura-login"][0]}
        self.before = {r: proc_status(p).get("VmRSS", 0) for r, p in self.pids.items()}
        self.c = Client(srv, tls=tls)
        self.c.login(user, password)
        self.c.command(b"EXAMINE INBOX")
        time.sleep(0.3)
        self.sampler = None
        self.cpu = None
        self.stalled = None

    def run(self, cmd, consume, stall=True):
        """consume(client) reads the untagged responses and returns at the tagged line."""
        c = self.c
        self.sampler = sampler = Sampler(self.pids)
        sampler.start()
        t0 = time.time()
        c.send(cmd + b"\r\n")
        if stall:
            # not reading: the socket buffers fill and the server must stop (a BINARY[] first
            # decodes the whole part for its size, which takes over a second under ASan: the
            # process has to be idle by the last second of the stall, not from the start;
            # on a loaded machine that work takes longer still: the stall goes on, a window
            # of IDLE_WINDOW after another, until one is idle or STALL_MAX has passed)
            time.sleep(STALL - IDLE_WINDOW)
            stall_end = t0 + STALL_MAX * kura.SLOW
            while True:
                cpu0 = {r: proc_cpu_seconds(p) for r, p in self.pids.items()}
                time.sleep(IDLE_WINDOW)
                self.cpu = {r: (proc_cpu_seconds(p) - cpu0[r]) / IDLE_WINDOW
                            for r, p in self.pids.items()}
                if all(v <= CPU_IDLE_MAX for v in self.cpu.values()) or \
                        time.time() >= stall_end:
                    break
            self.stalled = time.time() - t0
            c.throttle(SLOW_RATE, SLOW_READ)
        try:
            result = consume(c)
            elapsed = time.time() - t0
            c.command(b"LOGOUT")
        finally:
            sampler.stop()
            c.close()
        self.report(elapsed)
        return result

    def report(self, elapsed):
        sampler = self.sampler
        print("# %s: %d bytes in %.1f s, %d samples; LOGIN + EXAMINE had added %d KiB to mail"
              % (self.label, self.c.received, elapsed, sampler.samples,
                 sampler.base["mail"].get("VmRSS", 0) - self.before["mail"]))
        for r in ("mail", "login"):
            b, p = sampler.base[r], sampler.peak[r]
            print("#   %s pid %d: VmRSS %d -> peak %d KiB (+%d%s), RssAnon %d -> peak %d (+%d)%s"
                  % (r, self.pids[r], b.get("VmRSS", 0), p.get("VmRSS", 0), sampler.growth(r),
                     ", VmHWM" if sampler.hwm[r] else ", sampled", b.get("RssAnon", 0),
                     p.get("RssAnon", 0), sampler.growth(r, "RssAnon"),
                     ", CPU in the last second of the stall (%.1f s) %.0f%%"
                     % (self.stalled, self.cpu[r] * 100) if self.cpu else ""))
        sys.stdout.flush()

    def check(self, res, name):
        """Three results: anonymous memory, peak RSS (file-backed mappings included), idle
        while not read."""
        sampler = self.sampler
        figures = "; ".join("%s +%d KiB RssAnon, +%d KiB VmRSS peak"
                            % (r, sampler.growth(r, "RssAnon"), sampler.growth(r))
                            for r in ("mail", "login"))
        res.check("%s: anonymous memory (RssAnon) of mail and login grows < %d MiB"
                  % (name, LIMIT_KB // MIB),
                  all(sampler.growth(r, "RssAnon") <= LIMIT_KB for r in ("mail", "login")),
                  figures)
        res.check("%s: peak RSS (VmHWM: file-backed mappings too) of mail and login grows "
                  "< %d MiB" % (name, LIMIT_KB // MIB),
                  all(sampler.growth(r) <= LIMIT_KB for r in ("mail", "login")),
                  figures + "\nRssAnon stayed bounded, so the growth is in file-backed pages: "
                  "a mapping of the message file touched page by page (see the top of this "
                  "file)" if all(sampler.growth(r, "RssAnon") <= LIMIT_KB
                                 for r in ("mail", "login")) else figures)
        if self.cpu is not None:
            res.check("%s: mail and login idle (< %d%% CPU) while the client does not read"
                      % (name, CPU_IDLE_MAX * 100),
                      all(v <= CPU_IDLE_MAX for v in self.cpu.values()),
                      ", ".join("%s %.0f%%" % (r, v * 100) for r, v in self.cpu.items()) +
                      " in the last second of a %.1f s stall" % self.stalled)


def expect_tagged(text):
    if not re.match(rb"c\d+ OK", text):
        raise kura.TestError("tagged reply %r" % text)


def measured_test(res, name, m, cmd, consume, stall=True):
    """Run it: the content check (consume raises), then the memory checks."""
    try:
        m.run(cmd, consume, stall)
    except Exception as e:  # noqa: BLE001 - every error is a test failure
        res.fail(name + ": complete and exact", "%s: %s" % (type(e).__name__, e))
        return False
    res.ok(name + ": complete and exact")
    m.check(res, name)
    return True


def big_fetch(srv, res, name, tls, item, resp_item, expected_len, expected_sha, stall=True):
    m = Measured(srv, tls, BIG_USER, BIG_PASS, name)

    def consume(c):
        text, lits = c.response(keep_limit=0)
        want = b"* 1 FETCH (" + resp_item + b")"
        if text != want:
            raise kura.TestError("response %r, expected %r" % (text[:200], want))
        n, sha = lits[0]
        if n != expected_len or sha != expected_sha:
            raise kura.TestError("literal of %d bytes sha256 %s; expected %d bytes %s"
                                 % (n, sha, expected_len, expected_sha))
        text, _ = c.response()
        expect_tagged(text)
    return measured_test(res, name, m, b"c9 FETCH 1 (" + item + b")", consume, stall)


def mailbox_fetch(srv, res, name, tls, count, cmd, check):
    m = Measured(srv, tls, MANY_USER, MANY_PASS, name)

    def consume(c):
        seen = 0
        while True:
            text, lits = c.response()
            if text.startswith(b"c9 "):
                expect_tagged(text)
                break
            if not text.startswith(b"* %d FETCH (" % (seen + 1)):
                raise kura.TestError("response %d: %r" % (seen + 1, text[:300]))
            check(seen, text, lits)
            seen += 1
        if seen != count:
            raise kura.TestError("%d FETCH responses for %d messages" % (seen, count))
    return measured_test(res, name, m, b"c9 " + cmd, consume)


FLAGS_END_RE = re.compile(rb" FLAGS \((\\Recent)?\)\)$")  # never \Seen: all PEEK / EXAMINE


def check_envelope(i, text, lits):
    mid = b'"<%d.memory-test@example.org>"' % i
    subj = b'"message number %d"' % i
    if lits or mid not in text or subj not in text or not FLAGS_END_RE.search(text):
        raise kura.TestError("response for message %d: %r" % (i + 1, text[:400]))


def check_header(i, text, lits):
    if text != b"* %d FETCH (UID %d BODY[HEADER] {})" % (i + 1, i + 1) or \
            len(lits) != 1 or lits[0] != small_header(i):
        raise kura.TestError("response for message %d: %r %r" % (i + 1, text[:200], lits[:1]))


# ----------------------------------------------------------------------------------------------


def main():
    global LIMIT_KB, STALL
    binary, _ = kura.binary_from_argv(sys.argv[1:])
    res = kura.Results()
    if not os.access(binary, os.X_OK):
        res.fail("kura binary %s is missing" % binary)
        return res.summary()
    san = kura.is_san_binary(binary)
    count = int(os.environ.get("KURA_TEST_MESSAGES", MESSAGES))
    if san:
        kura.SLOW = max(kura.SLOW, 3.0)
        LIMIT_KB = 24 * MIB
        STALL = 4.5
        # see the top of the file: a small quarantine, or RSS measures ASan's quarantine
        opts = os.environ.get("ASAN_OPTIONS", "")
        os.environ["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "quarantine_size_mb=4"
    t_start = time.time()
    # index_idle_ms = 0: the mail process would otherwise index the 100,000 new messages in the
    # background (docs/ARCHITECTURE.md, "Indexing after the reply"), and the stall checks below
    # want a process that does nothing while its client does not read
    srv = kura.Server(binary, config={"mail_processes": 1, "login_processes": 1,
                                      "plaintext_auth": "loopback", "index_idle_ms": 0},
                      users={BIG_USER: BIG_PASS, MANY_USER: MANY_PASS}, name="memory")
    try:
        srv.start()
    except (kura.TestError, OSError) as e:
        res.fail("server starts", str(e))
        srv.cleanup(ok=False)
        return res.summary()

    def populate_all():
        msg = big_message_cache.pop()
        t0 = time.time()
        # a control for the sampler (printed, not asserted): kura maps a spooled APPEND literal
        # (docs/ARCHITECTURE.md), which shows as a jump of VmRSS of about the message's size in
        # file-backed pages, not in RssAnon
        roles = srv.children_by_role()
        sampler = Sampler({"mail": roles["kura-mail"][0]})
        sampler.start()
        try:
            append_big(srv, msg)
        finally:
            sampler.stop()
        print("# APPEND of %d bytes: %.1f s; the mail process's VmRSS peaked %d KiB above its "
              "baseline meanwhile, RssAnon %d KiB" % (len(msg), time.time() - t0,
                                                    sampler.growth("mail"),
                                                    sampler.growth("mail", "RssAnon")))
        t0 = time.time()
        populate(srv, count)
        print("# %d messages appended in %.1f s" % (count, time.time() - t0))
        srv.stop()
        if srv.exit_status != 0:
            raise kura.TestError("exit status %s on the restart" % srv.exit_status)
        users, srv.users = srv.users, {}
        srv.start()
        srv.users = users
        roles = srv.wait_children({"kura-mail": 1, "kura-login": 1})
        for role in ("kura-mail", "kura-login"):
            pid = roles[role][0]
            print("# after the restart: %s pid %d VmRSS %d KiB (smaps_rollup Rss %d KiB)"
                  % (role, pid, kura.vm_rss_kb(pid), smaps_rss(pid)))

    # the message is kept only as long as populating needs it; the checks use its sums
    msg, part2, raw = big_message()
    sums = {
        "whole": (len(msg), hashlib.sha256(msg).hexdigest()),
        "part2": (len(part2), hashlib.sha256(part2).hexdigest()),
        "binary": (len(raw), hashlib.sha256(raw).hexdigest()),
    }
    big_message_cache = [msg]
    del msg, part2, raw
    print("# message %d bytes, part 2 %d bytes as stored, %d decoded; mailbox of %d messages"
          % (sums["whole"][0], sums["part2"][0], sums["binary"][0], count))

    ok = res.run("populate: a %d-byte message, %d small ones, restart" % (sums["whole"][0],
                                                                           count), populate_all)
    part1 = PART1_TEXT
    tests = [
        ("BODY.PEEK[] of the 50 MB message, IMAPS",
         lambda n: big_fetch(srv, res, n, True, b"BODY.PEEK[]", b"BODY[] {}", *sums["whole"])),
        ("BODY.PEEK[2] (the 50 MB base64 attachment as stored), plaintext",
         lambda n: big_fetch(srv, res, n, False, b"BODY.PEEK[2]", b"BODY[2] {}",
                             *sums["part2"])),
        ("BINARY.PEEK[2] (the attachment decoded, literal8), IMAPS",
         lambda n: big_fetch(srv, res, n, True, b"BINARY.PEEK[2]", b"BINARY[2] ~{}",
                             *sums["binary"])),
        ("BODY.PEEK[1] (the %d-byte text part of the 50 MB message), plaintext" % len(part1),
         lambda n: big_fetch(srv, res, n, False, b"BODY.PEEK[1]", b"BODY[1] {}", len(part1),
                             hashlib.sha256(part1).hexdigest(), stall=False)),
        ("FETCH 1:* (ENVELOPE FLAGS) of %d messages, IMAPS" % count,
         lambda n: mailbox_fetch(srv, res, n, True, count, b"FETCH 1:* (ENVELOPE FLAGS)",
                                 check_envelope)),
        ("UID FETCH 1:* (BODY.PEEK[HEADER]) of %d messages, plaintext" % count,
         lambda n: mailbox_fetch(srv, res, n, False, count,
                                 b"UID FETCH 1:* (BODY.PEEK[HEADER])", check_header)),
    ]
    if ok:
        for name, fn in tests:
            off = srv.log_size()
            try:
                ok = fn(name)
            except Exception as e:  # noqa: BLE001 - a session that cannot start, ...
                ok = False
                res.fail(name, "%s: %s" % (type(e).__name__, e))
            crashes = srv.crashes_since(off)
            if crashes:
                ok = False
                res.fail(name + ": no server process crashed", "\n".join(crashes))
            if not ok:
                print("#   log tail:\n#   " + srv.log_tail(10).replace("\n", "\n#   "))
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
