#!/usr/bin/python3
"""run-hostile.py: a corpus of hostile inputs against a real kura (RFC 9051 answers expected).

Usage: run-hostile.py [--kura BINARY] [-k SUBSTRING] [--list]

Each case (tests/hostile/cases.py) sends bytes in a given state (plain: STARTTLS port before
TLS; tls: implicit TLS port; auth: logged in over TLS, i.e. the mail process behind the login
relay; authplain: logged in on plaintext, i.e. the fd handed to the mail process) and checks the
response lines against patterns (tagged/untagged BAD, NO, BYE + close ...). Unless the case
ends the connection, "x NOOP" must then be answered "x OK" as the very next line. After every
case the server must accept a new connection and greet it. Cases marked mem check that the
RSS of the server's children does not grow by more than a few MB while and after they run.
"""
import os
import re
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import kura  # noqa: E402
import cases as corpus  # noqa: E402

USER, PASS = "mallory", "m4ll0ry-pass"


class CaseFail(Exception):
    pass


def rss_total(server):
    """RSS of the login and mail children (auth is left out: a password hash legitimately
    takes tens of MB for a moment)."""
    return sum(kura.vm_rss_kb(p) for p in server.children()
               if kura.proc_comm(p) in ("kura-login", "kura-mail"))


class MemSampler(threading.Thread):
    def __init__(self, server):
        super().__init__(daemon=True)
        self.server = server
        self.peak = 0
        self.stop_flag = False

    def run(self):
        while not self.stop_flag:
            self.peak = max(self.peak, rss_total(self.server))
            time.sleep(0.02)


def open_conn(server, mode):
    if mode == "plain":
        return server.connect("plain")
    if mode == "tls":
        return server.connect("tls")
    if mode == "auth":
        return server.login("tls", USER, PASS)
    if mode == "authplain":
        return server.login("plain", USER, PASS)
    if mode == "rawtls":
        return kura.Conn.connect(server, tls=False, port=server.imaps_port)
    if mode == "rawtls-queued":
        # The login processes are paused (SIGSTOP) so that the bytes the case sends are
        # already queued when the connection is accepted: the server sees the client's first
        # flight at once, which happens in real life on a loaded server or a fast client.
        pids = server.children_by_role().get("kura-login", [])
        for p in pids:
            os.kill(p, signal.SIGSTOP)
        STOPPED.extend(pids)
        return kura.Conn.connect(server, tls=False, port=server.imaps_port)
    raise ValueError(mode)


STOPPED = []


def resume_logins():
    while STOPPED:
        try:
            os.kill(STOPPED.pop(), signal.SIGCONT)
        except OSError:
            pass


def decode(line):
    return line.decode("latin-1")


def run_case(server, case, on_open=None):
    conn = open_conn(server, case["mode"])
    if on_open:
        on_open()
    end = case.get("end", "usable")
    seen = []
    closed = False
    bye = False
    try:
        for step in case["steps"]:
            op = step[0]
            if op == "send":
                conn.send(step[1])
            elif op == "send_bg":
                # big payloads: sent while reading (no second thread on an SSL socket)
                conn.send_pumped(step[1], timeout=case.get("timeout", 10) * 6)
            elif op == "send_slow":
                for i in range(len(step[1])):
                    conn.send(step[1][i:i + 1])
                    time.sleep(step[2])
            elif op == "resume":
                time.sleep(0.1)
                resume_logins()
            elif op == "join":
                pass
            elif op == "sleep":
                time.sleep(step[1])
            elif op in ("line", "opt"):
                alts = step[1] if isinstance(step[1], (list, tuple)) else [step[1]]
                try:
                    line = conn.readline(1.0 if op == "opt" else case.get("timeout", 10))
                except kura.TestError as e:
                    if op == "opt":
                        continue
                    raise CaseFail("no response (expected %s): %s" % (" | ".join(alts), e))
                if line is None:
                    if op == "opt":
                        closed = True
                        break
                    if end in ("either", "closed"):
                        closed = True
                        break
                    raise CaseFail("connection closed (expected %s)" % " | ".join(alts))
                text = decode(line)
                seen.append(text)
                if not any(re.fullmatch(a, text, re.S) for a in alts):
                    if op == "opt":
                        conn.buf = line + b"\r\n" + conn.buf
                        seen.pop()
                        continue
                    if end in ("either", "closed") and re.fullmatch(r"\* BYE .*", text):
                        bye = True
                        closed = True
                        break
                    raise CaseFail("line %r does not match %s" % (text[:300], " | ".join(alts)))
                if re.fullmatch(r"\* BYE .*", text):
                    bye = True   # expected; the steps may still expect the tagged OK
            elif op == "count":
                # n lines, each matching the pattern (pipelined floods)
                n, pat = step[1], step[2]
                for i in range(n):
                    line = conn.readline(case.get("timeout", 10))
                    if line is None:
                        raise CaseFail("connection closed after %d of %d responses" % (i, n))
                    if not re.fullmatch(pat, decode(line)):
                        raise CaseFail("response %d: %r does not match %s" % (i, line[:200], pat))
            elif op == "cont":
                line = conn.readline(case.get("timeout", 10))
                if line is None or not re.fullmatch(r"\+( .*)?", decode(line)):
                    raise CaseFail("expected a continuation, got %r" % (line,))
            elif op == "maybe_cont":
                # If the server asks for the literal, send it; otherwise the line is the answer.
                line = conn.readline(case.get("timeout", 10))
                if line is None:
                    raise CaseFail("connection closed")
                if re.fullmatch(r"\+( .*)?", decode(line)):
                    conn.send(step[1])
                else:
                    conn.buf = line + b"\r\n" + conn.buf
            elif op == "drain":
                pat, limit = step[1], step[2]
                for i in range(limit + 1):
                    try:
                        line = conn.readline(1.0)
                    except kura.TestError:
                        break
                    if line is None:
                        raise CaseFail("connection closed while draining")
                    if i == limit or not re.fullmatch(pat, decode(line)):
                        raise CaseFail("unexpected line %r (draining %s)" % (line[:200], pat))
            elif op == "eof_any":
                deadline = time.time() + 8 * kura.SLOW
                while True:
                    if time.time() > deadline:
                        raise CaseFail("the server kept the connection open")
                    conn.buf = b""
                    try:
                        if not conn._fill(deadline - time.time()):
                            break
                    except kura.TestError:
                        raise CaseFail("the server kept the connection open")
                closed = True
                break
            elif op == "silence":
                try:
                    conn.silence(step[1])
                except kura.TestError as e:
                    raise CaseFail(str(e))
            elif op == "starttls":
                try:
                    conn.starttls(server.ssl_context(verify=True))
                except (kura.TestError, OSError) as e:
                    raise CaseFail("TLS handshake after STARTTLS: %s" % e)
            elif op == "starttls_fail":
                try:
                    conn.starttls(server.ssl_context(verify=True))
                except (kura.TestError, OSError):
                    closed = True
                    break
                raise CaseFail("TLS handshake unexpectedly succeeded")
            elif op == "disconnect":
                conn.abort() if step[1:2] == ("rst",) else conn.close()
                closed = True
                break
            else:
                raise ValueError(op)
        if bye:
            closed = True
            try:
                rest = conn.expect_eof(case.get("close_within", 8))
            except kura.TestError as e:
                raise CaseFail("after * BYE: %s" % e)
            if rest:
                raise CaseFail("lines after * BYE: %r" % rest[:3])
        if closed and end == "usable":
            raise CaseFail("the server closed the connection (the case expects it usable); "
                           "lines %r" % seen[-3:])
        if not closed and end in ("usable", "either"):
            conn.sendline("x NOOP")
            try:
                line = conn.readline(case.get("timeout", 10))
            except kura.TestError as e:
                raise CaseFail("x NOOP not answered: %s" % e)
            if line is None and end == "either":
                closed = True
            elif line is not None and end == "either" and re.fullmatch(rb"\* BYE .*", line):
                closed = True
                try:
                    conn.expect_eof(5)
                except kura.TestError as e:
                    raise CaseFail("after BYE: %s" % e)
            elif line is None or not re.fullmatch(rb"x OK .*", line):
                raise CaseFail("x NOOP: expected 'x OK ...' as the next line, got %r"
                               % (line[:300] if line else line))
        if not closed and end == "closed":
            try:
                lines = conn.expect_eof(case.get("close_within", 8))
            except kura.TestError as e:
                raise CaseFail(str(e))
            bad = [l for l in lines if not re.fullmatch(rb"\* BYE .*", l)]
            if bad:
                raise CaseFail("lines before close: %r" % bad[:3])
    finally:
        resume_logins()
        conn.close()


def alive(server, mode):
    """The server still greets a new connection on both ports."""
    for m in ("plain", "tls"):
        c = server.connect(m, timeout=10)
        ok = c.noop_ok("z")
        c.close()
        if not ok:
            raise CaseFail("new %s connection: NOOP not answered OK" % m)


def main():
    binary, args = kura.binary_from_argv(sys.argv[1:])
    sel = None
    if "-k" in args:
        sel = args[args.index("-k") + 1]
    all_cases = corpus.build()
    names = ["%s [%s]" % (c["name"], c["mode"]) for c in all_cases]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        print("duplicate case names: %s" % sorted(dup))
        return 1
    if "--list" in args:
        for n in names:
            print(n)
        print("%d cases" % len(all_cases))
        return 0
    if sel:
        all_cases = [c for c in all_cases if sel in c["name"]]
    res = kura.Results()
    if not os.access(binary, os.X_OK):
        res.fail("kura binary %s is missing" % binary)
        return res.summary()
    san = kura.is_san_binary(binary)
    if san:
        kura.SLOW = max(kura.SLOW, 3.0)
    # RSS is only measured on the normal build: under ASan the quarantine of freed blocks and
    # the shadow memory make RSS grow with any allocation churn (this build checks memory
    # safety, the normal one memory use).
    mem_limit_kb = None if san else 4 * 1024
    if san:
        print("# sanitizer build: RSS limits not checked (see the normal build's run)")

    def new_server():
        s = kura.Server(binary, config={"plaintext_auth": "loopback"},
                        users={USER: PASS}, name="hostile")
        s.start()
        s.wait_children({"kura-login": 2, "kura-auth": 1, "kura-mail": 2})
        return s

    server = new_server()
    all_ok = True
    for case in all_cases:
        name = "%s [%s]" % (case["name"], case["mode"])
        detail = None
        try:
            mem = {}
            sampler = None
            log_offset = server.log_size()

            def start_sampler():
                # the baseline is taken with the connection open (and logged in)
                time.sleep(0.1)
                mem["base"] = rss_total(server)
                mem["sampler"] = MemSampler(server)
                mem["sampler"].start()
            try:
                run_case(server, case, start_sampler if case.get("mem") and mem_limit_kb
                         else None)
            finally:
                sampler = mem.get("sampler")
                if sampler:
                    sampler.stop_flag = True
                    sampler.join()
            base = mem.get("base", 0)
            if server.proc.poll() is not None:
                raise CaseFail("the server exited (status %s)" % server.proc.returncode)
            alive(server, case["mode"])
            crashes = server.crashes_since(log_offset)
            if crashes:
                raise CaseFail("a server process crashed:\n" + "\n".join(crashes))
            if case.get("mem") and mem_limit_kb:
                time.sleep(0.2)
                after = rss_total(server)
                growth = max(sampler.peak, after) - base
                if growth > mem_limit_kb:
                    raise CaseFail("children RSS grew by %d KiB (before %d, peak %d, after %d;"
                                   " limit %d KiB)" % (growth, base, sampler.peak, after,
                                                       mem_limit_kb))
        except (CaseFail, kura.TestError, OSError) as e:
            detail = "%s: %s" % (type(e).__name__, e)
        if detail is None:
            res.ok(name)
            continue
        all_ok = False
        res.fail(name, detail + "\nsent: %s\nlog tail:\n%s" % (describe(case),
                                                               server.log_tail(8)))
        if server.proc.poll() is not None or not quick_alive(server):
            print("#   server dead or unresponsive; restarting it")
            server.stop()
            server.cleanup(ok=False)
            server = new_server()
    status = server.stop()
    crashes = server.crashes_since(0)
    all_ok = res.check("hostile server: no child crashed (whole run and shutdown)",
                       not crashes, "\n".join(crashes[:20])) and all_ok
    res.check("hostile server exits 0 on SIGTERM", status == 0,
              "status %s\n%s" % (status, server.log_tail()))
    sanrep = server.sanitizer_reports()
    res.check("hostile server log has no sanitizer report", not sanrep, "\n".join(sanrep[:20]))
    server.cleanup(ok=all_ok and status == 0 and not sanrep)
    if not (all_ok and status == 0):
        print("# server dir kept: %s" % server.dir)
    print("# %d cases in the corpus" % len(corpus.build()))
    return res.summary()


def quick_alive(server):
    try:
        alive(server, "plain")
        return True
    except (CaseFail, kura.TestError, OSError):
        return False


def describe(case):
    out = []
    for step in case["steps"]:
        if step[0] in ("send", "send_bg", "send_slow", "maybe_cont"):
            d = step[1]
            s = repr(d[:120]) + ("...(%d bytes)" % len(d) if len(d) > 120 else "")
            out.append("%s %s" % (step[0], s))
        elif step[0] in ("line", "opt"):
            out.append("%s %s" % (step[0], step[1]))
        else:
            out.append(" ".join(str(x) for x in step))
    return "; ".join(out)


if __name__ == "__main__":
    sys.exit(main())
