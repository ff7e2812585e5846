#!/usr/bin/python3
"""test-mailboxes.py: mailbox behaviour that scripted conversations cannot express.

- Python imaplib driving a whole workflow (LIST, CREATE, SUBSCRIBE, APPEND with flags and date,
  SELECT, STATUS, FETCH, EXPUNGE, CLOSE, RENAME, DELETE, LOGOUT).
- Two sessions of one user: APPEND / EXPUNGE / CLOSE / CREATE / RENAME / DELETE in session A
  are seen by session B (EXISTS and EXPUNGE at NOOP, LIST, STATUS); interleaved APPENDs from
  both get distinct ascending UIDs.
- A 5 MB APPEND (synchronising literal, 8-bit data) comes back byte for byte; MULTIAPPEND of
  50 messages; non-synchronising literals over APPENDLIMIT.
- 受信箱/会議 created by an IMAP4rev1 client in modified UTF-7 is listed in UTF-8 to an
  IMAP4rev2 client (ENABLE IMAP4rev2) and the other way round, imaplib included.
- UIDs are not reused after DELETE+CREATE or RENAME+CREATE of the same name (RFC 9051 6.3.4-6);
  UIDVALIDITY is the same in STATUS and SELECT and across sessions; mailboxes, messages and
  UIDVALIDITY survive a server restart.
- SELECT sends every response RFC 9051 / RFC 3501 require, in whatever order.

Usage: test-mailboxes.py [--kura BINARY]
"""
import base64
import imaplib
import os
import random
import re
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kura  # noqa: E402

PASS = "Mailbox-Pass-9"
_users = []


def new_user(srv, stem):
    """A fresh user (the default mailboxes only) for one test."""
    name = "%s-%d" % (stem, len(_users) + 1)
    srv.user_add(name, PASS)
    _users.append(name)
    return name


# ----------------------------------------------------------------------------------------------
# a small raw client on top of kura.Conn


class Session:
    def __init__(self, srv, user, rev2=False):
        self.c = srv.login("tls", user, PASS)
        self.n = 0
        if rev2:
            lines = self.cmd("ENABLE IMAP4rev2")
            assert b"* ENABLED IMAP4rev2" in lines, lines

    def tag(self):
        self.n += 1
        return "t%d" % self.n

    def read_response(self, tag, timeout=30):
        """Lines up to the tagged one; a line ending in {n} has its n literal bytes appended
        (as bytes) and continues with the rest of the line."""
        out = []
        tagb = tag.encode() + b" "
        while True:
            line = self.c.readline(timeout)
            if line is None:
                raise kura.TestError("connection closed; got %r" % out[-5:])
            while True:
                m = re.search(rb"~?\{(\d+)\}$", line)
                if not m:
                    break
                n = int(m.group(1))
                deadline = time.time() + timeout * kura.SLOW
                while len(self.c.buf) < n:
                    if time.time() > deadline:
                        raise kura.TestError("timeout reading a %d-byte literal" % n)
                    if not self.c._fill(deadline - time.time()):
                        raise kura.TestError("EOF inside a literal")
                data, self.c.buf = self.c.buf[:n], self.c.buf[n:]
                rest = self.c.readline(timeout)
                if rest is None:
                    raise kura.TestError("EOF after a literal")
                line = line + b"\0LITERAL\0" + data + b"\0END\0" + rest
            out.append(line)
            if line.startswith(tagb):
                return out

    def cmd(self, text, expect="OK", timeout=30):
        t = self.tag()
        self.c.send(("%s %s\r\n" % (t, text)).encode("utf-8") if isinstance(text, str)
                    else t.encode() + b" " + text + b"\r\n")
        lines = self.read_response(t, timeout)
        status = lines[-1][len(t) + 1:].split(b" ", 1)[0].decode()
        if expect is not None and status != expect:
            raise kura.TestError("%s: expected %s, got %r" % (text if isinstance(text, str)
                                                              else text[:60], expect,
                                                              lines[-3:]))
        return lines

    def append(self, box, msg, flags="", date=None, sync=False, expect="OK"):
        """APPEND one message; returns (lines, uidvalidity, uid) (the last two None on NO)."""
        t = self.tag()
        head = "%s APPEND %s " % (t, box)
        if flags:
            head += "(%s) " % flags
        if date:
            head += '"%s" ' % date
        head = head.encode("utf-8")
        if sync:
            self.c.send(head + b"{%d}\r\n" % len(msg))
            line = self.c.readline(30)
            if not line.startswith(b"+"):
                raise kura.TestError("no continuation for APPEND: %r" % line)
            self.c.send_pumped(msg + b"\r\n", timeout=120)
        else:
            self.c.send_pumped(head + b"{%d+}\r\n" % len(msg) + msg + b"\r\n", timeout=120)
        lines = self.read_response(t, 120)
        status = lines[-1][len(t) + 1:].split(b" ", 1)[0].decode()
        if expect is not None and status != expect:
            raise kura.TestError("APPEND %s: expected %s, got %r" % (box, expect, lines[-3:]))
        m = re.search(rb"\[APPENDUID (\d+) ([0-9:,]+)\]", lines[-1])
        if m:
            return lines, int(m.group(1)), m.group(2).decode()
        return lines, None, None

    def noop(self):
        return self.cmd("NOOP")

    def close(self):
        self.c.close()


def untagged(lines, word):
    """Untagged lines whose second token is word (or whose third is, for '* n EXISTS')."""
    out = []
    for l in lines:
        if not l.startswith(b"* "):
            continue
        parts = l.split(b" ")
        if len(parts) > 1 and parts[1].upper() == word.encode():
            out.append(l)
        elif len(parts) > 2 and parts[2].upper() == word.encode():
            out.append(l)
    return out


def numbered(lines, word):
    """The n of every '* n WORD' line, in order."""
    out = []
    for l in lines:
        m = re.match(rb"\* (\d+) " + word.encode() + rb"\b", l)
        if m:
            out.append(int(m.group(1)))
    return out


def status_of(sess, box, items):
    lines = sess.cmd("STATUS %s (%s)" % (box, items))
    st = untagged(lines, "STATUS")
    assert len(st) == 1, lines
    m = re.search(rb"\(([^()]*)\)\s*$", st[0])
    vals = m.group(1).split()
    return {vals[i].decode().upper(): int(vals[i + 1]) for i in range(0, len(vals), 2)}


def list_names(lines):
    """(attributes, name) of each LIST/LSUB line; quoted names unescaped, bytes decoded."""
    out = []
    for l in lines:
        m = re.match(rb'\* (?:LIST|LSUB) \(([^)]*)\) (?:"."|NIL) (.*)$', l)
        if not m:
            continue
        raw = m.group(2)
        if raw.startswith(b'"'):
            name = re.match(rb'"((?:[^"\\]|\\.)*)"', raw).group(1)
            name = re.sub(rb"\\(.)", rb"\1", name)
        elif b"\0LITERAL\0" in raw:
            name = raw.split(b"\0LITERAL\0", 1)[1].split(b"\0END\0", 1)[0]
        else:
            name = raw.split(b" ", 1)[0]
        out.append((m.group(1).decode().split(), name.decode("utf-8")))
    return out


def mutf7_encode(s):
    out, buf = [], []

    def flush():
        if buf:
            b = base64.b64encode("".join(buf).encode("utf-16-be")).decode().rstrip("=")
            out.append("&" + b.replace("/", ",") + "-")
            buf.clear()
    for ch in s:
        if 0x20 <= ord(ch) <= 0x7e:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            buf.append(ch)
    flush()
    return "".join(out)


def message(i, size=0):
    body = "Message %d\r\n" % i
    if size:
        body += ("x" * 76 + "\r\n") * (size // 78)
    return ("From: a@example.com\r\nSubject: test %d\r\nMessage-ID: <%d@example.com>\r\n\r\n%s"
            % (i, i, body)).encode()


# ----------------------------------------------------------------------------------------------
# imaplib


def t_imaplib_workflow(srv):
    user = new_user(srv, "imaplib")
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=srv.ssl_context())
    typ, _ = m.login(user, PASS)
    assert typ == "OK"
    typ, data = m.capability()
    assert typ == "OK" and b"UIDPLUS" in data[0] and b"LIST-EXTENDED" in data[0], data
    typ, data = m.list()
    assert typ == "OK", data
    names = sorted(d.decode().rsplit(" ", 1)[1].strip('"') for d in data)
    assert names == ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"], data
    special = {d.decode().rsplit(" ", 1)[1].strip('"'): d.decode() for d in data}
    for box, attr in (("Drafts", "\\Drafts"), ("Sent", "\\Sent"), ("Trash", "\\Trash"),
                      ("Junk", "\\Junk"), ("Archive", "\\Archive")):
        assert attr in special[box], special[box]
    typ, data = m.create("Work/Reports")
    assert typ == "OK", data
    typ, data = m.subscribe("Work/Reports")
    assert typ == "OK", data
    typ, data = m.lsub('""', "Work*")
    assert typ == "OK" and len(data) == 1 and b"Work/Reports" in data[0], data
    when = imaplib.Time2Internaldate(time.mktime((2023, 7, 14, 10, 0, 0, 0, 0, -1)))
    for i in range(3):
        flags = "(\\Seen)" if i == 0 else ("(\\Deleted)" if i == 1 else None)
        typ, data = m.append("Work/Reports", flags, when, message(i))
        assert typ == "OK" and b"APPENDUID" in data[0], data
    typ, data = m.status("Work/Reports", "(MESSAGES UNSEEN DELETED)")
    assert typ == "OK" and b"MESSAGES 3" in data[0] and b"UNSEEN 2" in data[0] and \
        b"DELETED 1" in data[0], data
    typ, data = m.select("Work/Reports")
    assert typ == "OK" and data == [b"3"], data
    typ, data = m.fetch("1:3", "(FLAGS RFC822.SIZE)")
    assert typ == "OK" and len(data) == 3, data
    typ, data = m.fetch("3", "(BODY.PEEK[])")
    assert typ == "OK" and data[0][1] == message(2), data
    typ, data = m.expunge()
    assert typ == "OK" and data == [b"2"], data
    typ, data = m.close()
    assert typ == "OK", data
    typ, data = m.rename("Work/Reports", '"Work/Old Reports"')
    assert typ == "OK", data
    typ, data = m.status('"Work/Old Reports"', "(MESSAGES)")
    assert typ == "OK" and b"MESSAGES 2" in data[0], data
    typ, data = m.select('"Work/Old Reports"', readonly=True)
    assert typ == "OK" and data == [b"2"], data
    m.unselect()
    typ, data = m.delete('"Work/Old Reports"')
    assert typ == "OK", data
    typ, data = m.select("nosuch")
    assert typ == "NO", data
    typ, data = m.logout()
    assert typ == "BYE", data


def t_imaplib_japanese_names_rev1(srv):
    """imaplib speaks IMAP4rev1: it must send and receive modified UTF-7."""
    user = new_user(srv, "imaplibja")
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=srv.ssl_context())
    m.login(user, PASS)
    name = mutf7_encode("受信箱/会議")
    typ, data = m.create('"%s"' % name)
    assert typ == "OK", data
    typ, data = m.list('""', "*")
    listed = [d.decode().rsplit(" ", 1)[1].strip('"') for d in data]
    assert mutf7_encode("受信箱") in listed and name in listed, data
    typ, data = m.append('"%s"' % name, None, None, message(1))
    assert typ == "OK", data
    m.logout()
    s = Session(srv, user, rev2=True)
    try:
        got = [n for _, n in list_names(s.cmd('LIST "" "*"'))]
        assert "受信箱" in got and "受信箱/会議" in got, got
        assert status_of(s, '"受信箱/会議"', "MESSAGES")["MESSAGES"] == 1
        s.cmd('CREATE "会議室/資料"')
    finally:
        s.close()
    m = imaplib.IMAP4_SSL("127.0.0.1", srv.imaps_port, ssl_context=srv.ssl_context())
    m.login(user, PASS)
    typ, data = m.list('""', '"*"')
    listed = [d.decode().rsplit(" ", 1)[1].strip('"') for d in data]
    assert mutf7_encode("会議室/資料") in listed and mutf7_encode("会議室") in listed, data
    m.logout()


# ----------------------------------------------------------------------------------------------
# names across revisions


def t_japanese_names_rev1_rev2(srv):
    user = new_user(srv, "ja")
    r1 = Session(srv, user)
    r2 = Session(srv, user, rev2=True)
    try:
        r1.cmd('CREATE "%s"' % mutf7_encode("受信箱/会議"))
        got2 = list_names(r2.cmd('LIST "" "*"'))
        names2 = [n for _, n in got2]
        assert "受信箱" in names2 and "受信箱/会議" in names2, got2
        attrs = dict((n, a) for a, n in got2)
        assert "\\HasChildren" in attrs["受信箱"], got2
        r2.cmd('CREATE "会議室/資料"')
        r2.cmd('RENAME "受信箱/会議" "受信箱/会議2"')
        names1 = [n for _, n in list_names(r1.cmd('LIST "" "*"'))]
        for want in ("受信箱", "受信箱/会議2", "会議室", "会議室/資料"):
            assert mutf7_encode(want) in names1, (want, names1)
        assert mutf7_encode("受信箱/会議") not in names1, names1
        # both spellings reach the same mailbox
        _, v1, u1 = r1.append('"%s"' % mutf7_encode("会議室/資料"), message(1))
        _, v2, u2 = r2.append('"会議室/資料"', message(2))
        assert v1 == v2 and int(u2) == int(u1) + 1, (v1, u1, v2, u2)
        lines = r2.cmd('SELECT "会議室/資料"')
        assert any(l.startswith(b"* LIST (") and l.endswith('"/" "会議室/資料"'.encode())
                   for l in lines), lines
        assert b"* 2 EXISTS" in lines, lines
        # an IMAP4rev1 STATUS answers in modified UTF-7
        lines = r1.cmd('STATUS "%s" (MESSAGES)' % mutf7_encode("会議室/資料"))
        assert ('* STATUS "%s" (MESSAGES 2)' % mutf7_encode("会議室/資料")).encode() in lines, \
            lines
    finally:
        r1.close()
        r2.close()


# ----------------------------------------------------------------------------------------------
# two sessions


def t_two_sessions_append_expunge(srv):
    user = new_user(srv, "twosess")
    a = Session(srv, user)
    b = Session(srv, user)
    try:
        a.cmd("SELECT INBOX")
        lines = b.cmd("SELECT INBOX")
        assert b"* 0 EXISTS" in lines, lines
        a.append("INBOX", message(1))
        a.append("INBOX", message(2), flags="\\Deleted")
        a.append("INBOX", message(3))
        lines = b.noop()
        assert numbered(lines, "EXISTS") and numbered(lines, "EXISTS")[-1] == 3, lines
        lines = a.cmd("EXPUNGE")
        assert numbered(lines, "EXPUNGE") == [2], lines
        lines = b.noop()
        assert numbered(lines, "EXPUNGE") == [2], lines
        assert status_of(b, "INBOX", "MESSAGES")["MESSAGES"] == 2
        # b's sequence numbers follow: message 2 is now the former message 3
        lines = b.cmd("FETCH 2 (UID)")
        assert any(re.match(rb"\* 2 FETCH \(.*UID 3", l) for l in lines), lines
        # CLOSE in b expunges silently for b; a hears the EXPUNGE
        b.append("INBOX", message(4), flags="\\Deleted \\Seen")
        lines = a.noop()
        assert numbered(lines, "EXISTS")[-1:] == [3], lines
        lines = b.cmd("CLOSE")
        assert not numbered(lines, "EXPUNGE"), lines
        lines = a.noop()
        assert numbered(lines, "EXPUNGE") == [3], lines
        # nothing more to tell
        lines = a.noop()
        assert len(lines) == 1, lines
    finally:
        a.close()
        b.close()


def t_two_sessions_mailbox_changes(srv):
    user = new_user(srv, "twomb")
    a = Session(srv, user)
    b = Session(srv, user, rev2=True)
    try:
        a.cmd("CREATE Shared/Box")
        got = [n for _, n in list_names(b.cmd('LIST "" "Shared*"'))]
        assert got == ["Shared", "Shared/Box"], got
        b.cmd("SELECT Shared/Box")
        a.append("Shared/Box", message(1))
        lines = b.noop()
        assert numbered(lines, "EXISTS") == [1], lines
        a.cmd("RENAME Shared Common")
        got = [n for _, n in list_names(b.cmd('LIST "" "*o*"'))]
        assert "Common/Box" in got and "Shared/Box" not in got, got
        assert status_of(b, "Common/Box", "MESSAGES")["MESSAGES"] == 1
        b.cmd("UNSELECT", expect=None)
        a.cmd("DELETE Common/Box")
        b.cmd("STATUS Common/Box (MESSAGES)", expect="NO")
        assert b.noop()[-1].startswith(b"t")
    finally:
        a.close()
        b.close()


def t_delete_mailbox_selected_elsewhere(srv):
    """Session B deletes the mailbox session A has selected: both sessions carry on (A may be
    told with an untagged response or BYE; no crash, no hang)."""
    user = new_user(srv, "delsel")
    a = Session(srv, user)
    b = Session(srv, user)
    try:
        a.cmd("CREATE Doomed")
        a.append("Doomed", message(1))
        a.cmd("SELECT Doomed")
        b.cmd("DELETE Doomed")
        t = a.tag()
        a.c.send(("%s NOOP\r\n" % t).encode())
        lines = []
        while True:
            line = a.c.readline(10)
            if line is None:
                break  # closed after BYE: acceptable
            lines.append(line)
            if line.startswith(t.encode() + b" "):
                a.cmd("FETCH 1 FLAGS", expect=None)
                a.cmd("LIST \"\" Doomed", expect="OK")
                break
        b.noop()
        assert status_of(b, "INBOX", "MESSAGES")["MESSAGES"] == 0
    finally:
        a.close()
        b.close()


def t_interleaved_appends(srv):
    user = new_user(srv, "interleave")
    a = Session(srv, user)
    b = Session(srv, user)
    try:
        seen = []
        validity = set()
        for i in range(20):
            for s in (a, b):
                _, v, u = s.append("Drafts", message(i))
                validity.add(v)
                seen.append(int(u))
        assert len(validity) == 1, validity
        assert seen == sorted(seen) and len(set(seen)) == 40, seen
        st = status_of(a, "Drafts", "MESSAGES UIDNEXT")
        assert st["MESSAGES"] == 40 and st["UIDNEXT"] > seen[-1], (st, seen[-1])
    finally:
        a.close()
        b.close()


# ----------------------------------------------------------------------------------------------
# APPEND


def big_message(size):
    rnd = random.Random(42)
    lines = []
    total = 0
    head = b"From: big@example.com\r\nSubject: 5 MB\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    total = len(head)
    alphabet = bytes(range(0x20, 0x7f)) + "äöü日本語".encode("utf-8")
    while total < size:
        n = rnd.randint(0, 200)
        line = bytes(rnd.choice(alphabet) for _ in range(n)) + b"\r\n"
        lines.append(line)
        total += len(line)
    data = head + b"".join(lines)
    return data[:size - 2] + b"\r\n"


def t_append_5mb_byte_exact(srv):
    user = new_user(srv, "big")
    s = Session(srv, user)
    try:
        data = big_message(5 * 1024 * 1024)
        assert b"\0" not in data
        _, v, u = s.append("INBOX", data, flags="\\Seen", sync=True)
        assert u == "1", u
        st = status_of(s, "INBOX", "MESSAGES SIZE")
        assert st["MESSAGES"] == 1 and st["SIZE"] >= len(data), (st, len(data))
        s.cmd("EXAMINE INBOX")
        lines = s.cmd("FETCH 1 (RFC822.SIZE BODY.PEEK[])", timeout=120)
        fetch = [l for l in lines if l.startswith(b"* 1 FETCH")]
        assert len(fetch) == 1, [l[:100] for l in lines]
        assert b"RFC822.SIZE %d" % len(data) in fetch[0].split(b"\0LITERAL\0")[0], fetch[0][:200]
        body = fetch[0].split(b"\0LITERAL\0", 1)[1].split(b"\0END\0", 1)[0]
        assert len(body) == len(data), (len(body), len(data))
        assert body == data, "BODY[] differs from the appended bytes"
        # the non-synchronising form of the same size too
        _, _, u2 = s.append("INBOX", data[::-1].replace(b"\n\r", b"\r\n"), sync=False)
        assert u2 == "2", u2
    finally:
        s.close()


def t_fetch_survives_expunge_elsewhere(srv):
    """A FETCH of a big body waiting for the client to read keeps sending the whole message even
    when another session expunges it meanwhile (the body file is held open, not reopened)."""
    user = new_user(srv, "fetchexp")
    a = Session(srv, user)
    b = Session(srv, user)
    try:
        data = big_message(20 * 1024 * 1024)
        _, _, u = a.append("INBOX", data, sync=True)
        assert u == "1", u
        a.cmd("SELECT INBOX")
        b.cmd("SELECT INBOX")
        # a small receive window so that most of the 20 MB waits in kura, not in the kernel
        a.c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
        a.c.send(b"f1 FETCH 1 BODY.PEEK[]\r\n")
        time.sleep(0.5 * kura.SLOW)
        b.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)")
        lines = b.cmd("EXPUNGE")
        assert numbered(lines, "EXPUNGE") == [1], lines
        assert status_of(b, "INBOX", "MESSAGES")["MESSAGES"] == 0
        lines = a.read_response("f1", timeout=120)
        # (b's flag change may come as an untagged FETCH FLAGS of its own)
        fetch = [l for l in lines if l.startswith(b"* 1 FETCH (BODY[]")]
        assert len(fetch) == 1, [l[:100] for l in lines]
        body = fetch[0].split(b"\0LITERAL\0", 1)[1].split(b"\0END\0", 1)[0]
        assert body == data, "BODY[] differs (%d of %d bytes)" % (len(body), len(data))
        assert lines[-1].startswith(b"f1 OK"), lines[-1]
        lines = a.noop()
        assert numbered(lines, "EXPUNGE") == [1], lines
    finally:
        a.close()
        b.close()


def t_multiappend_50(srv):
    user = new_user(srv, "multi")
    s = Session(srv, user)
    try:
        t = s.tag()
        parts = [("%s APPEND Archive" % t).encode()]
        for i in range(50):
            msg = message(i)
            flags = b" (\\Seen)" if i % 2 else b""
            parts.append(flags + b" {%d+}\r\n" % len(msg) + msg)
        s.c.send_pumped(b"".join(parts) + b"\r\n")
        lines = s.read_response(t)
        m = re.search(rb"\[APPENDUID (\d+) ([0-9:,]+)\]", lines[-1])
        assert lines[-1].startswith(t.encode() + b" OK") and m, lines
        uids = []
        for part in m.group(2).split(b","):
            lo, _, hi = part.partition(b":")
            uids.extend(range(int(lo), int(hi or lo) + 1))
        assert uids == list(range(1, 51)), m.group(2)
        st = status_of(s, "Archive", "MESSAGES UNSEEN UIDNEXT")
        assert st == {"MESSAGES": 50, "UNSEEN": 25, "UIDNEXT": 51}, st
    finally:
        s.close()


def t_nonsync_literal_over_appendlimit(srv_unused):
    """A {n+} literal over APPENDLIMIT: RFC 7888 4 lets the server either read it and answer
    NO/BAD [TOOBIG] (then the session goes on), or send BYE and close."""
    srv = kura.Server(srv_unused.binary, config={"append_limit": "4096"},
                      users={"limit-user": PASS}, name="mailboxes-limit")
    try:
        srv.start()
        s = Session(srv, "limit-user")
        caps = s.cmd("CAPABILITY")
        assert b"APPENDLIMIT=4096" in caps[0], caps
        for size in (4097, 6000, 200000):
            msg = message(1, size)[:size]
            t = s.tag()
            s.c.send_pumped(b"%s APPEND INBOX {%d+}\r\n" % (t.encode(), len(msg)) + msg + b"\r\n")
            line = s.c.readline(20)
            if line is not None and line.startswith(b"* BYE"):
                assert b"TOOBIG" in line, line
                s.c.expect_eof(10)
                s.close()
                s = Session(srv, "limit-user")
            else:
                assert line is not None and re.match(
                    rb"%s (NO|BAD) \[TOOBIG\]" % t.encode(), line), line
                s.noop()
        st = status_of(s, "INBOX", "MESSAGES")
        assert st["MESSAGES"] == 0, st
        _, _, u = s.append("INBOX", message(2, 3000)[:4096])
        assert u == "1", u
        s.close()
    finally:
        status = srv.stop()
        crashes = srv.crashes_since(0)
        san = srv.sanitizer_reports()
        srv.cleanup(ok=status == 0 and not crashes and not san)
    assert status == 0, "exit status %s" % status
    assert not crashes, crashes
    assert not san, san


# ----------------------------------------------------------------------------------------------
# UIDs and UIDVALIDITY


def t_uids_not_reused_delete_create(srv):
    user = new_user(srv, "reuse")
    s = Session(srv, user)
    try:
        s.cmd("CREATE Box")
        _, v1, _ = s.append("Box", message(1))
        _, _, u = s.append("Box", message(2))
        assert u == "2"
        s.cmd("DELETE Box")
        s.cmd("CREATE Box")
        _, v2, u2 = s.append("Box", message(3))
        assert v2 != v1 or int(u2) > 2, (v1, v2, u2)
        st = status_of(s, "Box", "UIDVALIDITY UIDNEXT")
        assert st["UIDVALIDITY"] == v2 and st["UIDNEXT"] > int(u2), st
    finally:
        s.close()


def t_uids_not_reused_rename_create(srv):
    user = new_user(srv, "reuse2")
    s = Session(srv, user)
    try:
        s.cmd("CREATE Old")
        _, v1, _ = s.append("Old", message(1))
        _, _, u = s.append("Old", message(2))
        s.cmd("RENAME Old New")
        s.cmd("CREATE Old")
        _, v2, u2 = s.append("Old", message(3))
        assert v2 != v1 or int(u2) > int(u), (v1, v2, u2)
        st = status_of(s, "New", "MESSAGES")
        assert st["MESSAGES"] == 2, st
    finally:
        s.close()


def select_data(lines):
    d = {}
    for l in lines:
        for key in (b"UIDVALIDITY", b"UIDNEXT", b"UNSEEN"):
            m = re.match(rb"\* OK \[" + key + rb" (\d+)\]", l)
            if m:
                d[key.decode()] = int(m.group(1))
        m = re.match(rb"\* (\d+) (EXISTS|RECENT)$", l)
        if m:
            d[m.group(2).decode()] = int(m.group(1))
        if l.startswith(b"* FLAGS ("):
            d["FLAGS"] = l
        m = re.match(rb"\* OK \[PERMANENTFLAGS \(([^)]*)\)\]", l)
        if m:
            d["PERMANENTFLAGS"] = m.group(1).split()
        if l.startswith(b"* LIST "):
            d["LIST"] = l
    return d


def t_select_required_responses(srv):
    """Every response SELECT/EXAMINE must send, whatever their order (RFC 3501 6.3.1, RFC 9051
    6.3.2), and UIDVALIDITY equal in STATUS, SELECT and another session's EXAMINE."""
    user = new_user(srv, "selreq")
    s1 = Session(srv, user)
    s2 = Session(srv, user, rev2=True)
    try:
        s1.append("INBOX", message(1), flags="\\Seen")
        s1.append("INBOX", message(2))
        st = status_of(s1, "INBOX", "UIDVALIDITY UIDNEXT")
        lines = s1.cmd("SELECT INBOX")
        d = select_data(lines)
        # both are \Recent: no IMAP4rev1 session has seen them yet (RFC 3501 2.3.2)
        assert d.get("EXISTS") == 2 and d.get("RECENT") == 2 and d.get("UNSEEN") == 2, lines
        assert d.get("UIDVALIDITY") == st["UIDVALIDITY"] and d.get("UIDNEXT") == 3, (d, st)
        for f in (b"\\Answered", b"\\Flagged", b"\\Deleted", b"\\Seen", b"\\Draft"):
            assert f in d["FLAGS"] and f in d["PERMANENTFLAGS"], d
        assert b"\\*" in d["PERMANENTFLAGS"] and "LIST" not in d, d
        assert lines[-1].startswith(b"t") and b"OK [READ-WRITE]" in lines[-1], lines
        lines = s2.cmd("EXAMINE INBOX")
        d2 = select_data(lines)
        assert d2.get("EXISTS") == 2 and "RECENT" not in d2 and "UNSEEN" not in d2, lines
        assert d2.get("UIDVALIDITY") == st["UIDVALIDITY"] and d2.get("UIDNEXT") == 3, d2
        assert d2.get("PERMANENTFLAGS") == [], d2
        assert d2.get("LIST", b"").endswith(b'"/" "INBOX"') or \
            d2.get("LIST", b"").endswith(b'"/" INBOX'), d2
        assert b"OK [READ-ONLY]" in lines[-1], lines
        # s1 claimed them: a new SELECT (by s1 or another session) finds none recent
        d = select_data(s1.cmd("SELECT INBOX"))
        assert d.get("EXISTS") == 2 and d.get("RECENT") == 0, d
    finally:
        s1.close()
        s2.close()


def t_restart_keeps_mailboxes(srv_unused):
    srv = kura.Server(srv_unused.binary, users={"persist-user": PASS}, name="mailboxes-restart")
    try:
        srv.start()
        s = Session(srv, "persist-user")
        s.cmd('CREATE "Projects/%s"' % mutf7_encode("会議"))
        s.cmd("SUBSCRIBE Projects")
        s.cmd("DELETE Junk")
        _, v, _ = s.append('"Projects/%s"' % mutf7_encode("会議"), message(1), flags="\\Flagged")
        _, _, _ = s.append('"Projects/%s"' % mutf7_encode("会議"), message(2), flags="\\Deleted")
        s.cmd('SELECT "Projects/%s"' % mutf7_encode("会議"))
        s.cmd("EXPUNGE")
        before = s.cmd('LIST "" "*" RETURN (SUBSCRIBED)')
        s.close()
        status = srv.stop()
        assert status == 0, "exit status %s" % status
        srv.users = {}
        srv.start()
        srv.users = {"persist-user": PASS}
        s = Session(srv, "persist-user")
        after = s.cmd('LIST "" "*" RETURN (SUBSCRIBED)')
        assert before[:-1] == after[:-1], (before, after)
        st = status_of(s, '"Projects/%s"' % mutf7_encode("会議"), "MESSAGES UIDNEXT UIDVALIDITY")
        assert st == {"MESSAGES": 1, "UIDNEXT": 3, "UIDVALIDITY": v}, (st, v)
        s.cmd('EXAMINE "Projects/%s"' % mutf7_encode("会議"))
        lines = s.cmd("FETCH 1 (UID FLAGS BODY.PEEK[])")
        assert any(b"UID 1" in l and b"\\Flagged" in l and message(1) in l for l in lines), lines
        s.close()
    finally:
        status = srv.stop()
        crashes = srv.crashes_since(0)
        san = srv.sanitizer_reports()
        srv.cleanup(ok=status == 0 and not crashes and not san)
    assert status == 0, "exit status %s" % status
    assert not crashes, crashes
    assert not san, san


# ----------------------------------------------------------------------------------------------


def main():
    binary, _ = kura.binary_from_argv(sys.argv[1:])
    res = kura.Results()
    if not os.access(binary, os.X_OK):
        res.fail("kura binary %s is missing" % binary)
        return res.summary()
    if kura.is_san_binary(binary):
        kura.SLOW = max(kura.SLOW, 3.0)
    srv = kura.Server(binary, name="mailboxes")
    try:
        srv.start()
    except (kura.TestError, OSError) as e:
        res.fail("server starts", str(e))
        srv.cleanup(ok=False)
        return res.summary()
    tests = [(n[2:], f) for n, f in sorted(globals().items())
             if n.startswith("t_") and callable(f)]
    for name, fn in tests:
        off = srv.log_size()
        ok = res.run(name, fn, srv)
        time.sleep(0.05)
        crashes = srv.crashes_since(off)
        if crashes:
            ok = False
            res.fail(name + ": no server process crashed", "\n".join(crashes))
        if not ok:
            print("#   log tail:\n#   " + srv.log_tail(10).replace("\n", "\n#   "))
        if srv.proc.poll() is not None:
            res.fail("server alive after " + name, srv.log_tail())
            break
    status = srv.stop()
    crashes = srv.crashes_since(0)
    res.check("no child crashed (whole run and shutdown)", not crashes, "\n".join(crashes[:20]))
    san = srv.sanitizer_reports()
    ok = res.check("server exits 0 on SIGTERM", status == 0,
                   "status %s\n%s" % (status, srv.log_tail()))
    ok = res.check("server log has no sanitizer report", not san, "\n".join(san[:20])) and ok
    srv.cleanup(ok=ok and res.failed == 0)
    if res.failed:
        print("# server dir kept: %s" % srv.dir)
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
