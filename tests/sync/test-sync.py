#!/usr/bin/python3
"""test-sync.py: real sync clients against kura.

mbsync (isync): a local Maildir with several folders and a few hundred messages is pushed to
the server, flags changed on either side travel both ways, new mail on the server comes down,
a deletion on one side reaches the other. offlineimap3: a full sync of the same account into a
second Maildir matches what the server holds. Both run over IMAPS with kura's certificate.

    tests/sync/test-sync.py [--kura build/kura]
"""
import email.utils
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kura  # noqa: E402

USER, PASS = "syncer", "Sync-Pass-42"
FOLDERS = {"INBOX": 120, "Work": 80, "Work/Projects": 40, "Lists": 60}


def make_message(folder, i):
    date = email.utils.formatdate(1700000000 + i * 3600, localtime=False)
    body = ("Line %d of a message in %s.\n" % (i, folder)) * (1 + i % 7)
    return ("From: Sender %d <s%d@example.org>\nTo: %s@example.org\nSubject: %s message %d\n"
            "Date: %s\nMessage-ID: <%s.%d@sync.test>\n\n%s" %
            (i, i, USER, folder, i, date, folder.replace("/", "."), i, body))


def maildir_path(root, folder):
    # mbsync with SubFolders Verbatim: Work/Projects -> root/Work/Projects
    return root if folder == "INBOX" else os.path.join(root, folder)


def fill_maildir(root):
    for folder, n in FOLDERS.items():
        d = maildir_path(root, folder)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        for i in range(n):
            flags = "S" if i % 3 == 0 else ""
            flags += "F" if i % 10 == 0 else ""
            name = "%d.%d_%d.synctest:2,%s" % (1700000000 + i, os.getpid(), i, "".join(sorted(flags)))
            with open(os.path.join(d, "cur", name), "w") as f:
                f.write(make_message(folder, i))


def maildir_files(root, folder):
    d = maildir_path(root, folder)
    out = []
    for sub in ("cur", "new"):
        p = os.path.join(d, sub)
        if os.path.isdir(p):
            out += [os.path.join(p, f) for f in os.listdir(p)]
    return out


def maildir_flags(path):
    base = os.path.basename(path)
    return base.split(":2,", 1)[1] if ":2," in base else ""


def imap(srv):
    c = kura.Conn.connect(srv, tls=True)
    c.expect_greeting()
    c.command("LOGIN %s %s" % (USER, PASS), tag="l", expect="OK")
    return c


def server_state(srv, folder):
    """{message-id: flags set} of a folder on the server."""
    c = imap(srv)
    c.command('SELECT "%s"' % folder, tag="s", expect="OK")
    lines = c.command("FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])", tag="f")
    c.close()
    state = {}
    text = b"\n".join(l if isinstance(l, bytes) else b"" for l in lines)
    for m in re.finditer(rb"FLAGS \(([^)]*)\).*?Message-ID: (<[^>]+>)", text, re.S | re.I):
        state[m.group(2).decode()] = set(m.group(1).decode().split())
    return state


def run(cmd, env=None, timeout=300):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout, env=env)
    return r.returncode, r.stdout


def main():
    binary, _ = kura.binary_from_argv(sys.argv[1:])
    res = kura.Results()
    if not shutil.which("mbsync") or not shutil.which("offlineimap"):
        res.fail("mbsync and offlineimap are installed (scripts/setup installs isync, offlineimap3)")
        return res.summary()
    srv = kura.Server(binary, users={USER: PASS}, name="sync")
    ok = True
    try:
        srv.start()
        work = os.path.join(srv.dir, "client")
        local = os.path.join(work, "mail")
        os.makedirs(local)
        fill_maildir(local)
        cert = os.path.join(srv.data_dir, "tls", "cert.pem")
        rc_path = os.path.join(work, "mbsyncrc")
        with open(rc_path, "w") as f:
            f.write("IMAPAccount kura\nHost 127.0.0.1\nPort %d\nUser %s\nPass %s\n"
                    "SSLType IMAPS\nCertificateFile %s\n\n"
                    "IMAPStore remote\nAccount kura\n\n"
                    "MaildirStore local\nPath %s/\nInbox %s\nSubFolders Verbatim\n\n"
                    "Channel sync\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\n"
                    "Expunge Both\nSync All\nSyncState *\n"
                    % (srv.imaps_port, USER, PASS, cert, local, local))
        mbsync = ["mbsync", "-c", rc_path, "-a"]

        # 1. push everything up
        rcode, out = run(mbsync)
        ok = res.check("mbsync: first sync succeeds", rcode == 0, out[-3000:]) and ok
        for folder, n in FOLDERS.items():
            st = server_state(srv, folder)
            ok = res.check("mbsync: %s has its %d messages on the server" % (folder, n),
                           len(st) == n, "server has %d" % len(st)) and ok
            seen = sum(1 for f in st.values() if "\\Seen" in f)
            ok = res.check("mbsync: %s flags arrived" % folder,
                           seen == len([i for i in range(n) if i % 3 == 0]),
                           "seen on server: %d" % seen) and ok

        # 2. flags changed on the server come down; a message added on the server comes down
        c = imap(srv)
        c.command("SELECT Work", tag="s", expect="OK")
        c.command("STORE 2 +FLAGS (\\Flagged)", tag="t", expect="OK")
        msg = make_message("Work", 999).replace("\n", "\r\n").encode()
        c.command("APPEND Work {%d+}\r\n" % len(msg) + msg.decode(), tag="a", expect="OK")
        c.close()
        rcode, out = run(mbsync)
        ok = res.check("mbsync: second sync succeeds", rcode == 0, out[-3000:]) and ok
        files = maildir_files(local, "Work")
        ok = res.check("mbsync: the message appended on the server came down",
                       len(files) == FOLDERS["Work"] + 1, "local has %d" % len(files)) and ok
        flagged = [p for p in files if "F" in maildir_flags(p)]
        ok = res.check("mbsync: \\Flagged set on the server reached the Maildir",
                       len(flagged) == len([i for i in range(80) if i % 10 == 0]) + 1,
                       "flagged locally: %d" % len(flagged)) and ok

        # 3. a local change goes up: mark all of Lists seen, delete one message locally
        for p in maildir_files(local, "Lists"):
            fl = maildir_flags(p)
            if "S" not in fl:
                os.rename(p, p.split(":2,")[0] + ":2," + "".join(sorted(fl + "S")))
        victim = sorted(maildir_files(local, "Lists"))[0]
        os.unlink(victim)
        rcode, out = run(mbsync)
        ok = res.check("mbsync: third sync succeeds", rcode == 0, out[-3000:]) and ok
        st = server_state(srv, "Lists")
        ok = res.check("mbsync: local deletion reached the server", len(st) == FOLDERS["Lists"] - 1,
                       "server has %d" % len(st)) and ok
        ok = res.check("mbsync: local \\Seen reached the server",
                       all("\\Seen" in f for f in st.values()),
                       "unseen: %d" % sum(1 for f in st.values() if "\\Seen" not in f)) and ok

        # 4. offlineimap into a second Maildir
        oi_local = os.path.join(work, "oi-mail")
        oi_meta = os.path.join(work, "oi-meta")
        oi_conf = os.path.join(work, "offlineimaprc")
        with open(oi_conf, "w") as f:
            f.write("[general]\naccounts = kura\nmetadata = %s\nui = basic\n\n"
                    "[Account kura]\nlocalrepository = local\nremoterepository = remote\n\n"
                    "[Repository local]\ntype = Maildir\nlocalfolders = %s\n\n"
                    "[Repository remote]\ntype = IMAP\nremotehost = localhost\nremoteport = %d\n"
                    "remoteuser = %s\nremotepass = %s\nssl = yes\nsslcacertfile = %s\n"
                    "ssl_version = tls1_2\n"
                    % (oi_meta, oi_local, srv.imaps_port, USER, PASS, cert))
        rcode, out = run(["offlineimap", "-c", oi_conf, "-o", "-u", "basic"])
        ok = res.check("offlineimap: sync succeeds", rcode == 0 and "ERROR" not in out,
                       out[-3000:]) and ok
        total = 0
        for root, dirs, fs in os.walk(oi_local):
            if os.path.basename(root) in ("cur", "new"):
                total += len(fs)
        expect = sum(FOLDERS.values()) + 1 - 1
        ok = res.check("offlineimap: all %d messages came down" % expect, total == expect,
                       "offlineimap has %d" % total) and ok
        status = srv.stop()
        ok = res.check("server exits 0", status == 0, srv.log_tail()) and ok
        ok = res.check("no server process crashed", not srv.crashes_since(0),
                       "\n".join(srv.crashes_since(0))) and ok
        ok = res.check("no sanitizer report", not srv.sanitizer_reports(),
                       "\n".join(srv.sanitizer_reports()[:10])) and ok
    except (kura.TestError, OSError, subprocess.TimeoutExpired) as e:
        ok = False
        res.fail("sync run", "%s\n%s" % (e, srv.log_tail()))
    srv.cleanup(ok=ok)
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
