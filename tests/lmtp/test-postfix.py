#!/usr/bin/python3
"""test-postfix.py: a real MTA delivering to kura over LMTP.

Runs a private Postfix instance (Debian's postfix package, installed by scripts/setup --all;
the system's postfix service is never touched): `postfix -c DIR` with its own main.cf and
master.cf, queue and data directories under a temp dir, and a master.cf holding only an smtpd
on a free loopback port plus the internal services and the lmtp client. Postfix relays the
domain kura.test to kura over LMTP on TCP and unix.kura.test over kura's UNIX socket (owned by
group postfix through lmtp_socket_group). Mail is submitted over SMTP with Python's smtplib
(and swaks when installed, which also speaks LMTP to kura directly) and read back over IMAP:
  - one SMTP transaction to several recipients (one of them user+detail into a mailbox) arrives
    once for each, byte-exact after the trace fields, with Return-Path and Delivered-To;
  - an unknown recipient: kura's 550 5.1.1 makes Postfix bounce, and the bounce (null sender)
    is itself delivered over LMTP to the sender, a kura user;
  - SMTPUTF8: a UTF-8 recipient and sender, stored with "with UTF8LMTP";
  - the UNIX socket route; a 5 MB 8-bit message;
  - `kura deliver` as Postfix's pipe transport (user=kura, -a ${original_recipient}: the
    detail picks the mailbox), the README's example;
  - a recipient whose store cannot be written gets 451 4.3.0: Postfix keeps the message
    (deferred), and delivers it once the store is repaired and the queue flushed;
  - at the end Postfix's queue is empty, and it stops cleanly.

    tests/lmtp/test-postfix.py [--kura PATH]     (as root: Postfix's master must be root)
"""
import hashlib
import imaplib
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kura  # noqa: E402

PASS = "postfix-Pass-1"
POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
POSTQUEUE = shutil.which("postqueue") or "/usr/sbin/postqueue"
DOMAIN, UNIX_DOMAIN, PIPE_DOMAIN = "kura.test", "unix.kura.test", "pipe.kura.test"

MASTER_CF = """\
# a private instance for tests/lmtp/test-postfix.py: one smtpd on a loopback test port, the
# internal services a queue needs, and the lmtp client; nothing chrooted
127.0.0.1:{smtp_port} inet n - n - - smtpd
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
verify    unix  - - n -    1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -    - proxymap
showq     unix  n - n -    - showq
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
lmtp      unix  - - n -    - lmtp
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
postlog   unix-dgram n - n - 1 postlogd
# kura deliver as a pipe transport running as the mail user (README.md, "Deliver mail")
kura      unix  - n n - - pipe
  flags=X user={kura_user} null_sender= argv={kura} -c {kura_conf} deliver -u ${{user}} -f ${{sender}} -a ${{original_recipient}}
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = {dir}/postfix.log
maillog_file_prefixes = {dir}
myhostname = mta.{domain}
mydomain = {domain}
myorigin = $myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = {domain}, {unix_domain}, {pipe_domain}
transport_maps = inline:{{ {domain}=lmtp:inet:127.0.0.1:{lmtp_port}, {unix_domain}=lmtp:unix:{socket}, {pipe_domain}=kura }}
recipient_delimiter = +
# one recipient per kura deliver run (its -u and -a take one address)
kura_destination_recipient_limit = 1
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
smtputf8_enable = yes
message_size_limit = 30000000
biff = no
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
"""


class Postfix:
    def __init__(self, base, smtp_port, lmtp_port, socket, kura_binary, kura_conf):
        self.dir = base
        self.conf = os.path.join(base, "conf")
        self.smtp_port = smtp_port
        for d in ("conf", "queue", "data"):
            os.makedirs(os.path.join(base, d), exist_ok=True)
        shutil.chown(os.path.join(base, "data"), "postfix", "postfix")
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(MAIN_CF.format(dir=base, domain=DOMAIN, unix_domain=UNIX_DOMAIN,
                                   pipe_domain=PIPE_DOMAIN, lmtp_port=lmtp_port, socket=socket))
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(smtp_port=smtp_port, kura=kura_binary, kura_conf=kura_conf,
                                     kura_user="kura"))
        self.started = False

    def run(self, *args, check=True):
        r = subprocess.run([POSTFIX, "-c", self.conf] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        if check and r.returncode != 0:
            raise kura.TestError("postfix %s failed (%d): %s\n%s" % (" ".join(args),
                                 r.returncode, r.stdout, self.log_tail()))
        return r

    def start(self):
        self.run("check")
        self.run("start")
        self.started = True
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=5).quit()
                return
            except OSError:
                time.sleep(0.1)
        raise kura.TestError("postfix smtpd never answered\n" + self.log_tail())

    def master_pid(self):
        try:
            with open(os.path.join(self.dir, "queue", "pid", "master.pid")) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self):
        if not self.started:
            return True
        pid = self.master_pid()
        self.run("stop", check=False)
        self.started = False
        deadline = time.time() + 20
        while pid is not None and kura.pid_alive(pid) and time.time() < deadline:
            time.sleep(0.1)
        if pid is not None and kura.pid_alive(pid):
            self.run("abort", check=False)
            return False
        return True

    def queue(self):
        r = subprocess.run([POSTQUEUE, "-c", self.conf, "-p"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        return r.stdout

    def flush(self):
        subprocess.run([POSTQUEUE, "-c", self.conf, "-f"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)

    def log(self):
        try:
            with open(os.path.join(self.dir, "postfix.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_tail(self, n=30):
        return "\n".join(self.log().splitlines()[-n:])

    def wait_log(self, pattern, count=1, timeout=30):
        """The log once it has count lines matching pattern (fails after timeout). A message
        shows in its mailbox before Postfix logs its delivery: kura commits the rows before
        its last sync and the 250, Postfix logs after the reply (or after kura deliver
        exits), through postlogd."""
        deadline = time.time() + timeout * kura.SLOW
        while True:
            log = self.log()
            if len(re.findall(pattern, log)) >= count:
                return log
            if time.time() > deadline:
                raise kura.TestError("%d of %d log lines %r after %ds\n%s" % (
                    len(re.findall(pattern, log)), count, pattern, timeout, self.log_tail()))
            time.sleep(0.1)


def imap(srv, user):
    m = imaplib.IMAP4("127.0.0.1", srv.imap_port)
    cred = b"\0" + user.encode() + b"\0" + PASS.encode()
    m.authenticate("PLAIN", lambda _: cred)
    return m


def messages(srv, user, box="INBOX"):
    m = imap(srv, user)
    try:
        typ, _ = m.select('"%s"' % box, readonly=True)
        if typ != "OK":
            return []
        typ, data = m.uid("FETCH", "1:*", "(BODY.PEEK[])")
        return [d[1] for d in data if isinstance(d, tuple)] if typ == "OK" else []
    finally:
        m.logout()


def wait_messages(srv, user, n, box="INBOX", timeout=30, pfx=None):
    deadline = time.time() + timeout * kura.SLOW
    got = []
    while time.time() < deadline:
        got = messages(srv, user, box)
        if len(got) >= n:
            return got
        time.sleep(0.2)
    raise kura.TestError("%s/%s: %d of %d messages after %ds\n%s" % (
        user, box, len(got), n, timeout, pfx.log_tail() if pfx else ""))


def header_block(msg):
    """The header fields in front of the original message: [(name, value)] in order."""
    head = msg.split(b"\r\n\r\n", 1)[0]
    fields = re.split(rb"\r\n(?![ \t])", head)
    return [(f.split(b":", 1)[0].lower(), f.split(b":", 1)[1].strip()) for f in fields if b":" in f]


def mail(subject, sender, to, body="hello from postfix\r\n", extra=""):
    return ("From: <%s>\r\nTo: %s\r\nSubject: %s\r\nDate: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
            "Message-ID: <%s@postfix.test>\r\n%s\r\n%s" % (
                sender, ", ".join("<%s>" % t for t in to), subject,
                hashlib.sha1(subject.encode()).hexdigest(), extra, body)).encode("utf-8")


def check_delivery(msg, original, sender, rcpt, lmtp=True):
    """msg = kura's trace fields + Postfix's Received + the original, byte for byte (kura's
    Received only over LMTP)."""
    if not msg.endswith(original):
        raise kura.TestError("stored message does not end with the one sent: %r" % msg[:600])
    fields = header_block(msg[:len(msg) - len(original)] + b"\r\n")
    names = [f[0] for f in fields]
    if not lmtp:
        if names != [b"return-path", b"delivered-to", b"received"] or \
                fields[0][1] != b"<%s>" % sender.encode() or fields[1][1] != rcpt.encode() or \
                b"by mta.kura.test (Postfix)" not in fields[2][1]:
            raise kura.TestError("trace fields %r" % fields)
        return fields
    if rcpt is None:
        # one LMTP transaction for several recipients: one shared copy, so neither
        # Delivered-To nor Received's "for" (as Dovecot does)
        if names != [b"return-path", b"received", b"received"] or b"for <" in fields[1][1]:
            raise kura.TestError("trace fields %r" % fields)
        fields.insert(1, (b"delivered-to", None))
    elif names != [b"return-path", b"delivered-to", b"received", b"received"]:
        raise kura.TestError("trace fields %r" % fields)
    if fields[0][1] != b"<%s>" % sender.encode() or (rcpt is not None and
                                                      fields[1][1] != rcpt.encode()):
        raise kura.TestError("Return-Path/Delivered-To %r" % fields[:2])
    if not (fields[2][1].startswith(b"from mta.kura.test") and b"with" in fields[2][1]):
        raise kura.TestError("kura's Received %r" % fields[2][1])
    if b"by mta.kura.test (Postfix)" not in fields[3][1]:
        raise kura.TestError("Postfix's Received %r" % fields[3][1])
    return fields


def main():
    binary, _ = kura.binary_from_argv(sys.argv[1:])
    res = kura.Results()
    if os.geteuid() != 0:
        res.fail("running as root (Postfix's master must start as root)")
        return res.summary()
    if not os.path.exists(POSTFIX):
        res.fail("postfix is installed (scripts/setup --all installs it)")
        return res.summary()
    base = tempfile.mkdtemp(prefix="kura-test-postfix-")
    os.chmod(base, 0o755)
    sockdir = os.path.join(base, "sock")
    os.makedirs(sockdir)
    os.chmod(sockdir, 0o755)
    socket_path = os.path.join(sockdir, "lmtp.sock")
    srv = kura.Server(binary, config={"plaintext_auth": "loopback", "lmtp_socket": socket_path,
                                      "lmtp_socket_group": "postfix"}, name="postfix")
    smtp_port = kura.free_port()
    pfx = Postfix(os.path.join(base, "postfix"), smtp_port, srv.lmtp_port, socket_path,
                  srv.binary, srv.conf_path)
    ok = True
    try:
        srv.start()
        for u in ("alice", "bob", "carol", "sender", "later", "ユーザー", "swaksuser"):
            srv.user_add(u, PASS)
        m = imap(srv, "bob")
        m.create("Work")
        m.logout()
        pfx.start()

        def t_multi_recipient():
            to = ["alice@kura.test", "bob+Work@kura.test", "Carol@kura.test"]
            original = mail("multi", "sender@kura.test", to)
            s = smtplib.SMTP("127.0.0.1", smtp_port, timeout=30)
            refused = s.sendmail("sender@kura.test", to, original)
            s.quit()
            assert not refused, refused
            # one LMTP transaction (below): the three share one stored copy
            got = [wait_messages(srv, "alice", 1, pfx=pfx)[0],
                   wait_messages(srv, "bob", 1, "Work", pfx=pfx)[0],
                   wait_messages(srv, "carol", 1, pfx=pfx)[0]]
            for m in got:
                check_delivery(m, original, "sender@kura.test", None)
            assert got[0] == got[1] == got[2], "the three copies differ"
            assert messages(srv, "bob") == []
            # one LMTP transaction for the three (Postfix groups recipients per destination)
            qid = re.search(r"(\w+): to=<alice@kura.test>",
                            pfx.wait_log(r"to=<alice@kura.test>")).group(1)
            sent = r"%s: to=<[^>]+>, relay=127.0.0.1\[127.0.0.1\]:%d, .*status=sent \(250 2.0.0 " \
                % (qid, srv.lmtp_port)
            assert len(re.findall(sent, pfx.wait_log(sent, 3))) == 3, pfx.log_tail()

        def t_unknown_bounces():
            original = mail("to nobody", "sender@kura.test", ["nobody@kura.test"])
            s = smtplib.SMTP("127.0.0.1", smtp_port, timeout=30)
            assert not s.sendmail("sender@kura.test", ["nobody@kura.test"], original)
            s.quit()
            bounce = wait_messages(srv, "sender", 1, pfx=pfx)[0]
            fields = header_block(bounce)
            assert fields[0] == (b"return-path", b"<>"), fields[:3]
            assert b"5.1.1" in bounce and b"nobody@kura.test" in bounce, bounce[:2000]
            assert re.search(r"to=<nobody@kura.test>.*status=bounced \(host 127.0.0.1\[127.0.0.1\]"
                             r" said: 550 5.1.1", pfx.log()), pfx.log_tail()

        def t_smtputf8():
            sender, rcpt = "送信者@kura.test", "ユーザー@kura.test"
            original = mail("国際化", sender, [rcpt], body="本文です\r\n")
            s = smtplib.SMTP("127.0.0.1", smtp_port, timeout=30)
            refused = s.sendmail(sender, [rcpt], original, mail_options=["SMTPUTF8",
                                                                        "BODY=8BITMIME"])
            s.quit()
            assert not refused, refused
            fields = check_delivery(wait_messages(srv, "ユーザー", 1, pfx=pfx)[0], original,
                                    sender, rcpt)
            assert b" with UTF8LMTP " in fields[2][1], fields[2]

        def t_unix_socket():
            to = ["alice@%s" % UNIX_DOMAIN]
            original = mail("via the socket", "sender@kura.test", to)
            s = smtplib.SMTP("127.0.0.1", smtp_port, timeout=30)
            assert not s.sendmail("sender@kura.test", to, original)
            s.quit()
            got = wait_messages(srv, "alice", 2, pfx=pfx)[1]
            fields = check_delivery(got, original, "sender@kura.test", to[0])
            assert b"(local)" in fields[2][1], fields[2]
            pfx.wait_log(r"to=<alice@unix.kura.test>, relay=[^,\[]*\[%s\].*status=sent"
                         % re.escape(socket_path))

        def t_pipe_kura_deliver():
            # Postfix's pipe(8) runs kura deliver as the kura user; the +detail of the
            # original recipient picks the mailbox, and the null sender of a bounce works
            to = ["bob+Work@%s" % PIPE_DOMAIN, "alice@%s" % PIPE_DOMAIN]
            original = mail("via kura deliver", "sender@kura.test", to)
            s = smtplib.SMTP("127.0.0.1", smtp_port, timeout=30)
            assert not s.sendmail("sender@kura.test", to, original)
            original2 = mail("null sender via pipe", "mailer-daemon@kura.test",
                             ["carol@%s" % PIPE_DOMAIN])
            assert not s.sendmail("", ["carol@%s" % PIPE_DOMAIN], original2)
            s.quit()
            check_delivery(wait_messages(srv, "bob", 2, "Work", pfx=pfx)[1], original,
                           "sender@kura.test", to[0], lmtp=False)
            check_delivery(wait_messages(srv, "alice", 3, pfx=pfx)[2], original,
                           "sender@kura.test", to[1], lmtp=False)
            check_delivery(wait_messages(srv, "carol", 2, pfx=pfx)[1], original2, "",
                           "carol@%s" % PIPE_DOMAIN, lmtp=False)
            pfx.wait_log(r"to=<bob\+Work@pipe.kura.test>, relay=kura, .*status=sent")

        def t_big_8bit():
            body = ("８ビット本文 " * 40 + "\r\n").encode("utf-8") * 2500  # ~5 MB
            original = mail("big", "sender@kura.test", ["carol@kura.test"]) + body
            s = smtplib.SMTP("127.0.0.1", smtp_port, timeout=60)
            assert not s.sendmail("sender@kura.test", ["carol@kura.test"], original,
                                  mail_options=["BODY=8BITMIME"])
            s.quit()
            got = wait_messages(srv, "carol", 3, timeout=60, pfx=pfx)[2]
            check_delivery(got, original, "sender@kura.test", "carol@kura.test")

        def t_tempfail_then_delivered():
            # a file where later's store folder should be: kura answers 451 4.3.0
            blocker = os.path.join(srv.data_dir, "users", "later")
            with open(blocker, "w") as f:
                f.write("x\n")
            original = mail("later", "sender@kura.test", ["later@kura.test"])
            s = smtplib.SMTP("127.0.0.1", smtp_port, timeout=30)
            assert not s.sendmail("sender@kura.test", ["later@kura.test"], original)
            s.quit()
            pfx.wait_log(r"to=<later@kura.test>.*status=deferred.*451 4.3.0")
            assert "later@kura.test" in pfx.queue(), pfx.queue()
            os.unlink(blocker)
            pfx.flush()
            check_delivery(wait_messages(srv, "later", 1, pfx=pfx)[0], original,
                           "sender@kura.test", "later@kura.test")

        def t_swaks():
            swaks = shutil.which("swaks")
            if swaks is None:
                print("#   swaks not installed: skipped")
                return
            for proto, port, subject in (("SMTP", smtp_port, "swaks over smtp"),
                                         ("LMTP", srv.lmtp_port, "swaks over lmtp")):
                r = subprocess.run([swaks, "--protocol", proto, "--server", "127.0.0.1",
                                    "--port", str(port), "--from", "sender@kura.test",
                                    "--to", "swaksuser@kura.test", "--h-Subject", subject,
                                    "--body", "hello from swaks"],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   timeout=60)
                assert r.returncode == 0, r.stdout
            got = wait_messages(srv, "swaksuser", 2, pfx=pfx)
            subjects = sorted(re.search(rb"\r\nSubject: ([^\r]*)", g).group(1) for g in got)
            assert subjects == [b"swaks over lmtp", b"swaks over smtp"], subjects

        def t_queue_empty():
            deadline = time.time() + 30
            while time.time() < deadline and "Mail queue is empty" not in pfx.queue():
                time.sleep(0.2)
            assert "Mail queue is empty" in pfx.queue(), pfx.queue()

        for name, fn in (
                ("one SMTP transaction to three users (one +detail) arrives once each, exact",
                 t_multi_recipient),
                ("unknown recipient: kura's 550 5.1.1 bounces, the bounce is delivered",
                 t_unknown_bounces),
                ("SMTPUTF8 sender and recipient through Postfix", t_smtputf8),
                ("Postfix over kura's UNIX socket (lmtp_socket_group)", t_unix_socket),
                ("Postfix's pipe transport running kura deliver as the mail user",
                 t_pipe_kura_deliver),
                ("5 MB 8-bit message through Postfix, byte-exact", t_big_8bit),
                ("451 from kura: Postfix defers, delivers after the repair",
                 t_tempfail_then_delivered),
                ("swaks over SMTP through Postfix and over LMTP to kura", t_swaks),
                ("Postfix's queue is empty at the end", t_queue_empty)):
            ok = res.run(name, fn) and ok
        ok = res.check("Postfix stops cleanly", pfx.stop(), pfx.log_tail()) and ok
        status = srv.stop()
        ok = res.check("kura exits 0, no crash, no sanitizer report",
                       status == 0 and not srv.crashes_since(0) and not srv.sanitizer_reports(),
                       srv.log_tail()) and ok
    except (kura.TestError, OSError, smtplib.SMTPException) as e:
        ok = False
        res.fail("postfix run", "%s\n%s\n%s" % (e, pfx.log_tail(), srv.log_tail()))
    finally:
        if not pfx.stop():
            ok = False
        if srv.proc is not None:
            srv.stop()
        srv.cleanup(ok=ok)
        if ok and not os.environ.get("KURA_TEST_KEEP"):
            shutil.rmtree(base, ignore_errors=True)
        else:
            print("#   postfix instance kept in %s" % base)
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
