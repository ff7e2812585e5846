#!/usr/bin/python3
"""test-lmtp.py: LMTP delivery and `kura deliver` beyond single conversations (issue 7).

Real kura. Covers: an IMAP session in IDLE sees EXISTS after an LMTP delivery and after
`kura deliver` (both go through the store, whose commits the user's mail process watches);
`kura deliver` itself (byte-exact storage with LF turned into CRLF, an mbox "From " line
dropped, Return-Path / Delivered-To, -m MAILBOX and its fallback to INBOX, the sysexits.h exit
codes 64 / 65 / 67 / 75, dropping to the configured user when run as root); a store that
cannot be written gives 451 4.3.0 over LMTP for that recipient only (and EX_TEMPFAIL from
`kura deliver`), never a silent loss; an auth process that does not answer gives 451 (never
550), one that dies under a pending RCPT is restarted and the lookup answered; a 60 MB message through LMTP costs the lmtp process no more than a few MiB of
anonymous memory and leaves no spool file behind; concurrent deliveries from many clients to
many users all land (the delivery rate is printed); the UNIX socket's permissions; a
configuration with LMTP disabled starts without lmtp processes; SIGTERM answers an open LMTP
session with 421; the lmtp process's store pool keeps at most lmtp_open_stores_max stores open
and reopens parked ones (a parked store whose folder went away: 451, not a new empty store).

    tests/lmtp/test-lmtp.py [--kura PATH]
"""
import hashlib
import imaplib
import os
import re
import signal
import socket
import stat
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kura  # noqa: E402

PASS = "lmtp-Pass-1"
EX_OK, EX_USAGE, EX_DATAERR, EX_NOUSER, EX_TEMPFAIL = 0, 64, 65, 67, 75
TRACE = re.compile(rb"^(?:(?:Return-Path|Delivered-To|Received):[^\r]*\r\n(?:[ \t][^\r]*\r\n)*)+",
                   re.I)
_users = []


def new_user(srv, stem):
    name = "%s-%d" % (stem, len(_users) + 1)
    srv.user_add(name, PASS)
    _users.append(name)
    return name


def message(subject, body="hello\r\n", size=0):
    text = "Subject: %s\r\nMessage-ID: <%s@lmtp.test>\r\n\r\n%s" % (
        subject, hashlib.sha1(subject.encode()).hexdigest(), body)
    data = text.encode("utf-8")
    if size > len(data):
        line = b"0123456789" * 7 + b"abcdef\r\n"
        data += line * ((size - len(data)) // len(line))
    return data


def dot_stuff(data):
    out = re.sub(rb"(^|\r\n)\.", rb"\1..", data)
    if not out.endswith(b"\r\n"):
        out += b"\r\n"
    return out + b".\r\n"


def lmtp_transaction(conn, sender, rcpts, data, lhlo=True):
    """One transaction, pipelined. Returns ([RCPT reply lines], [per-recipient replies after
    the data]) as bytes; the data replies are only read for accepted recipients."""
    cmds = b""
    if lhlo:
        cmds += b"LHLO test.client\r\n"
    cmds += b"MAIL FROM:<%s>\r\n" % sender.encode()
    for r in rcpts:
        cmds += b"RCPT TO:<%s>\r\n" % r.encode()
    cmds += b"DATA\r\n"
    conn.send(cmds)
    if lhlo:
        conn.smtp_reply()
    mail = conn.smtp_reply()[0]
    if not mail.startswith(b"250 "):
        raise kura.TestError("MAIL refused: %r" % mail)
    rcpt_replies = [conn.smtp_reply()[0] for _ in rcpts]
    data_reply = conn.smtp_reply()[0]
    accepted = sum(1 for r in rcpt_replies if r.startswith(b"250 "))
    if accepted == 0:
        if not data_reply.startswith(b"503 "):
            raise kura.TestError("DATA without recipients: %r" % data_reply)
        return rcpt_replies, []
    if not data_reply.startswith(b"354 "):
        raise kura.TestError("DATA refused: %r" % data_reply)
    conn.sock.settimeout(120 * kura.SLOW)
    conn.sock.sendall(dot_stuff(data))
    return rcpt_replies, [conn.smtp_reply(timeout=120)[0] for _ in range(accepted)]


def imap(srv, user):
    m = imaplib.IMAP4("127.0.0.1", srv.imap_port)
    cred = b"\0" + user.encode() + b"\0" + PASS.encode()
    m.authenticate("PLAIN", lambda _: cred)
    return m


def mailbox_messages(srv, user, box="INBOX"):
    """[stored bytes] of every message in box, in UID order."""
    m = imap(srv, user)
    try:
        typ, _ = m.select('"%s"' % box, readonly=True)
        if typ != "OK":
            raise kura.TestError("cannot select %s of %s" % (box, user))
        typ, data = m.uid("FETCH", "1:*", "(BODY.PEEK[])")
        if typ != "OK":
            raise kura.TestError("UID FETCH failed: %r" % data)
        return [d[1] for d in data if isinstance(d, tuple)]
    finally:
        m.logout()


def count(srv, user, box="INBOX"):
    m = imap(srv, user)
    try:
        typ, data = m.status('"%s"' % box, "(MESSAGES)")
        got = re.search(rb"MESSAGES (\d+)", data[0] or b"")
        return int(got.group(1)) if typ == "OK" and got else -1
    finally:
        m.logout()


def strip_trace(msg):
    m = TRACE.match(msg)
    return (m.group(0) if m else b""), msg[m.end() if m else 0:]


def idle_session(srv, user):
    c = srv.connect("plain")
    c.command("LOGIN %s %s" % (kura.imap_quote(user), kura.imap_quote(PASS)), tag="l",
              expect="OK")
    c.command("SELECT INBOX", tag="s", expect="OK")
    c.send(b"i IDLE\r\n")
    line = c.readline(5)
    if line != b"+ idling":
        raise kura.TestError("IDLE: %r" % line)
    return c


def wait_exists(c, n, timeout=5):
    want = b"* %d EXISTS" % n
    deadline = time.time() + timeout * kura.SLOW
    got = []
    while time.time() < deadline:
        line = c.readline(max(0.1, deadline - time.time()))
        if line is None:
            raise kura.TestError("EOF during IDLE; got %r" % got)
        got.append(line)
        if line == want:
            return
    raise kura.TestError("no %r during IDLE; got %r" % (want, got))


def deliver(srv, *args, data=b"", config=None):
    """Run kura deliver (stdin = data bytes); return CompletedProcess."""
    import subprocess
    cmd = [srv.binary, "-c", config or srv.conf_path, "deliver"] + list(args)
    return subprocess.run(cmd, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=60 * kura.SLOW)


# ---------------------------------------------------------------------------------------------


def t_idle_sees_lmtp(srv):
    user = new_user(srv, "idle-lmtp")
    c = idle_session(srv, user)
    try:
        l = srv.lmtp_connect()
        t0 = time.time()
        _, replies = lmtp_transaction(l, "a@example.org", ["%s@example.com" % user],
                                      message("idle one"))
        assert replies[0].startswith(b"250 2.0.0"), replies
        wait_exists(c, 1)
        latency = time.time() - t0
        # a second delivery on the same LMTP connection
        _, replies = lmtp_transaction(l, "a@example.org", ["%s@example.com" % user],
                                      message("idle two"), lhlo=False)
        wait_exists(c, 2)
        l.close()
        c.send(b"DONE\r\n")
        assert c.read_until_tagged("i", 5)[-1].startswith(b"i OK")
        print("#   LMTP DATA sent to EXISTS pushed in IDLE: %.1f ms" % (latency * 1000))
    finally:
        c.close()


def t_idle_sees_kura_deliver(srv):
    user = new_user(srv, "idle-deliver")
    c = idle_session(srv, user)
    try:
        r = deliver(srv, "-u", user, data=b"Subject: from deliver\n\nbody\n")
        assert r.returncode == EX_OK, (r.returncode, r.stderr)
        wait_exists(c, 1)
        r = deliver(srv, "-u", user.upper(), data=b"Subject: again\n\nbody\n")
        assert r.returncode == EX_OK, (r.returncode, r.stderr)
        wait_exists(c, 2)
        c.send(b"DONE\r\n")
        assert c.read_until_tagged("i", 5)[-1].startswith(b"i OK")
    finally:
        c.close()


def t_deliver_storage(srv):
    user = new_user(srv, "deliver")
    # LF line ends (as MTAs pipe them) become CRLF; CRLF stays; a bare CR stays; the mbox
    # "From " line is dropped; lines starting with "." are not touched (no SMTP dot rules)
    data = (b"From sender@example.org Thu Jan  1 00:00:00 2026\n"
            b"Subject: piped\nX-CR: a\rb\n\n.leading dot\r\nline\n.\n")
    r = deliver(srv, "-u", user, "-f", "<sender@example.org>", "-a", user + "+x@example.com",
                data=data)
    assert r.returncode == EX_OK, (r.returncode, r.stderr)
    msgs = mailbox_messages(srv, user)
    assert len(msgs) == 1, msgs
    trace, rest = strip_trace(msgs[0])
    assert rest == b"Subject: piped\r\nX-CR: a\rb\r\n\r\n.leading dot\r\nline\r\n.\r\n", rest
    assert trace == (b"Return-Path: <sender@example.org>\r\nDelivered-To: %s+x@example.com\r\n"
                     % user.encode()), trace
    # without -f no Return-Path; without -a the user is the Delivered-To (as Dovecot's LDA)
    r = deliver(srv, "-u", user, data=b"Subject: bare\r\n\r\nx\r\n")
    assert r.returncode == EX_OK, r.stderr
    trace, rest = strip_trace(mailbox_messages(srv, user)[1])
    assert trace == b"Delivered-To: %s\r\n" % user.encode(), trace
    assert rest == b"Subject: bare\r\n\r\nx\r\n"
    # an empty message and one without a final line end
    r = deliver(srv, "-u", user, data=b"")
    assert r.returncode == EX_OK, r.stderr
    r = deliver(srv, "-u", user, data=b"Subject: no end\n\nlast")
    assert r.returncode == EX_OK, r.stderr
    msgs = mailbox_messages(srv, user)
    assert strip_trace(msgs[2])[1] == b"" and strip_trace(msgs[3])[1] == \
        b"Subject: no end\r\n\r\nlast", msgs[2:]
    # a big message through the pipe, byte-exact
    big = message("big piped", size=5 * 1024 * 1024)
    r = deliver(srv, "-u", user, data=big)
    assert r.returncode == EX_OK, r.stderr
    got = strip_trace(mailbox_messages(srv, user)[4])[1]
    assert hashlib.sha256(got).digest() == hashlib.sha256(big).digest(), len(got)


def t_deliver_mailbox(srv):
    user = new_user(srv, "deliver-box")
    m = imap(srv, user)
    m.create("Lists")
    m.create('"Lists/kura"')
    m.logout()
    for box, want in (("Lists/kura", "Lists/kura"), ("Lists", "Lists"), ("inbox", "INBOX"),
                      ("NoSuchBox", "INBOX"), ("../escape", "INBOX")):
        r = deliver(srv, "-u", user, "-m", box, data=message("to " + box))
        assert r.returncode == EX_OK, (box, r.stderr)
    # without -m, the detail of the -a address picks the mailbox (as over LMTP)
    r = deliver(srv, "-u", user, "-a", "%s+Lists@example.com" % user, data=message("detail"))
    assert r.returncode == EX_OK, r.stderr
    r = deliver(srv, "-u", user, "-a", "%s+nobox@example.com" % user, "-m", "Lists/kura",
                data=message("-m wins"))
    assert r.returncode == EX_OK, r.stderr
    assert count(srv, user, "Lists/kura") == 2
    assert count(srv, user, "Lists") == 2
    assert count(srv, user, "INBOX") == 3
    assert count(srv, user, "NoSuchBox") == -1  # never created


def t_deliver_exit_codes(srv):
    user = new_user(srv, "deliver-exit")
    r = deliver(srv, "-u", "no-such-user-here", data=b"x\n")
    assert r.returncode == EX_NOUSER, (r.returncode, r.stderr)
    r = deliver(srv, "-u", "bad/name", data=b"x\n")
    assert r.returncode == EX_NOUSER, (r.returncode, r.stderr)
    r = deliver(srv, data=b"x\n")
    assert r.returncode == EX_USAGE, (r.returncode, r.stderr)
    r = deliver(srv, "-u", user, "-x", data=b"x\n")
    assert r.returncode == EX_USAGE, (r.returncode, r.stderr)
    r = deliver(srv, "-u", user, "-f", "a\nb@example.org", data=b"x\n")
    assert r.returncode == EX_USAGE, (r.returncode, r.stderr)
    r = deliver(srv, "-u", user, "-m", data=b"x\n")
    assert r.returncode == EX_USAGE, (r.returncode, r.stderr)
    # over append_limit: EX_DATAERR (permanent: the MTA bounces it)
    conf = os.path.join(srv.dir, "small.conf")
    with open(srv.conf_path) as f, open(conf, "w") as g:
        g.write(f.read() + "append_limit = 2048\n")
    os.chmod(conf, 0o644)
    r = deliver(srv, "-u", user, data=message("too big", size=4096), config=conf)
    assert r.returncode == EX_DATAERR, (r.returncode, r.stderr)
    r = deliver(srv, "-u", user, data=message("fits", size=1000), config=conf)
    assert r.returncode == EX_OK, (r.returncode, r.stderr)
    # a configuration that cannot be read: EX_TEMPFAIL (the MTA keeps the message)
    r = deliver(srv, "-u", user, data=b"x\n", config=os.path.join(srv.dir, "missing.conf"))
    assert r.returncode == EX_TEMPFAIL, (r.returncode, r.stderr)
    assert count(srv, user) == 1
    if os.geteuid() == 0:
        # started by another uid (as Postfix's mailbox_command runs as the recipient): refused
        # before anything is written, EX_TEMPFAIL and a message that says why
        import subprocess
        r = subprocess.run([srv.binary, "-c", srv.conf_path, "deliver", "-u", user],
                           input=b"x\n", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60, user="nobody", group="nogroup")
        assert r.returncode == EX_TEMPFAIL and b"belongs to uid" in r.stderr, \
            (r.returncode, r.stderr)
        assert count(srv, user) == 1


def t_deliver_drops_privileges(srv):
    if os.geteuid() != 0:
        print("#   not root: nothing to drop")
        return
    import pwd
    kura_uid = pwd.getpwnam("kura").pw_uid
    user = new_user(srv, "deliver-root")
    # the user's store does not exist yet: kura deliver creates it, as the kura user
    r = deliver(srv, "-u", user, data=b"Subject: root\n\nx\n")
    assert r.returncode == EX_OK, r.stderr
    top = os.path.join(srv.data_dir, "users", user)
    owners = set()
    for dirpath, dirnames, filenames in os.walk(top):
        for n in dirnames + filenames:
            owners.add(os.lstat(os.path.join(dirpath, n)).st_uid)
    owners.add(os.lstat(top).st_uid)
    assert owners == {kura_uid}, owners


def t_store_failure_tempfail(srv):
    """A store that cannot be opened: 451 4.3.0 for that recipient (the MTA retries), the
    other recipients of the transaction are delivered; kura deliver exits EX_TEMPFAIL."""
    good = new_user(srv, "tmp-good")
    broken = new_user(srv, "tmp-broken")
    # a file where the user's store folder should be: the lmtp process cannot create it
    with open(os.path.join(srv.data_dir, "users", broken), "w") as f:
        f.write("not a folder\n")
    l = srv.lmtp_connect()
    try:
        rcpt, replies = lmtp_transaction(l, "a@example.org", ["%s@example.com" % good,
                                                              "%s@example.com" % broken],
                                         message("tempfail"))
        assert rcpt[0].startswith(b"250 ") and rcpt[1].startswith(b"250 "), rcpt
        assert replies[0].startswith(b"250 2.0.0"), replies
        assert replies[1].startswith(b"451 4.3.0"), replies
        # the session goes on
        l.send(b"NOOP\r\n")
        assert l.smtp_reply()[0].startswith(b"250 ")
    finally:
        l.close()
    r = deliver(srv, "-u", broken, data=b"x\n")
    assert r.returncode == EX_TEMPFAIL, (r.returncode, r.stderr)
    os.unlink(os.path.join(srv.data_dir, "users", broken))
    assert count(srv, good) == 1


def t_auth_stuck_or_gone(srv):
    """Recipient lookups and the auth process: one that does not answer within 5 s makes the
    RCPT 451 4.3.0 (never 550); one that dies under a pending lookup is restarted by the master
    and the lookup, sent again, is answered (250); the message is then delivered."""
    user = new_user(srv, "auth-gone")
    auth = srv.children_by_role()["kura-auth"][0]
    l = srv.lmtp_connect()
    try:
        l.send(b"LHLO x\r\nMAIL FROM:<a@example.org>\r\n")
        l.smtp_reply()
        l.smtp_reply()
        # stuck: 451 after the lookup deadline
        os.kill(auth, signal.SIGSTOP)
        try:
            t0 = time.time()
            l.send(b"RCPT TO:<%s@example.com>\r\n" % user.encode())
            reply = l.smtp_reply(timeout=20)[0]
            waited = time.time() - t0
        finally:
            os.kill(auth, signal.SIGCONT)
        assert reply.startswith(b"451 4.3.0"), reply
        assert 4 <= waited < 15, waited
        l.send(b"RCPT TO:<%s@example.com>\r\n" % user.encode())
        assert l.smtp_reply()[0].startswith(b"250 2.1.5")
        # gone: the pending lookup survives the restart
        os.kill(auth, signal.SIGSTOP)
        l.send(b"RCPT TO:<%s+again@example.com>\r\n" % user.encode())
        time.sleep(0.3)
        os.kill(auth, signal.SIGKILL)  # SIGKILL also ends a stopped process
        reply = l.smtp_reply(timeout=20)[0]
        assert reply.startswith(b"250 2.1.5"), reply
        l.send(b"DATA\r\n")
        assert l.smtp_reply()[0].startswith(b"354")
        l.send(b"Subject: across an auth restart\r\n\r\n.\r\n")
        assert l.smtp_reply()[0].startswith(b"250 2.0.0")
        assert l.smtp_reply()[0].startswith(b"250 2.0.0")
    finally:
        srv.crash_ok_pids = getattr(srv, "crash_ok_pids", set()) | {auth}
        l.close()
    kura.wait_for(lambda: srv.children_by_role().get("kura-auth"), timeout=10)
    assert count(srv, user) == 2


def proc_status(pid):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def t_big_message_memory(srv):
    """A 60 MB message: spooled to a file, not held in memory. The anonymous memory of the lmtp
    process serving it grows by less than 8 MiB (24 under ASan) while it reads and stores it;
    the message is stored byte-exact; no spool file is left."""
    user = new_user(srv, "big")
    size = 60 * 1024 * 1024
    data = message("sixty megabytes", size=size)
    l = srv.lmtp_connect()
    try:
        pid = kura.socket_owner(srv, l, port=srv.lmtp_port)
        assert pid is not None and kura.proc_comm(pid) == "kura-lmtp", pid
        l.send(b"LHLO x\r\nMAIL FROM:<big@example.org> SIZE=%d\r\nRCPT TO:<%s@example.com>\r\n"
               b"DATA\r\n" % (len(data), user.encode()))
        replies = [l.smtp_reply()[-1] for _ in range(4)]
        assert [r[:3] for r in replies] == [b"250", b"250", b"250", b"354"], replies
        before = proc_status(pid)
        peak = dict(before)
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                st = proc_status(pid)
                for k, v in st.items():
                    peak[k] = max(peak.get(k, 0), v)
                time.sleep(0.01)
        t = threading.Thread(target=sample, daemon=True)
        t.start()
        t0 = time.time()
        l.sock.settimeout(120 * kura.SLOW)
        l.sock.sendall(dot_stuff(data))
        reply = l.smtp_reply(timeout=120)[0]
        elapsed = time.time() - t0
        stop.set()
        t.join()
        assert reply.startswith(b"250 2.0.0"), reply
    finally:
        l.close()
    grow = peak.get("RssAnon", 0) - before.get("RssAnon", 0)
    limit = (24 if kura.is_san_binary(srv.binary) else 8) * 1024
    print("#   lmtp pid %d, 60 MB message in %.2f s: RssAnon %d -> peak %d KiB (+%d), "
          "VmRSS %d -> peak %d KiB (file-backed spool mapping included)"
          % (pid, elapsed, before.get("RssAnon", 0), peak.get("RssAnon", 0), grow,
             before.get("VmRSS", 0), peak.get("VmRSS", 0)))
    assert grow < limit, "RssAnon grew by %d KiB" % grow
    spool = os.path.join(srv.data_dir, "spool")
    assert os.listdir(spool) == [], os.listdir(spool)
    got = strip_trace(mailbox_messages(srv, user)[0])[1]
    assert len(got) == len(data) and hashlib.sha256(got).digest() == \
        hashlib.sha256(data).digest(), len(got)


def t_concurrent_deliveries(srv):
    """8 clients, each 25 transactions to 3 of 6 users: every recipient gets its 250 and its
    message; prints the delivery rate."""
    users = [new_user(srv, "conc") for _ in range(6)]
    clients, per_client = 8, 25
    errors, acked = [], []

    def client(ci):
        try:
            l = srv.lmtp_connect()
            for n in range(per_client):
                rcpts = [users[(ci + n + k) % len(users)] for k in range(3)]
                subject = "c%d-%d" % (ci, n)
                _, replies = lmtp_transaction(l, "load@example.org",
                                              ["%s@example.com" % u for u in rcpts],
                                              message(subject, size=2000), lhlo=(n == 0))
                for u, rep in zip(rcpts, replies):
                    if not rep.startswith(b"250 2.0.0"):
                        errors.append((u, rep))
                    else:
                        acked.append((u, subject))
            l.close()
        except (kura.TestError, OSError) as e:
            errors.append(("client %d" % ci, str(e)))
    t0 = time.time()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    elapsed = time.time() - t0
    assert not errors, errors[:5]
    total = clients * per_client * 3
    assert len(acked) == total, len(acked)
    print("#   %d deliveries (%d transactions x 3 recipients, %d clients, 2 KB each) in %.2f s:"
          " %.0f deliveries/s, each fsynced before its 250"
          % (total, clients * per_client, clients, elapsed, total / elapsed))
    want = {}
    for u, subject in acked:
        want.setdefault(u, set()).add(subject)
    for u in users:
        got = set()
        for msg in mailbox_messages(srv, u):
            m = re.search(rb"\r\nSubject: (\S+)\r\n", msg)
            got.add(m.group(1).decode() if m else None)
        assert got == want.get(u, set()), (u, len(got), len(want.get(u, ())))


def t_client_gone(srv):
    """Clients that close right after the final "." while their deliveries are in a batch in
    flight (the syncer thread syncing): each transaction is stored for all of its recipients
    or none, the staging folder empties, and the lmtp process goes on delivering. (A session
    reads nothing while it waits for its replies, so it mostly hears of the close after the
    batch; one that hears of it before the commit stores nothing: the MTA sends again.)"""
    users = [new_user(srv, "gone") for _ in range(3)]
    rcpts = ["%s@example.com" % u for u in users]
    errors = []

    def client(ci):
        try:
            for n in range(6):
                l = srv.lmtp_connect()
                l.send(b"LHLO gone.test\r\nMAIL FROM:<gone@example.org>\r\n" +
                       b"".join(b"RCPT TO:<%s>\r\n" % r.encode() for r in rcpts) + b"DATA\r\n")
                for _ in range(2 + len(rcpts)):
                    l.smtp_reply()
                if not l.smtp_reply()[0].startswith(b"354 "):
                    raise kura.TestError("DATA refused")
                l.sock.sendall(dot_stuff(message("gone-%d-%d" % (ci, n), size=100000)) +
                               b".\r\n")
                l.sock.close()
        except (kura.TestError, OSError) as e:
            errors.append(("client %d" % ci, str(e)))
    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    # the process still delivers, and answers
    l = srv.lmtp_connect()
    _, replies = lmtp_transaction(l, "after@example.org", rcpts, message("after-gone"))
    l.close()
    assert len(replies) == 3 and all(r.startswith(b"250 2.0.0") for r in replies), replies
    stage = os.path.join(srv.data_dir, "users", ".stage")
    deadline = time.time() + 30 * kura.SLOW
    while True:
        left = [f for d in os.listdir(stage) for f in os.listdir(os.path.join(stage, d))]
        if not left or time.time() > deadline:
            break
        time.sleep(0.05)
    assert not left, "staged files left: %r" % left
    seen = {}
    for u in users:
        for msg in mailbox_messages(srv, u):
            m = re.search(rb"\r\nSubject: (\S+)\r\n", msg)
            subject = m.group(1).decode() if m else None
            seen.setdefault(subject, []).append(u)
    assert sorted(seen.pop("after-gone", [])) == sorted(users), "after-gone not everywhere"
    partial = {k: v for k, v in seen.items() if sorted(v) != sorted(users)}
    assert not partial, "stored for some recipients only: %r" % partial
    print("#   %d of 36 abandoned transactions were stored (for all 3 recipients)" % len(seen))


def t_unix_socket_mode(srv):
    st = os.stat(srv.lmtp_socket)
    assert stat.S_ISSOCK(st.st_mode), st
    assert stat.S_IMODE(st.st_mode) == 0o660, oct(st.st_mode)
    if os.geteuid() == 0:
        import pwd
        assert st.st_uid == pwd.getpwnam("kura").pw_uid, st.st_uid


def store_db_fds(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).endswith("/store.db"):
                n += 1
        except OSError:
            pass
    return n


def t_store_pool(binary):
    """The lmtp process's store pool: with lmtp_open_stores_max = 3 and one lmtp process,
    round-robin deliveries to 12 users keep at most 3 store.db open and all land; a parked
    store whose folder went away meanwhile gives 451 (no new empty store), and once the
    folder is back the next delivery opens it afresh and lands."""
    cap, n, rounds = 3, 12, 4
    srv = kura.Server(binary, config={"plaintext_auth": "loopback", "lmtp_processes": 1,
                                      "lmtp_open_stores_max": cap}, name="lmtp-pool")
    ok = False
    try:
        srv.start()
        users = ["pool%d" % i for i in range(n)]
        for u in users:
            srv.user_add(u, PASS)
        lmtp_pid = srv.children_by_role()["kura-lmtp"][0]
        l = srv.lmtp_connect()
        most = 0
        try:
            for r in range(rounds):
                for i, u in enumerate(users):
                    rcpt, replies = lmtp_transaction(l, "a@example.org", ["%s@example.com" % u],
                                                     message("pool %d %d" % (r, i)),
                                                     lhlo=(r == 0 and i == 0))
                    assert replies == [replies[0]] and replies[0].startswith(b"250 2.0.0"), \
                        (u, rcpt, replies)
                    most = max(most, store_db_fds(lmtp_pid))
            assert most <= cap, "lmtp process had %d store.db open (cap %d)" % (most, cap)
            # users[0] was used longest ago: parked; its folder goes away and comes back
            folder = os.path.join(srv.data_dir, "users", users[0])
            os.rename(folder, folder + ".away")
            _, replies = lmtp_transaction(l, "a@example.org", ["%s@example.com" % users[0]],
                                          message("away"), lhlo=False)
            assert replies[0].startswith(b"451 4.3.0"), replies
            assert not os.path.exists(folder), "a new store was created for a parked user"
            os.rename(folder + ".away", folder)
            _, replies = lmtp_transaction(l, "a@example.org", ["%s@example.com" % users[0]],
                                          message("back"), lhlo=False)
            assert replies[0].startswith(b"250 2.0.0"), replies
        finally:
            l.close()
        for i, u in enumerate(users):
            want = rounds + (1 if i == 0 else 0)
            got = count(srv, u)
            assert got == want, (u, got, want)
        status = srv.stop()
        assert status == 0, status
        assert not srv.sanitizer_reports(), srv.sanitizer_reports()[:10]
        ok = True
    finally:
        if srv.proc is not None:
            srv.stop()
        srv.cleanup(ok=ok)


def t_lmtp_disabled(binary):
    srv = kura.Server(binary, config={"plaintext_auth": "loopback", "lmtp_listen": "",
                                      "lmtp_socket": ""}, name="nolmtp")
    ok = False
    try:
        srv.start()
        roles = srv.children_by_role()
        assert "kura-lmtp" not in roles, roles
        assert not os.path.exists(srv.lmtp_socket)
        try:
            socket.create_connection(("127.0.0.1", srv.lmtp_port), timeout=2).close()
            raise kura.TestError("something listens on the LMTP port")
        except ConnectionRefusedError:
            pass
        srv.user_add("nolmtp", PASS)
        imap(srv, "nolmtp").logout()
        # kura deliver does not need the LMTP listeners
        r = deliver(srv, "-u", "nolmtp", data=b"Subject: x\n\ny\n")
        assert r.returncode == EX_OK, r.stderr
        assert count(srv, "nolmtp") == 1
        status = srv.stop()
        assert status == 0, status
        ok = True
    finally:
        if srv.proc is not None:
            srv.stop()
        srv.cleanup(ok=ok)


def t_shutdown_421(binary):
    srv = kura.Server(binary, config={"plaintext_auth": "loopback"}, name="lmtp-bye")
    ok = False
    try:
        srv.start()
        idle = srv.lmtp_connect()
        unix = srv.lmtp_connect(unix=True)
        unix.send(b"LHLO x\r\nMAIL FROM:<a@example.org>\r\n")
        unix.smtp_reply()
        unix.smtp_reply()
        status = srv.stop()
        for c in (idle, unix):
            line = c.readline(10)
            assert line is not None and line.startswith(b"421 4.3.2"), line
            assert c.readline(5) is None
        assert status == 0, status
        assert not os.path.exists(srv.lmtp_socket), "socket file left behind"
        ok = True
    finally:
        if srv.proc is not None:
            srv.stop()
        srv.cleanup(ok=ok)


def main():
    binary, _ = kura.binary_from_argv(sys.argv[1:])
    res = kura.Results()
    if kura.is_san_binary(binary):
        # as in tests/memory: freed blocks otherwise sit in a 256 MB quarantine, and RSS would
        # measure ASan's allocation churn rather than buffering
        opts = os.environ.get("ASAN_OPTIONS", "")
        os.environ["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "quarantine_size_mb=4"
    srv = kura.Server(binary, config={"plaintext_auth": "loopback"}, name="lmtp")
    ok = True
    try:
        srv.start()
        for name, fn in (
                ("IDLE sees EXISTS after an LMTP delivery", t_idle_sees_lmtp),
                ("IDLE sees EXISTS after kura deliver", t_idle_sees_kura_deliver),
                ("kura deliver stores the message (CRLF, From_ line, trace fields)",
                 t_deliver_storage),
                ("kura deliver -m MAILBOX, INBOX when it does not exist", t_deliver_mailbox),
                ("kura deliver exit codes (sysexits.h)", t_deliver_exit_codes),
                ("kura deliver as root writes the store as the configured user",
                 t_deliver_drops_privileges),
                ("a store that cannot be written: 451 for that recipient, EX_TEMPFAIL",
                 t_store_failure_tempfail),
                ("auth process stuck: 451 after 5 s; killed: the lookup survives the restart",
                 t_auth_stuck_or_gone),
                ("60 MB message: spooled, bounded memory, byte-exact", t_big_message_memory),
                ("concurrent deliveries all land", t_concurrent_deliveries),
                ("clients gone during a delivery: all recipients or none, nothing staged left",
                 t_client_gone),
                ("UNIX socket mode 0660, owned by the mail user", t_unix_socket_mode)):
            ok = res.run(name, fn, srv) and ok
        status = srv.stop()
        crashes = srv.crashes_since(0, ignore_pids=getattr(srv, "crash_ok_pids", ()))
        ok = res.check("server exits 0, no crash", status == 0 and not crashes,
                       "\n".join(crashes) + srv.log_tail()) and ok
        ok = res.check("no sanitizer report", not srv.sanitizer_reports(),
                       "\n".join(srv.sanitizer_reports()[:10])) and ok
    except (kura.TestError, OSError) as e:
        ok = False
        res.fail("lmtp suite", "%s\n%s" % (e, srv.log_tail()))
    finally:
        if srv.proc is not None:
            srv.stop()
        srv.cleanup(ok=ok)
    res.run("a configuration with LMTP disabled starts and serves IMAP", t_lmtp_disabled, binary)
    res.run("SIGTERM: open LMTP sessions get 421 4.3.2, socket removed", t_shutdown_421, binary)
    res.run("store pool: at most lmtp_open_stores_max open, parked ones reopened",
            t_store_pool, binary)
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
