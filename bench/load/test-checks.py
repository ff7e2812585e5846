#!/usr/bin/python3
"""bench/load/test-checks.py: prove that kura-load's correctness checks catch server mistakes.

Runs kura-load through a proxy that corrupts the server's responses in one way per case
(a wrong UID in a FETCH, flags that do not match, one byte of a body changed, a lost EXPUNGE,
an EXISTS that grows by itself, a tagged OK turned into NO, a wrong RFC822.SIZE, a literal
that announces the wrong length) and checks that kura-load counts errors of the expected kind
and exits 1. A "pass" case through the same proxy without corruption must give 0 errors, so
the proxy itself is transparent.

    bench/load/test-checks.py --kura-load build/kura-load --port PORT [--users-first N]

The server on PORT must accept LOGIN for PREFIX<N>.. (password benchpw) over plaintext, e.g.
the kura that bench/run-quick starts. Standard library only; prints "N passed, N failed"."""
import argparse
import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading

LIT_RE = re.compile(rb"\{(\d+)\}\r\n$")


class Corruptor:
    """Decides, per response, whether and how to corrupt it. A response is a list of
    segments: ('t', text bytes ending in CRLF) and ('l', literal bytes)."""

    LIMIT = 2  # corruptions per connection: the client must recover (resync) after them

    def __init__(self, mode):
        self.mode = mode
        self.seen = 0
        self.done = 0

    def due(self, every=25, warmup=40):
        self.seen += 1
        return self.done < self.LIMIT and self.seen > warmup and self.seen % every == 0

    def apply(self, segs):
        m = self.mode
        head = segs[0][1]
        if m == "pass":
            return segs
        if m == "uid" and b" FETCH (" in head and b"UID " in head and self.due():
            segs[0] = ("t", re.sub(rb"UID (\d+)", lambda x: b"UID %d" % (int(x.group(1)) + 7),
                                   head, count=1))
        elif m == "flags" and b" FETCH (" in head and b"FLAGS (" in head and self.due(10):
            segs[0] = ("t", head.replace(b"FLAGS (", b"FLAGS (\\Flagged ", 1)
                       if b"\\Flagged" not in head else head.replace(b"\\Flagged", b"", 1))
        elif m == "body" and b"BODY[]" in head and len(segs) > 1 and self.due(5, 5):
            for i, (kind, data) in enumerate(segs):
                if kind == "l" and len(data) > 10:
                    b = bytearray(data)
                    b[len(b) // 2] ^= 0x20
                    segs[i] = ("l", bytes(b))
                    break
        elif m == "expunge" and re.match(rb"\* \d+ EXPUNGE\r\n", head) and self.due(3, 3):
            self.done += 1
            return []
        elif m == "exists" and re.match(rb"\* \d+ EXISTS\r\n", head) and self.due(5, 10):
            n = int(head.split()[1])
            segs[0] = ("t", b"* %d EXISTS\r\n" % (n + 1))
        elif m == "no" and re.match(rb"k\d+ OK", head) and self.due(30):
            segs[0] = ("t", re.sub(rb"^(k\d+) OK", rb"\1 NO", head))
        elif m == "size" and b"RFC822.SIZE " in head and self.due(10):
            segs[0] = ("t", re.sub(rb"RFC822\.SIZE (\d+)",
                                   lambda x: b"RFC822.SIZE %d" % (int(x.group(1)) + 1), head,
                                   count=1))
        elif m == "literal" and len(segs) > 1 and self.due(10):
            # announce one byte less than is sent: the framing breaks
            text = segs[0][1]
            mm = LIT_RE.search(text)
            if mm and int(mm.group(1)) > 2:
                segs[0] = ("t", text[:mm.start()] + b"{%d}\r\n" % (int(mm.group(1)) - 1))
        else:
            return segs
        self.done += 1
        return segs


async def pump_server(reader, writer, corr):
    buf = b""
    segs = []
    need = 0
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            buf += data
            while True:
                if need > 0:
                    if len(buf) < need:
                        break
                    segs.append(("l", buf[:need]))
                    buf = buf[need:]
                    need = 0
                    continue
                i = buf.find(b"\n")
                if i < 0:
                    break
                line, buf = buf[:i + 1], buf[i + 1:]
                segs.append(("t", line))
                mm = LIT_RE.search(line)
                if mm:
                    need = int(mm.group(1))
                    if need > 0:
                        continue
                    segs.append(("l", b""))
                    continue
                # merge the text of a multi-line response into segments as they are
                out = corr.apply(segs)
                if writer.is_closing():
                    return
                writer.write(b"".join(d for _, d in out))
                segs = []
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def pump_client(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data or writer.is_closing():
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


class Proxy:
    def __init__(self, upstream_port, mode):
        self.upstream_port = upstream_port
        self.mode = mode
        self.corrs = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        self.ready.wait(10)

    async def handle(self, creader, cwriter):
        try:
            sreader, swriter = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            cwriter.close()
            return
        corr = Corruptor(self.mode)
        self.corrs.append(corr)
        await asyncio.gather(pump_client(creader, swriter), pump_server(sreader, cwriter, corr))

    def run(self):
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self.handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    def corruptions(self):
        return sum(c.done for c in self.corrs)


# mode -> error kinds that must appear (any of them)
CASES = [
    ("pass", None),
    ("uid", {"check"}),
    ("flags", {"check"}),
    ("body", {"check"}),
    ("expunge", {"check"}),
    ("exists", {"check"}),
    ("no", {"no"}),
    ("size", {"check"}),
    ("literal", {"check"}),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kura-load", default="build/kura-load")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--users-first", type=int, default=1)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--duration", type=int, default=3)
    ap.add_argument("--mbox")
    ap.add_argument("-k", help="only cases whose name contains this")
    a = ap.parse_args()
    passed = failed = 0
    tmp = tempfile.mkdtemp(prefix="kura-load-checks-")
    for mode, want in CASES:
        if a.k and a.k not in mode:
            continue
        proxy = Proxy(a.port, mode)
        js = os.path.join(tmp, mode + ".json")
        cmd = [a.kura_load, "--port", str(proxy.port), "-c", str(a.clients), "-d",
               str(a.duration), "--user-first", str(a.users_first), "--mix", "basic",
               "--prefill", "30", "-q", "--errors", "3", "--json", js, "--timeout", "10"]
        if a.mbox:
            cmd += ["--mbox", a.mbox]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=180)
        proxy.stop()
        try:
            res = json.load(open(js))
        except (OSError, ValueError) as e:
            print("not ok - %s: no JSON result (%s); exit %d\n%s" % (mode, e, p.returncode,
                                                                      p.stderr.decode()[-2000:]))
            failed += 1
            continue
        kinds = {}
        for phase in ("setup", "run", "teardown"):
            for op in res[phase]["ops"].values():
                for k, v in op["errors"].items():
                    kinds[k] = kinds.get(k, 0) + v
        total = res["errors"]
        if want is None:
            ok = total == 0 and p.returncode == 0
            why = "%d errors, exit %d" % (total, p.returncode)
        else:
            hit = [k for k in want if kinds.get(k, 0) > 0]
            ok = proxy.corruptions() > 0 and bool(hit) and p.returncode == 1
            why = "%d corruptions, errors %s, exit %d" % (
                proxy.corruptions(), {k: v for k, v in kinds.items() if v}, p.returncode)
        if ok:
            passed += 1
            print("ok - %s (%s)" % (mode, why))
        else:
            failed += 1
            print("not ok - %s (%s)" % (mode, why))
            print(p.stderr.decode()[-1500:])
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
