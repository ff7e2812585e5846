#!/usr/bin/python3
"""test-imapflow.py: node's imapflow (npm) as a real client of kura.

Starts kura with the harness, adds a user, and runs tests/node/test-imapflow.mjs with node,
passing the IMAPS port, kura's certificate (as the only trusted CA) and the credentials in
environment variables. The node script prints one JSON line per check; they become this suite's
"ok - imapflow: ..." / "not ok - imapflow: ..." lines. The checks: TLS verified, login, LIST,
CREATE/RENAME/DELETE, APPEND, FETCH (envelope, body structure, source), download of a MIME part,
STORE, MOVE, COPY, EXPUNGE, and IDLE events ('exists', 'flags', 'expunge') for changes made by a
second client; with CONDSTORE and QRESYNC advertised, imapflow must have enabled them and flag
events must carry MODSEQ (while kura does not advertise them, those checks are not run and a
"# imapflow: ... not advertised" line says so). node (>= 18) and tests/node/node_modules (scripts/setup runs `npm ci` there) are required:
without them the suite fails. imapflow is pinned to 2.10.2 (tests/node/package-lock.json); it
declares node >= 20 but passes here on Debian 12's node 18.20 given --experimental-global-webcrypto
(its only use of a newer API is globalThis.crypto), which this wrapper adds on node 18.

    tests/node/test-imapflow.py [--kura build/kura]
"""
import json
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import kura  # noqa: E402

USER, PASS = "flow", "Flow-Pass-7"
SCRIPT = os.path.join(HERE, "test-imapflow.mjs")


def node_version(node):
    try:
        out = subprocess.run([node, "--version"], stdout=subprocess.PIPE, text=True,
                             timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None, ""
    m = re.match(r"v(\d+)\.", out)
    return (int(m.group(1)) if m else None), out


def main():
    binary, _ = kura.binary_from_argv(sys.argv[1:])
    res = kura.Results()
    node = shutil.which("node") or shutil.which("nodejs")
    major, ver = node_version(node) if node else (None, "")
    if not node or major is None or major < 18:
        res.fail("node >= 18 is installed (scripts/setup installs nodejs and npm)",
                 "node: %s %s" % (node, ver))
        return res.summary()
    if not os.path.isfile(os.path.join(HERE, "node_modules", "imapflow", "package.json")):
        res.fail("imapflow is installed in tests/node/node_modules (scripts/setup runs npm ci "
                 "there)")
        return res.summary()

    srv = kura.Server(binary, users={USER: PASS}, name="imapflow")
    ok = True
    try:
        srv.start()
        env = dict(os.environ)
        env.update({
            "KURA_HOST": "127.0.0.1",
            "KURA_IMAPS_PORT": str(srv.imaps_port),
            "KURA_CA": os.path.join(srv.data_dir, "tls", "cert.pem"),
            "KURA_USER": USER,
            "KURA_PASS": PASS,
            "KURA_TEST_SLOW": str(kura.SLOW),
        })
        try:
            # imapflow 2.x uses the global Web Crypto object, a flag on node 18 (Debian 12's)
            flags = ["--experimental-global-webcrypto"] if major < 19 else []
            p = subprocess.run([node] + flags + [SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env, cwd=HERE, timeout=240 * kura.SLOW)
            stdout, stderr, rc = p.stdout, p.stderr, p.returncode
        except subprocess.TimeoutExpired as e:
            stdout, stderr, rc = e.stdout or b"", e.stderr or b"", "timeout"
        done = None
        other = []
        for line in stdout.decode("utf-8", "replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                other.append(line)
                continue
            if not isinstance(rec, dict):
                other.append(line)
            elif "done" in rec:
                done = rec
            elif "note" in rec:
                print("# imapflow: " + str(rec["note"]), flush=True)
            elif "name" in rec:
                name = "imapflow: " + rec["name"]
                if rec.get("ok"):
                    res.ok(name)
                else:
                    ok = False
                    res.fail(name, rec.get("detail", ""))
            else:
                other.append(line)
        tail = "\n".join(other[-20:] + stderr.decode("utf-8", "replace").splitlines()[-30:])
        ok = res.check("imapflow: the node script ran to the end (exit 0)",
                       done is not None and not done.get("aborted") and rc == 0,
                       "exit %s\n%s" % (rc, tail)) and ok
        status = srv.stop()
        ok = res.check("server exits 0", status == 0, srv.log_tail()) and ok
        ok = res.check("no server process crashed", not srv.crashes_since(0),
                       "\n".join(srv.crashes_since(0))) and ok
        ok = res.check("no sanitizer report", not srv.sanitizer_reports(),
                       "\n".join(srv.sanitizer_reports()[:10])) and ok
    except (kura.TestError, OSError) as e:
        ok = False
        res.fail("imapflow run", "%s\n%s" % (e, srv.log_tail()))
    if not ok and res.failed:
        print("# server log tail:\n" + "\n".join("#   " + l for l in srv.log_tail(30).splitlines()))
    srv.cleanup(ok=ok)
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
