#!/usr/bin/python3
"""test-sync.py: real sync clients against kura.

mbsync (isync): a local Maildir with several folders and a few hundred messages is pushed to
the server, flags changed on either side travel both ways, new mail on the server comes down,
a deletion on one side reaches the other. offlineimap3: a full sync of the same account into a
second Maildir matches what the server holds. Both run over IMAPS with kura's certificate.

mbsync incremental (a second account): a full sync of four server folders into an empty
Maildir; then another IMAP session changes flags (system flags, $Forwarded, a keyword),
expunges, appends and moves messages between folders (MOVE, and COPY + EXPUNGE); the next
mbsync run must leave the Maildir equal to the server, folder by folder: the same messages
(by Message-ID, the bodies byte-equal after CRLF -> LF) with the flags mapped to Maildir
letters (D F P R S T). Then local changes (a flag set, one cleared, a file deleted, a new file)
go up with one more run and the server, read over IMAP, equals the Maildir again; a last run
changes nothing.

    tests/sync/test-sync.py [--kura build/kura]
"""
import email
import email.utils
import imaplib
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


# ----------------------------------------------------------------------------------------------
# mbsync incremental sync (second account)

INCR_USER, INCR_PASS = "incr", "Incr-Pass-9"
INCR_FOLDERS = ["INBOX", "Projects", "Projects/Old", "Read Later"]
# IMAP flag -> Maildir info letter, as mbsync maps them; keywords are not synced by isync 1.4.
FLAG_LETTERS = {"\\Draft": "D", "\\Flagged": "F", "$Forwarded": "P", "\\Answered": "R",
                "\\Seen": "S", "\\Deleted": "T"}


def incr_message(tag, extra_headers=""):
    return ("From: Mallory <m@example.org>\r\nTo: %s@example.org\r\nSubject: incr %s\r\n"
            "Date: Thu, 07 Mar 2024 09:00:00 +0000\r\nMessage-ID: <%s@incr.test>\r\n%s\r\n"
            "Body of %s.\r\nSecond line \u2014 8-bit %s.\r\n"
            % (INCR_USER, tag, tag, extra_headers, tag, tag * 3))


def key(tag):
    return "<%s@incr.test>" % tag


def strip_tuid(data):
    """mbsync may add an X-TUID header to what it uploads; not part of the message."""
    return re.sub(rb"(?im)^X-TUID: [^\n]*\n", b"", data, count=1)


def message_key(data):
    m = re.search(rb"(?im)^Message-ID:\s*(<[^>]+>)", data)
    return m.group(1).decode() if m else None


def imap_state(srv, folder):
    """{message-id: (Maildir letters, body with LF line ends)} of a server folder (imaplib)."""
    c = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=srv.ssl_context())
    try:
        c.login(INCR_USER, INCR_PASS)
        typ, _ = c.select('"%s"' % folder, readonly=True)
        if typ != "OK":
            raise kura.TestError("EXAMINE %s: %s" % (folder, typ))
        typ, data = c.fetch("1:*", "(FLAGS BODY.PEEK[])")
        state = {}
        if typ == "OK" and data and data[0] is not None:
            for item in data:
                if not isinstance(item, tuple):
                    continue
                flags = re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).decode().split()
                body = strip_tuid(item[1].replace(b"\r\n", b"\n"))
                letters = "".join(sorted(FLAG_LETTERS[f] for f in flags if f in FLAG_LETTERS))
                state[message_key(body)] = (letters, body)
        c.logout()
        return state
    finally:
        try:
            c.shutdown()
        except OSError:
            pass


def maildir_state(root, folder):
    state = {}
    for path in maildir_files(root, folder):
        with open(path, "rb") as f:
            body = strip_tuid(f.read())
        state[message_key(body)] = ("".join(sorted(maildir_flags(path))), body)
    return state


def compare_states(srv, local):
    """'' when every folder of the Maildir equals the server's, else a description."""
    out = []
    for folder in INCR_FOLDERS:
        a, b = imap_state(srv, folder), maildir_state(local, folder)
        for k in sorted(set(a) | set(b), key=str):
            if k not in b:
                out.append("%s: %s only on the server (flags %r)" % (folder, k, a[k][0]))
            elif k not in a:
                out.append("%s: %s only in the Maildir (flags %r)" % (folder, k, b[k][0]))
            elif a[k][0] != b[k][0]:
                out.append("%s: %s flags: server %r, Maildir %r" % (folder, k, a[k][0], b[k][0]))
            elif a[k][1] != b[k][1]:
                out.append("%s: %s content differs (%d vs %d bytes)"
                           % (folder, k, len(a[k][1]), len(b[k][1])))
    return "\n".join(out)


def incr_expect(what, state, srv, local):
    """Check the expected {folder: {message-id: letters}} against both sides."""
    out = []
    for folder in INCR_FOLDERS:
        got = {k: v[0] for k, v in imap_state(srv, folder).items()}
        if got != state[folder]:
            out.append("%s on the server: expected %r, got %r" % (folder, state[folder], got))
        got = {k: v[0] for k, v in maildir_state(local, folder).items()}
        if got != state[folder]:
            out.append("%s in the Maildir: expected %r, got %r" % (folder, state[folder], got))
    return "\n".join(out)


def incremental(srv, res, work, cert):
    """mbsync incremental sync after changes from another session; returns False on failure."""
    ok = True
    srv.user_add(INCR_USER, INCR_PASS)
    local = os.path.join(work, "incr-mail")
    os.makedirs(local)
    rc_path = os.path.join(work, "mbsyncrc-incr")
    with open(rc_path, "w") as f:
        f.write("IMAPAccount incr\nHost 127.0.0.1\nPort %d\nUser %s\nPass %s\n"
                "SSLType IMAPS\nCertificateFile %s\n\n"
                "IMAPStore incr-remote\nAccount incr\n\n"
                "MaildirStore incr-local\nPath %s/\nInbox %s\nSubFolders Verbatim\n\n"
                "Channel incr\nFar :incr-remote:\nNear :incr-local:\nPatterns *\n"
                "Create Both\nExpunge Both\nSync All\nSyncState *\n"
                % (srv.imaps_port, INCR_USER, INCR_PASS, cert, local, local))
    mbsync = ["mbsync", "-c", rc_path, "incr"]
    # expected state: folder -> {message-id: Maildir letters}
    want = {f: {} for f in INCR_FOLDERS}

    # the server side, filled over a raw IMAP session
    c = kura.Conn.connect(srv, tls=True)
    c.expect_greeting()
    c.command("LOGIN %s %s" % (INCR_USER, INCR_PASS), tag="l", expect="OK")
    for folder in INCR_FOLDERS[1:]:
        c.command('CREATE "%s"' % folder, tag="c", expect="OK")
    flag_cycle = [("", ""), ("\\Seen", "S"), ("\\Seen \\Flagged", "FS"),
                  ("\\Answered \\Seen", "RS"), ("\\Draft", "D"), ("$Forwarded \\Seen", "PS"),
                  ("$Label1", "")]
    n = 0
    for folder, count in zip(INCR_FOLDERS, (14, 10, 6, 4)):
        for i in range(count):
            tag = "%s-%d" % (folder.replace("/", "-").replace(" ", "-").lower(), i)
            flags, letters = flag_cycle[n % len(flag_cycle)]
            n += 1
            data = incr_message(tag).encode()
            c.command('APPEND "%s" (%s) {%d+}\r\n' % (folder, flags, len(data)) + data.decode(),
                      tag="a", expect="OK")
            want[folder][key(tag)] = letters

    def sync(what):
        rcode, out = run(mbsync)
        return res.check("mbsync incremental: %s: mbsync succeeds" % what, rcode == 0,
                         out[-3000:])

    def same(what, expect=True):
        diff = compare_states(srv, local)
        r = res.check("mbsync incremental: %s: the Maildir equals the server" % what, not diff,
                      diff[:3000])
        if expect:
            bad = incr_expect(what, want, srv, local)
            r = res.check("mbsync incremental: %s: messages and flags as expected" % what,
                          not bad, bad[:3000]) and r
        return r

    # 1. full sync into an empty Maildir
    ok = sync("full sync") and ok
    ok = same("full sync") and ok

    # 2. another session changes the server
    def uid_of(tag):
        lines = c.command("UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])", tag="u",
                          expect="OK")
        # the UID is on the FETCH line, the Message-ID in the literal after it
        uid = None
        for line in lines:
            m = re.search(rb"UID (\d+)", line)
            if m:
                uid = int(m.group(1))
            m = re.match(rb"Message-ID: (<[^>]+>)", line, re.I)
            if m and m.group(1).decode() == key(tag):
                return uid
        raise kura.TestError("no message %s" % tag)

    c.command("SELECT INBOX", tag="s", expect="OK")
    c.command("UID STORE %d +FLAGS (\\Seen \\Flagged)" % uid_of("inbox-0"), tag="t", expect="OK")
    want["INBOX"][key("inbox-0")] = "FS"
    c.command("UID STORE %d -FLAGS (\\Seen)" % uid_of("inbox-1"), tag="t", expect="OK")
    want["INBOX"][key("inbox-1")] = ""
    c.command("UID STORE %d FLAGS (\\Answered $Forwarded)" % uid_of("inbox-2"), tag="t",
              expect="OK")
    want["INBOX"][key("inbox-2")] = "PR"
    c.command("UID STORE %d -FLAGS (\\Draft)" % uid_of("inbox-4"), tag="t", expect="OK")
    want["INBOX"][key("inbox-4")] = ""
    c.command("UID STORE %d +FLAGS ($Label2)" % uid_of("inbox-6"), tag="t", expect="OK")
    # expunge two
    gone = [uid_of("inbox-7"), uid_of("inbox-8")]
    c.command("UID STORE %d,%d +FLAGS.SILENT (\\Deleted)" % tuple(gone), tag="t", expect="OK")
    c.command("UID EXPUNGE %d,%d" % tuple(gone), tag="e", expect="OK")
    del want["INBOX"][key("inbox-7")], want["INBOX"][key("inbox-8")]
    # move two INBOX -> Projects (MOVE), one Projects/Old -> INBOX (COPY + EXPUNGE)
    for tag in ("inbox-9", "inbox-10"):
        c.command("UID MOVE %d Projects" % uid_of(tag), tag="m", expect="OK")
        want["Projects"][key(tag)] = want["INBOX"].pop(key(tag))
    # appends
    for tag, flags, letters in (("new-1", "", ""), ("new-2", "\\Seen \\Flagged", "FS"),
                                ("new-3", "\\Answered", "R")):
        data = incr_message(tag).encode()
        c.command("APPEND INBOX (%s) {%d+}\r\n" % (flags, len(data)) + data.decode(), tag="a",
                  expect="OK")
        want["INBOX"][key(tag)] = letters
    data = incr_message("new-4").encode()
    c.command('APPEND "Read Later" {%d+}\r\n' % len(data) + data.decode(), tag="a", expect="OK")
    want["Read Later"][key("new-4")] = ""
    c.command('SELECT "Projects/Old"', tag="s", expect="OK")
    u = uid_of("projects-old-0")
    c.command("UID COPY %d INBOX" % u, tag="m", expect="OK")
    c.command("UID STORE %d +FLAGS.SILENT (\\Deleted)" % u, tag="t", expect="OK")
    c.command("UID EXPUNGE %d" % u, tag="e", expect="OK")
    want["INBOX"][key("projects-old-0")] = want["Projects/Old"].pop(key("projects-old-0"))
    c.command("LOGOUT", tag="o")
    c.close()

    ok = sync("after server changes") and ok
    ok = same("after server changes") and ok

    # 3. local changes go up
    def local_file(folder, tag):
        for p in maildir_files(local, folder):
            with open(p, "rb") as f:
                if message_key(f.read()) == key(tag):
                    return p
        raise kura.TestError("no local file for %s in %s" % (tag, folder))

    def set_letters(path, letters):
        base = path.split(":2,")[0]
        d = os.path.dirname(os.path.dirname(path))
        new = os.path.join(d, "cur", os.path.basename(base) + ":2," + letters)
        os.rename(path, new)

    set_letters(local_file("Projects", "inbox-9"), "FS")
    want["Projects"][key("inbox-9")] = "FS"
    set_letters(local_file("INBOX", "new-2"), "F")
    want["INBOX"][key("new-2")] = "F"
    os.unlink(local_file("INBOX", "inbox-3"))
    del want["INBOX"][key("inbox-3")]
    d = maildir_path(local, "Projects/Old")
    with open(os.path.join(d, "new", "1710000000.%d_1.incrtest" % os.getpid()), "wb") as f:
        f.write(incr_message("local-1").replace("\r\n", "\n").encode())
    want["Projects/Old"][key("local-1")] = ""
    ok = sync("local changes") and ok
    ok = same("local changes pushed") and ok

    # 4. nothing left to do
    before = {f: maildir_state(local, f) for f in INCR_FOLDERS}
    ok = sync("no-op run") and ok
    after = {f: maildir_state(local, f) for f in INCR_FOLDERS}
    ok = res.check("mbsync incremental: a run without changes changes nothing", before == after)\
        and ok
    ok = same("no-op run") and ok
    return ok


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
        # 5. mbsync incremental sync (second account)
        ok = incremental(srv, res, work, cert) and ok
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
