#!/usr/bin/python3
"""kura.py: shared helpers for kura's integration tests (standard library only).

- Server: start a real `kura serve` in a fresh temp dir on free loopback ports, with overridable
  config keys; add users through the CLI; stop it with SIGTERM and report the exit status; the
  server's stderr goes to DIR/server.log for failure reports.
- Conn: a small line-based IMAP client for raw conversations (plaintext, STARTTLS, implicit TLS).
- scram_client: a SCRAM-SHA-256 client (RFC 5802, RFC 7677) that checks the server signature.
- Process helpers: the master's children by role (/proc/PID/comm), their RSS, which process
  holds the server end of a client's TCP connection.
- Results: "ok - name" / "not ok - name" lines and the closing "N passed, N failed".
"""
import base64
import hashlib
import hmac
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_BINARY = os.path.join(REPO, "build", "kura")

# Slower under ASan+UBSan: every wait is scaled by this factor.
SLOW = float(os.environ.get("KURA_TEST_SLOW", "1"))


def binary_from_argv(argv):
    """Return (binary, remaining args): --kura PATH or env KURA_BIN, else build/kura."""
    args = list(argv)
    binary = os.environ.get("KURA_BIN", DEFAULT_BINARY)
    if "--kura" in args:
        i = args.index("--kura")
        binary = args[i + 1]
        del args[i:i + 2]
    binary = os.path.abspath(binary)
    return binary, args


def is_san_binary(binary):
    return "build-san" in binary or os.environ.get("KURA_TEST_SAN") == "1"


class TestError(Exception):
    pass


# ----------------------------------------------------------------------------------------------
# results


class Results:
    """Collects test outcomes; prints TAP-like lines and the closing summary."""

    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.failures = []

    def ok(self, name):
        self.passed += 1
        print("ok - %s" % name, flush=True)

    def fail(self, name, detail=""):
        self.failed += 1
        self.failures.append(name)
        print("not ok - %s" % name, flush=True)
        if detail:
            for line in str(detail).rstrip("\n").split("\n"):
                print("#   " + line)
        sys.stdout.flush()

    def check(self, name, cond, detail=""):
        if cond:
            self.ok(name)
        else:
            self.fail(name, detail)
        return cond

    def run(self, name, fn, *args, **kw):
        """Run fn; an exception (TestError, AssertionError, OSError, ...) is a failure."""
        try:
            fn(*args, **kw)
        except Exception as e:  # noqa: BLE001 - every error is a test failure
            self.fail(name, "%s: %s" % (type(e).__name__, e))
            return False
        self.ok(name)
        return True

    def summary(self):
        print("%d passed, %d failed" % (self.passed, self.failed), flush=True)
        return 0 if self.failed == 0 else 1


# ----------------------------------------------------------------------------------------------
# environment


def ensure_kura_user():
    """As root, the children drop to user "kura": create it if missing."""
    if os.geteuid() != 0:
        return
    if subprocess.run(["getent", "passwd", "kura"], stdout=subprocess.DEVNULL).returncode == 0:
        return
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    "kura"], check=True)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


# ----------------------------------------------------------------------------------------------
# the server


class Server:
    """A kura server in a temp dir. Use start()/stop() or `with Server(...) as srv:`."""

    # Defaults for tests: short failed-login delays so wrong-password tests stay quick.
    TEST_DEFAULTS = {
        "auth_fail_delay_ms": "20",
        "auth_fail_delay_max_ms": "200",
        "log_level": "info",
    }

    def __init__(self, binary=None, config=None, users=None, keep=False, name="kura"):
        self.binary = os.path.abspath(binary or DEFAULT_BINARY)
        ensure_kura_user()
        self.dir = tempfile.mkdtemp(prefix="kura-test-%s-" % name)
        os.chmod(self.dir, 0o755)
        self.data_dir = os.path.join(self.dir, "data")
        self.conf_path = os.path.join(self.dir, "kura.conf")
        self.log_path = os.path.join(self.dir, "server.log")
        (self.imap_port, self.imaps_port, self.lmtp_port, self.pop3_port,
         self.pop3s_port) = free_ports(5)
        self.lmtp_socket = os.path.join(self.data_dir, "lmtp.sock")
        self.config = dict(self.TEST_DEFAULTS)
        self.config.update({
            "data_dir": self.data_dir,
            "imap_listen": "127.0.0.1:%d" % self.imap_port,
            "imaps_listen": "127.0.0.1:%d" % self.imaps_port,
            # never the embedded default 127.0.0.1:2424: tests run side by side
            "lmtp_listen": "127.0.0.1:%d" % self.lmtp_port,
            # never the embedded defaults 127.0.0.1:1110 and 1995 either
            "pop3_listen": "127.0.0.1:%d" % self.pop3_port,
            "pop3s_listen": "127.0.0.1:%d" % self.pop3s_port,
        })
        for k, v in (config or {}).items():
            if v is None:
                self.config.pop(k, None)
            else:
                self.config[k] = str(v)
        self.users = dict(users or {})
        self.keep = keep
        self.proc = None
        self.logf = None
        self.exit_status = None
        self.write_config()

    # -- config and CLI

    def write_config(self):
        with open(self.conf_path, "w") as f:
            f.write("# written by tests/lib/kura.py\n")
            for k, v in self.config.items():
                f.write("%s = %s\n" % (k, v))
        os.chmod(self.conf_path, 0o644)

    def cli(self, *args, stdin=None, timeout=60):
        """Run `kura -c CONF ARGS...`; return CompletedProcess (text)."""
        cmd = [self.binary, "-c", self.conf_path] + list(args)
        return subprocess.run(cmd, input=stdin if stdin is not None else "",
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout * SLOW)

    def user_add(self, name, password):
        r = self.cli("user", "add", name, stdin=password + "\n")
        if r.returncode != 0:
            raise TestError("kura user add %s failed (%d): %s%s" % (name, r.returncode, r.stdout,
                                                                    r.stderr))
        self.users[name] = password
        return r

    def user_del(self, name):
        r = self.cli("user", "del", name)
        if r.returncode != 0:
            raise TestError("kura user del %s failed (%d): %s" % (name, r.returncode, r.stderr))
        self.users.pop(name, None)
        return r

    def user_passwd(self, name, password):
        r = self.cli("user", "passwd", name, stdin=password + "\n")
        if r.returncode != 0:
            raise TestError("kura user passwd %s failed (%d): %s" % (name, r.returncode,
                                                                     r.stderr))
        self.users[name] = password
        return r

    # -- lifecycle

    def start(self, wait=True):
        self.logf = open(self.log_path, "ab")
        env = dict(os.environ)
        self.proc = subprocess.Popen([self.binary, "-c", self.conf_path, "serve"],
                                     stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=self.logf, cwd=self.dir, env=env)
        self.exit_status = None
        if wait:
            self.wait_ready()
        for name, password in list(self.users.items()):
            self.user_add(name, password)
        return self

    def wait_ready(self, timeout=30):
        """Wait until both ports answer with a greeting (and the cert exists)."""
        deadline = time.time() + timeout * SLOW
        pending = {"imap": self.imap_port, "imaps": self.imaps_port}
        if self.config.get("lmtp_listen"):
            pending["lmtp"] = self.lmtp_port
        last_err = None
        while pending and time.time() < deadline:
            if self.proc.poll() is not None:
                raise TestError("kura serve exited with %s during startup; log:\n%s"
                                % (self.proc.returncode, self.log_tail()))
            for what, port in list(pending.items()):
                try:
                    c = Conn.connect(self, tls=(what == "imaps"), timeout=5, port=port)
                    line = c.readline(timeout=10 * SLOW)
                    c.close()
                    greeting = b"220 " if what == "lmtp" else b"* OK"
                    if line is not None and line.startswith(greeting):
                        del pending[what]
                except (OSError, TestError) as e:
                    last_err = e
            if pending:
                time.sleep(0.1)
        if pending:
            raise TestError("kura serve not ready on %s after %ss (%s); log:\n%s"
                            % (",".join(pending), timeout, last_err, self.log_tail()))

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Signal the master and wait; returns its exit status (None if it had to be killed)."""
        if self.proc is None:
            return self.exit_status
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout * SLOW)
            except subprocess.TimeoutExpired:
                self.kill_tree()
                self.proc.wait()
                self.exit_status = None
                self.proc = None
                return None
        self.exit_status = self.proc.returncode
        self.proc = None
        if self.logf:
            self.logf.close()
            self.logf = None
        return self.exit_status

    def kill_tree(self):
        if self.proc is None:
            return
        for pid in self.children():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.proc.kill()
        except OSError:
            pass

    def cleanup(self, ok=True):
        """Remove the temp dir unless the run failed or keep was asked."""
        if self.proc is not None:
            self.kill_tree()
            self.proc.wait()
            self.proc = None
        if ok and not self.keep and not os.environ.get("KURA_TEST_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        self.cleanup(ok=exc[0] is None)
        return False

    # -- logs

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_since(self, offset):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=40):
        lines = self.log_text().splitlines()
        return "\n".join(lines[-n:])

    CRASH_RE = re.compile(r"killed by signal|exited with status [1-9]|dumped core")

    def crashes_since(self, offset=0, ignore_pids=()):
        """Log lines reporting a child that crashed or exited with an error (the master logs
        "... pid N killed by signal S ..."), leaving out the pids in ignore_pids."""
        out = []
        for line in self.log_since(offset).splitlines():
            if self.CRASH_RE.search(line):
                m = re.search(r"pid (\d+)", line)
                if m and int(m.group(1)) in ignore_pids:
                    continue
                out.append(line)
        return out

    SANITIZER_RE = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|"
                              r"SUMMARY: (Address|Undefined|Leak)Sanitizer")

    def sanitizer_reports(self):
        return [l for l in self.log_text().splitlines() if self.SANITIZER_RE.search(l)]

    # -- the end of a suite

    def run_each(self, res, tests):
        """Run (name, fn) pairs as fn(self), each checked for crashed server processes in
        its part of the log; stop at the first test after which the server is gone."""
        for name, fn in tests:
            off = self.log_size()
            ok = res.run(name, fn, self)
            time.sleep(0.05)
            crashes = self.crashes_since(off)
            if crashes:
                ok = False
                res.fail(name + ": no server process crashed", "\n".join(crashes))
            if not ok:
                print("#   log tail:\n#   " + self.log_tail(10).replace("\n", "\n#   "))
            if self.proc is None or self.proc.poll() is not None:
                res.fail("server alive after " + name, self.log_tail())
                return False
        return True

    def finish(self, res, status, label="server"):
        """The checks a suite ends with, after stop() returned status (None: the server was
        not stopped cleanly, which the caller reported): exit status 0 on SIGTERM, no child
        crashed during the whole run, no sanitizer report. Then the directory is removed, or
        kept and named when anything in res failed. Returns whether these checks passed."""
        ok = True
        if status is not None:
            ok = res.check("%s exits 0 on SIGTERM" % label, status == 0,
                           "status %s\n%s" % (status, self.log_tail()))
        crashes = self.crashes_since(0)
        ok = res.check("%s: no child crashed (whole run and shutdown)" % label, not crashes,
                       "\n".join(crashes[:20])) and ok
        san = self.sanitizer_reports()
        ok = res.check("%s log has no sanitizer report" % label, not san,
                       "\n".join(san[:20])) and ok
        self.cleanup(ok=res.failed == 0)
        if res.failed:
            print("# server dir kept: %s" % self.dir)
        return ok

    # -- processes

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def children(self):
        return children_of(self.pid) if self.pid else []

    def children_by_role(self):
        """{"kura-login": [pids], "kura-auth": [...], "kura-mail": [...]} (sorted pids)."""
        roles = {}
        for pid in self.children():
            roles.setdefault(proc_comm(pid), []).append(pid)
        for v in roles.values():
            v.sort()
        return roles

    def wait_children(self, counts, timeout=15):
        """Wait until the children by comm match counts ({"kura-login": 2, ...})."""
        deadline = time.time() + timeout * SLOW
        roles = {}
        while time.time() < deadline:
            roles = self.children_by_role()
            if all(len(roles.get(k, [])) == n for k, n in counts.items()):
                return roles
            time.sleep(0.05)
        raise TestError("children never matched %s; have %s" % (counts, roles))

    # -- connections

    def ssl_context(self, verify=True):
        return client_ssl_context(os.path.join(self.data_dir, "tls", "cert.pem") if verify
                                  else None)

    def connect(self, mode="plain", timeout=10):
        """mode: plain (STARTTLS port), tls (implicit TLS port), starttls (plain + STARTTLS)."""
        if mode == "plain":
            c = Conn.connect(self, tls=False, timeout=timeout)
            c.expect_greeting()
            return c
        if mode == "tls":
            c = Conn.connect(self, tls=True, timeout=timeout)
            c.expect_greeting()
            return c
        if mode == "starttls":
            c = Conn.connect(self, tls=False, timeout=timeout)
            c.expect_greeting()
            c.command("STARTTLS", tag="stls", expect="OK")
            c.starttls(self.ssl_context(verify=False))
            return c
        raise ValueError(mode)

    def lmtp_connect(self, unix=False, timeout=10):
        """An LMTP connection (TCP, or the UNIX socket) after its 220 greeting."""
        if unix:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout * SLOW)
            sock.connect(self.config.get("lmtp_socket", self.lmtp_socket))
        else:
            sock = socket.create_connection(("127.0.0.1", self.lmtp_port), timeout=timeout * SLOW)
        c = Conn(sock, self)
        line = c.readline(timeout)
        if line is None or not line.startswith(b"220 "):
            raise TestError("bad LMTP greeting: %r" % (line,))
        return c

    def login(self, mode, user, password=None):
        """Connect and LOGIN; returns the authenticated Conn (raises on failure)."""
        if password is None:
            password = self.users[user]
        c = self.connect(mode)
        c.command("LOGIN %s %s" % (imap_quote(user), imap_quote(password)), tag="login",
                  expect="OK")
        return c


def client_ssl_context(cafile=None):
    """TLS client context: trusting cafile (hostname not checked: the cert names localhost),
    or accepting any certificate when cafile is None."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    if cafile:
        ctx.load_verify_locations(cafile)
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def imap_quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ----------------------------------------------------------------------------------------------
# a raw IMAP connection


class Conn:
    """Line-based IMAP client. Lines are returned as bytes without the CRLF; None on EOF."""

    def __init__(self, sock, server=None):
        self.sock = sock
        self.buf = b""
        self.server = server
        self.eof = False
        self.transcript = []
        self.tls = isinstance(sock, ssl.SSLSocket)

    @classmethod
    def connect(cls, server, tls=False, timeout=10, port=None, ctx=None):
        if port is None:
            port = server.imaps_port if tls else server.imap_port
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            ctx = ctx or server.ssl_context(verify=True)
            s = ctx.wrap_socket(s)
        return cls(s, server)

    def local_port(self):
        return self.sock.getsockname()[1]

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.transcript.append(("C", data))
        self.sock.settimeout(30 * SLOW)
        self.sock.sendall(data)

    def send_pumped(self, data, timeout=60):
        """Send data while reading whatever the server answers into the buffer (one thread:
        an SSL object must not be used by two threads at once). Stops early, without error,
        when the server closes or resets the connection. Returns the bytes sent."""
        self.transcript.append(("C", data))
        sock = self.sock
        sock.setblocking(False)
        sent = 0
        deadline = time.time() + timeout * SLOW
        try:
            while sent < len(data):
                if time.time() > deadline:
                    raise TestError("server stopped reading: %d of %d bytes sent after %ss"
                                    % (sent, len(data), timeout))
                pending = isinstance(sock, ssl.SSLSocket) and sock.pending()
                r, w, _ = select.select([sock], [sock], [], 0.5) if not pending else \
                    ([sock], [], [])
                if r:
                    try:
                        chunk = sock.recv(65536)
                        if not chunk:
                            self.eof = True
                            break
                        self.buf += chunk
                    except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                        pass
                    except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
                        self.eof = True
                        break
                if w:
                    try:
                        sent += sock.send(data[sent:sent + 16384])
                    except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                        pass
                    except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
                        break
        finally:
            sock.setblocking(True)
        return sent

    def sendline(self, line):
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.send(line + b"\r\n")

    def _fill(self, timeout):
        """Read more bytes into buf. Returns False on EOF; raises TestError on timeout."""
        if self.eof:
            return False
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TestError("timeout waiting for the server")
        except ssl.SSLError as e:
            # An abrupt close of the TLS stream counts as EOF.
            self.transcript.append(("S", ("<tls error: %s>" % e).encode()))
            self.eof = True
            return False
        except (ConnectionResetError, BrokenPipeError):
            self.eof = True
            return False
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def readline(self, timeout=10):
        """One server line without CRLF; None on EOF; TestError on timeout."""
        deadline = time.time() + timeout * SLOW
        while b"\r\n" not in self.buf:
            remaining = deadline - time.time()
            if remaining <= 0:
                raise TestError("timeout waiting for a server line (have %r)" % self.buf[:200])
            if not self._fill(remaining):
                if self.buf:
                    line, self.buf = self.buf, b""
                    self.transcript.append(("S", line + b" <no CRLF before EOF>"))
                    return line
                return None
        line, self.buf = self.buf.split(b"\r\n", 1)
        self.transcript.append(("S", line))
        return line

    def read_until_tagged(self, tag, timeout=10):
        """Lines up to and including the tagged response for tag. Raises on EOF/timeout."""
        lines = []
        tagb = tag.encode() + b" "
        while True:
            line = self.readline(timeout)
            if line is None:
                raise TestError("connection closed before the tagged response for %s; got %r"
                                % (tag, lines))
            lines.append(line)
            if line.startswith(tagb):
                return lines

    def command(self, cmd, tag="a", expect=None, timeout=10):
        """Send 'tag cmd', read to the tagged reply; expect "OK"/"NO"/"BAD" checks it."""
        self.sendline("%s %s" % (tag, cmd))
        lines = self.read_until_tagged(tag, timeout)
        if expect is not None:
            status = lines[-1][len(tag) + 1:].split(b" ", 1)[0].decode("ascii", "replace")
            if status.upper() != expect:
                raise TestError("%s %s: expected %s, got %r" % (tag, cmd.split(" ")[0], expect,
                                                                lines))
        return lines

    def smtp_reply(self, timeout=10):
        """One SMTP/LMTP reply (all lines of a multi-line one). Raises on EOF."""
        lines = []
        while True:
            line = self.readline(timeout)
            if line is None:
                raise TestError("connection closed in the middle of a reply (%r)" % lines)
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                return lines

    def expect_greeting(self, timeout=10):
        line = self.readline(timeout)
        if line is None or not line.startswith(b"* OK"):
            raise TestError("bad greeting: %r" % (line,))
        return line

    def noop_ok(self, tag="x", timeout=10):
        """True when 'x NOOP' is answered 'x OK'."""
        try:
            lines = self.command("NOOP", tag=tag, timeout=timeout)
        except (TestError, OSError):
            return False
        return lines[-1].startswith(tag.encode() + b" OK")

    def expect_eof(self, timeout=5):
        """Read until EOF; returns the lines seen. Raises TestError if the server keeps it open."""
        lines = []
        deadline = time.time() + timeout * SLOW
        while True:
            remaining = deadline - time.time()
            if remaining <= 0:
                raise TestError("connection still open after %ss (lines %r)" % (timeout, lines))
            try:
                line = self.readline(remaining / SLOW)
            except TestError:
                raise TestError("connection still open after %ss (lines %r)" % (timeout, lines))
            if line is None:
                return lines
            lines.append(line)

    def silence(self, seconds):
        """Raise TestError if the server sends anything (or closes) within seconds."""
        if self.buf:
            raise TestError("unexpected data from the server: %r" % self.buf[:200])
        deadline = time.time() + seconds
        while True:
            remaining = deadline - time.time()
            if remaining <= 0:
                return
            try:
                got = self._fill(remaining)
            except TestError:
                return
            if not got:
                raise TestError("server closed the connection")
            if self.buf:
                raise TestError("unexpected data from the server: %r" % self.buf[:200])

    def starttls(self, ctx=None, server_hostname=None):
        """TLS handshake on the current socket (after the tagged OK to STARTTLS)."""
        if self.buf:
            raise TestError("plaintext after the STARTTLS OK (must be nothing): %r"
                            % self.buf[:200])
        ctx = ctx or client_ssl_context(None)
        self.sock.settimeout(15 * SLOW)
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)
        self.tls = True

    def close(self):
        try:
            if isinstance(self.sock, ssl.SSLSocket):
                try:
                    self.sock.settimeout(0.5)
                    self.sock.unwrap()
                except (OSError, ValueError):
                    pass
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        """Close without a TLS close_notify (and with RST when possible)."""
        try:
            raw = self.sock
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            raw.close()
        except OSError:
            pass

    def transcript_text(self, last=40):
        out = []
        for who, data in self.transcript[-last:]:
            text = data.decode("utf-8", "replace")
            if len(text) > 300:
                text = text[:300] + "...(%d bytes)" % len(data)
            out.append("%s: %s" % (who, text.rstrip("\r\n").replace("\r\n", "\\r\\n")))
        return "\n".join(out)


# ----------------------------------------------------------------------------------------------
# SCRAM-SHA-256 (RFC 5802, RFC 7677)


def b64(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.b64encode(data).decode("ascii")


def scram_saslname(name):
    return name.replace("=", "=3D").replace(",", "=2C")


class ScramClient:
    """Steps of a SCRAM-SHA-256 client. first() -> client-first; final(server_first) ->
    client-final; verify(server_final) checks the server signature."""

    def __init__(self, user, password, nonce=None, authzid=""):
        self.user = user
        self.password = password
        self.cnonce = nonce or base64.b64encode(os.urandom(18)).decode("ascii")
        self.gs2 = "n,%s," % (("a=" + scram_saslname(authzid)) if authzid else "")
        self.server_signature = None

    def first(self):
        self.first_bare = "n=%s,r=%s" % (scram_saslname(self.user), self.cnonce)
        return self.gs2 + self.first_bare

    def final(self, server_first):
        if isinstance(server_first, bytes):
            server_first = server_first.decode("utf-8")
        attrs = dict(kv.split("=", 1) for kv in server_first.split(",") if "=" in kv)
        nonce, salt, iters = attrs.get("r"), attrs.get("s"), attrs.get("i")
        if nonce is None or salt is None or iters is None:
            raise TestError("bad SCRAM server-first-message %r" % server_first)
        if not nonce.startswith(self.cnonce) or len(nonce) == len(self.cnonce):
            raise TestError("SCRAM server nonce %r does not extend ours %r" % (nonce, self.cnonce))
        iters = int(iters)
        if iters < 4096:
            raise TestError("SCRAM iteration count %d < 4096 (RFC 7677)" % iters)
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode("utf-8"),
                                     base64.b64decode(salt), iters)
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = "c=%s,r=%s" % (b64(self.gs2), nonce)
        auth_message = ",".join([self.first_bare, server_first, without_proof]).encode("utf-8")
        client_sig = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, client_sig))
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        self.server_signature = hmac.new(server_key, auth_message, hashlib.sha256).digest()
        return without_proof + ",p=" + b64(proof)

    def verify(self, server_final):
        if isinstance(server_final, bytes):
            server_final = server_final.decode("utf-8")
        if server_final.startswith("e="):
            raise TestError("SCRAM server error %r" % server_final)
        if not server_final.startswith("v="):
            raise TestError("bad SCRAM server-final-message %r" % server_final)
        got = base64.b64decode(server_final[2:])
        if not hmac.compare_digest(got, self.server_signature):
            raise TestError("SCRAM server signature mismatch")
        return True


def scram_exchange(conn, tag, user, password, ir=False, expect="OK", timeout=10):
    """Run AUTHENTICATE SCRAM-SHA-256 on conn. expect "OK": the exchange must succeed with a
    verified server signature; "NO": the server must go through the exchange (server-first
    included, so it does not reveal whether the user exists) and answer NO. Returns the lines."""
    sc = ScramClient(user, password)
    lines = []
    first = sc.first()
    if ir:
        conn.sendline("%s AUTHENTICATE SCRAM-SHA-256 %s" % (tag, b64(first)))
    else:
        conn.sendline("%s AUTHENTICATE SCRAM-SHA-256" % tag)
        line = conn.readline(timeout)
        lines.append(line)
        if line is None or not (line == b"+" or line.startswith(b"+ ")):
            raise TestError("expected an empty continuation, got %r" % (line,))
        if line.strip() != b"+":
            raise TestError("continuation before client-first must be empty, got %r" % line)
        conn.sendline(b64(first))
    line = conn.readline(timeout)
    lines.append(line)
    if line is None or not line.startswith(b"+ "):
        raise TestError("expected server-first continuation, got %r (a server that answers "
                        "before server-first reveals whether the user exists)" % (line,))
    try:
        server_first = base64.b64decode(line[2:], validate=True)
    except ValueError:
        raise TestError("server-first is not base64: %r" % line)
    conn.sendline(b64(sc.final(server_first)))
    line = conn.readline(timeout * 3)
    lines.append(line)
    tagged = tag.encode() + b" "
    if expect == "NO":
        if line is not None and line.startswith(b"+ "):
            raise TestError("wrong credentials got a server-final continuation %r" % line)
        if line is None or not line.startswith(tagged + b"NO"):
            raise TestError("expected %s NO, got %r" % (tag, line))
        return lines
    if line is None or not line.startswith(b"+ "):
        raise TestError("expected server-final continuation (v=...), got %r" % (line,))
    sc.verify(base64.b64decode(line[2:]))
    conn.sendline("")
    line = conn.readline(timeout)
    lines.append(line)
    if line is None or not line.startswith(tagged + b"OK"):
        raise TestError("expected %s OK after server-final, got %r" % (tag, line))
    return lines


# ----------------------------------------------------------------------------------------------
# processes


def proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def proc_ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
        return int(data.rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def pid_alive(pid):
    st = proc_state(pid)
    return st is not None and st != "Z"


def children_of(ppid):
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            pid = int(name)
            if proc_ppid(pid) == ppid and pid_alive(pid):
                out.append(pid)
    return sorted(out)


def descendants_of(ppid):
    out, todo = [], [ppid]
    while todo:
        p = todo.pop()
        for c in children_of(p):
            out.append(c)
            todo.append(c)
    return out


def vm_rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tcp_inode(local_port, remote_port):
    """Inode of the socket with the given local (server) and remote (client) port."""
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    lport = int(parts[1].rsplit(":", 1)[1], 16)
                    rport = int(parts[2].rsplit(":", 1)[1], 16)
                    if lport == local_port and rport == remote_port:
                        return parts[9]
        except OSError:
            pass
    return None


def socket_owner(server, conn, port=None):
    """Pid of the kura process holding the server end of conn's TCP connection (or None)."""
    if port is None:
        port = conn.sock.getpeername()[1]
    inode = _tcp_inode(port, conn.local_port())
    if inode is None or inode == "0":
        return None
    target = "socket:[%s]" % inode
    for pid in [server.pid] + descendants_of(server.pid):
        fddir = "/proc/%d/fd" % pid
        try:
            fds = os.listdir(fddir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(os.path.join(fddir, fd)) == target:
                    return pid
            except OSError:
                pass
    return None


def wait_for(pred, timeout=5, step=0.05):
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()
