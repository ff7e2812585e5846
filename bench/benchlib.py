"""bench/benchlib.py: what the Python benchmarks share (store-bench.py, search-bench.py,
sync-bench.py, mix-bench.py): the deterministic message generator of issue 3 (MessageGen,
MessageFile), a fast IMAP client that counts instead of parsing (Imap), pipelined APPEND streams,
/proc helpers (memory, CPU time of a process tree), the servers under test (Kura, and Dovecot
through bench/setup-dovecot) with snapshot/restore of their data and optionally the N users of
bench/setup-users, and the median/spread summaries of alternating rounds. Standard library
only."""
import base64
import math
import mmap
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(REPO, "bench")
USER, PASSWORD = "bench", "benchpw"
CLK_TCK = os.sysconf("SC_CLK_TCK")

def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# synthetic messages

EN_WORDS = """the of and to in is that for it as was with be by on not he this are or his from at
which but have an they you were her she there been one all we their has would when if so no will
more about can said up out them some what into only other new time could these two may first then
do any like my now over such our man me even most made after also did many before must through
back years where much your way well down should because each just those people how too little
state good very make world still own see men work long get here between both life being under
never day same another know while last might us great old year off come since against go came
right used take three meeting report budget project schedule review draft release server mailbox
customer invoice shipment quarter forecast update deadline please attached thanks regards team
office travel agenda minutes proposal contract support ticket issue build deploy migration
backup storage network latency performance benchmark results summary question answer""".split()

JA_PHRASES = ["お世話になっております", "会議の議事録を送付します", "来週の打ち合わせについて",
              "見積書をご確認ください", "請求書の件", "出張の日程調整", "新製品のご案内",
              "システム障害のお知らせ", "定期メンテナンスのお知らせ", "資料を添付いたします",
              "ご検討のほどよろしくお願いいたします", "納期の変更について", "東京本社",
              "大阪支店", "山田太郎", "佐藤花子", "鈴木一郎", "高橋美咲", "田中健",
              "営業部", "開発部", "総務部", "株式会社サンプル", "年末年始の営業について",
              "契約書の送付", "ご注文ありがとうございます", "発送完了のお知らせ",
              "パスワード変更のお願い", "研修のご案内", "議事録", "四半期報告",
              "予算案について", "確認しました", "承知いたしました", "引き続きよろしくお願いします"]

JA_NAMES = ["山田太郎", "佐藤花子", "鈴木一郎", "高橋美咲", "田中健", "伊藤直樹", "渡辺由美",
            "中村翔", "小林さくら", "加藤大輔"]
EN_NAMES = ["Alice Johnson", "Bob Smith", "Carol White", "David Brown", "Eve Davis",
            "Frank Miller", "Grace Wilson", "Heidi Moore", "Ivan Taylor", "Judy Anderson",
            "Mallory Thomas", "Oscar Martin", "Peggy Lee", "Trent Clark", "Victor Hall"]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example.jp", "corp.example.co.jp",
           "lists.example.org", "shop.example.com"]
TZS = ["+0000", "+0900", "-0500", "+0100", "-0800", "+0530", "+0200"]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def ew_b(text, charset):
    """RFC 2047 B encoded-words (each self-contained, folded), for ISO-2022-JP or UTF-8."""
    codec = "iso2022_jp" if charset == "ISO-2022-JP" else "utf-8"
    words, step = [], 10 if codec == "iso2022_jp" else 12
    for i in range(0, len(text), step):
        raw = text[i:i + step].encode(codec)
        words.append("=?%s?B?%s?=" % (charset, base64.b64encode(raw).decode()))
    return "\r\n ".join(words)


class MessageGen:
    """Deterministic messages: message i depends only on (seed, i)."""

    def __init__(self, seed):
        self.seed = seed
        rng = random.Random(seed)
        self.en_paras = []
        for _ in range(400):
            words = [rng.choice(EN_WORDS) for _ in range(rng.randint(30, 120))]
            words[0] = words[0].capitalize()
            lines, line = [], ""
            for w in words:
                if len(line) + len(w) + 1 > 72:
                    lines.append(line)
                    line = w
                else:
                    line = (line + " " + w) if line else w
            lines.append(line + ".")
            self.en_paras.append("\r\n".join(lines).encode() + b"\r\n\r\n")
        self.ja_paras = []   # (iso-2022-jp bytes, utf-8 bytes)
        for _ in range(200):
            lines = []
            for _ in range(rng.randint(2, 6)):
                lines.append("".join(rng.choice(JA_PHRASES) + "。"
                                     for _ in range(rng.randint(1, 2))))
            jis = b"".join(l.encode("iso2022_jp") + b"\r\n" for l in lines) + b"\r\n"
            utf8 = b"".join(l.encode("utf-8") + b"\r\n" for l in lines) + b"\r\n"
            self.ja_paras.append((jis, utf8))
        blob = base64.b64encode(rng.randbytes(256 * 1024))
        self.b64_lines = [blob[i:i + 76] + b"\r\n" for i in range(0, len(blob), 76)]

    def address(self, rng):
        dom = rng.choice(DOMAINS)
        r = rng.random()
        if r < 0.25:
            name = rng.choice(JA_NAMES)
            local = "user%d" % rng.randint(1, 500)
            return "%s <%s@%s>" % (ew_b(name, "ISO-2022-JP" if rng.random() < 0.7 else "UTF-8"),
                                   local, dom)
        if r < 0.85:
            name = rng.choice(EN_NAMES)
            local = name.split()[0].lower() + "." + name.split()[1].lower()
            return '"%s" <%s@%s>' % (name, local, dom) if rng.random() < 0.3 else \
                "%s <%s@%s>" % (name, local, dom)
        return "%s%d@%s" % (rng.choice(["info", "noreply", "billing", "ops"]), rng.randint(1, 9),
                            dom)

    def fill_text(self, rng, size, kind):
        out, n = [], 0
        while n < size:
            if kind == "en":
                p = rng.choice(self.en_paras)
            elif kind == "jis":
                p = rng.choice(self.ja_paras)[0]
            else:
                p = rng.choice(self.ja_paras)[1]
            out.append(p)
            n += len(p)
        return b"".join(out)

    def qp(self, data):
        # English text with a few soft line breaks: quoted-printable that decodes to itself
        return data.replace(b"=", b"=3D")

    def fill_b64(self, rng, size):
        k = max(1, size // 78)
        start = rng.randrange(0, len(self.b64_lines) - k) if k < len(self.b64_lines) else 0
        return b"".join(self.b64_lines[start:start + k])

    def date(self, i, rng):
        t = 1700000000 + i * 311 + rng.randint(0, 300)
        tm = time.gmtime(t)
        return "%s, %d %s %d %02d:%02d:%02d %s" % (DAYS[tm.tm_wday], tm.tm_mday,
                                                   MONTHS[tm.tm_mon - 1], tm.tm_year, tm.tm_hour,
                                                   tm.tm_min, tm.tm_sec, rng.choice(TZS))

    def message(self, i):
        """(bytes, flags string, internal date string)"""
        rng = random.Random(self.seed * 1000003 + i)
        target = int(math.exp(rng.uniform(math.log(1024), math.log(30 * 1024))))
        date = self.date(i, rng)
        mid = "<%d.%08x@%s>" % (i, rng.getrandbits(32), rng.choice(DOMAINS))
        h = []
        for hop in range(rng.randint(1, 3)):
            h.append("Received: from mx%d.%s (mx%d.%s [192.0.2.%d])\r\n\tby mail.example.com "
                     "(Postfix) with ESMTPS id %08X\r\n\tfor <bench@example.com>; %s"
                     % (hop, rng.choice(DOMAINS), hop, rng.choice(DOMAINS), rng.randint(1, 254),
                        rng.getrandbits(32), date))
        if rng.random() < 0.4:
            sig = base64.b64encode(rng.randbytes(128)).decode()
            h.append("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s; s=sel1;\r\n"
                     "\th=from:to:subject:date:message-id; bh=%s;\r\n\tb=%s\r\n\t %s"
                     % (rng.choice(DOMAINS), base64.b64encode(rng.randbytes(32)).decode(),
                        sig[:64], sig[64:]))
        h.append("From: " + self.address(rng))
        h.append("To: " + ",\r\n ".join(self.address(rng) for _ in range(rng.randint(1, 3))))
        if rng.random() < 0.4:
            h.append("Cc: " + ",\r\n ".join(self.address(rng) for _ in range(rng.randint(1, 4))))
        r = rng.random()
        if r < 0.35:
            subj = ew_b(rng.choice(JA_PHRASES) + rng.choice(JA_PHRASES),
                        "ISO-2022-JP" if rng.random() < 0.8 else "UTF-8")
        else:
            subj = " ".join(rng.choice(EN_WORDS) for _ in range(rng.randint(2, 9))).capitalize()
        if rng.random() < 0.3:
            subj = "Re: " + subj
            h.append("In-Reply-To: <%d.ref@%s>" % (rng.randint(1, i + 1), rng.choice(DOMAINS)))
            h.append("References: <%d.ref@%s>" % (rng.randint(1, i + 1), rng.choice(DOMAINS)))
        h.append("Subject: " + subj)
        h.append("Date: " + date)
        h.append("Message-ID: " + mid)
        if rng.random() < 0.3:
            h.append("X-Mailer: %s" % rng.choice(["Thunderbird 115.5", "Apple Mail (2.3731)",
                                                  "Microsoft Outlook 16.0", "mutt/2.2.9"]))
        h.append("MIME-Version: 1.0")
        kind = rng.random()
        lang = rng.random()
        hdr_len = sum(len(x) + 2 for x in h) + 100
        room = max(200, target - hdr_len)
        if kind < 0.45:
            if lang < 0.25:
                h.append("Content-Type: text/plain; charset=ISO-2022-JP")
                h.append("Content-Transfer-Encoding: 7bit")
                body = self.fill_text(rng, room, "jis")
            elif lang < 0.35:
                h.append("Content-Type: text/plain; charset=UTF-8")
                h.append("Content-Transfer-Encoding: 8bit")
                body = self.fill_text(rng, room, "utf8")
            elif lang < 0.5:
                h.append("Content-Type: text/plain; charset=UTF-8; format=flowed")
                h.append("Content-Transfer-Encoding: quoted-printable")
                body = self.qp(self.fill_text(rng, room, "en"))
            else:
                h.append("Content-Type: text/plain; charset=us-ascii")
                h.append("Content-Transfer-Encoding: 7bit")
                body = self.fill_text(rng, room, "en")
        elif kind < 0.75:
            bnd = "----=_Part_%d_%08x" % (i, rng.getrandbits(32))
            h.append('Content-Type: multipart/alternative;\r\n\tboundary="%s"' % bnd)
            jis = lang < 0.3
            text = self.fill_text(rng, room * 2 // 5, "jis" if jis else "en")
            html_src = self.fill_text(rng, room * 2 // 5, "utf8" if jis else "en")
            html = (b"<html><head><meta charset=\"utf-8\"></head><body>\r\n<p>" +
                    html_src.replace(b"\r\n\r\n", b"</p>\r\n<p>") + b"</p>\r\n</body></html>\r\n")
            body = (("--%s\r\nContent-Type: text/plain; charset=%s\r\nContent-Transfer-Encoding: "
                     "7bit\r\n\r\n" % (bnd, "ISO-2022-JP" if jis else "us-ascii")).encode() + text +
                    ("--%s\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding:"
                     " %s\r\n\r\n" % (bnd, "8bit" if jis else "7bit")).encode() + html +
                    ("--%s--\r\n" % bnd).encode())
        else:
            bnd = "==boundary_%d_%08x==" % (i, rng.getrandbits(32))
            h.append('Content-Type: multipart/mixed; boundary="%s"' % bnd)
            att_size = int(room * rng.uniform(0.6, 0.9))
            text = self.fill_text(rng, max(100, room - att_size - 400),
                                  "en" if lang > 0.3 else "jis")
            ctype, ext = rng.choice([("application/pdf", "pdf"), ("image/png", "png"),
                                     ("image/jpeg", "jpg"), ("application/zip", "zip"),
                                     ("application/vnd.openxmlformats-officedocument."
                                      "spreadsheetml.sheet", "xlsx")])
            if rng.random() < 0.3:
                fname = rng.choice(JA_PHRASES) + "." + ext
                enc = "".join(c if c.isascii() and c.isalnum() else
                              "".join("%%%02X" % b for b in c.encode()) for c in fname)
                disp = "attachment;\r\n filename*=UTF-8''%s" % enc
            else:
                disp = 'attachment; filename="%s-%d.%s"' % (rng.choice(EN_WORDS), i, ext)
            body = (("--%s\r\nContent-Type: text/plain; charset=%s\r\n\r\n"
                     % (bnd, "us-ascii" if lang > 0.3 else "ISO-2022-JP")).encode() + text +
                    ("--%s\r\nContent-Type: %s\r\nContent-Transfer-Encoding: base64\r\n"
                     "Content-Disposition: %s\r\n\r\n" % (bnd, ctype, disp)).encode() +
                    self.fill_b64(rng, att_size) + ("--%s--\r\n" % bnd).encode())
        data = "\r\n".join(h).encode() + b"\r\n\r\n" + body
        f = rng.random()
        flags = "\\Seen" if f < 0.2 else "\\Seen \\Answered" if f < 0.25 else \
            "\\Flagged" if f < 0.28 else ""
        tm = time.gmtime(1700000000 + i * 311)
        idate = "%02d-%s-%d %02d:%02d:%02d +0000" % (tm.tm_mday, MONTHS[tm.tm_mon - 1], tm.tm_year,
                                                     tm.tm_hour, tm.tm_min, tm.tm_sec)
        return data, flags, idate


class MessageFile:
    """All generated messages in one file (generated once, mmapped), with their offsets."""

    def __init__(self, path, count, seed):
        self.path = path
        gen = MessageGen(seed)
        self.index = []
        t0 = time.time()
        with open(path, "wb") as f:
            off = 0
            for i in range(count):
                data, flags, idate = gen.message(i)
                f.write(data)
                self.index.append((off, len(data), flags, idate))
                off += len(data)
        self.total = off
        log("generated %d messages, %.1f MB, in %.1f s (mean %.1f KB)"
            % (count, off / 1e6, time.time() - t0, off / count / 1024))
        self.f = open(path, "rb")
        self.mm = mmap.mmap(self.f.fileno(), 0, access=mmap.ACCESS_READ)

    def data(self, i):
        off, n, _, _ = self.index[i]
        return self.mm[off:off + n]

    def close(self):
        self.mm.close()
        self.f.close()


# ----------------------------------------------------------------------------------------------
# a fast IMAP client: count bytes and patterns, never parse

class ImapError(Exception):
    pass


class Imap:
    BUFSIZE = 4 << 20

    def __init__(self, port, timeout=1800):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = bytearray(self.BUFSIZE)
        self.tagn = 0
        st, _, _ = self.read_stream(b"\r\n", 1, check_end=True)
        if not st.startswith(b"* OK"):
            raise ImapError("bad greeting %r" % st)

    def local_port(self):
        return self.sock.getsockname()[1]

    def read_stream(self, until, n_until, pats=(), check_end=True):
        """Read until `until` occurred n_until times and the stream ends with CRLF (the server
        sends nothing after the last tagged reply). Counts each pattern in pats (patterns are
        matched across recv boundaries, each occurrence once). Returns (last line, bytes read,
        {pattern: count})."""
        allp = [until] + [p for p in pats if p != until]
        counts = dict.fromkeys(allp, 0)
        carry = {p: b"\n"[:len(p) - 1] for p in allp}   # the stream starts at a line start
        tail = b""
        total = 0
        buf = self.buf
        recv_into = self.sock.recv_into
        while True:
            n = recv_into(buf)
            if n == 0:
                raise ImapError("connection closed; last bytes %r" % tail[-300:])
            total += n
            for p in allp:
                k = len(p) - 1
                counts[p] += buf.count(p, 0, n)
                if k > 0:
                    head = bytes(buf[:min(k, n)])
                    counts[p] += (carry[p] + head).count(p)
                    carry[p] = bytes(buf[n - k:n]) if n >= k else (carry[p] + head)[-k:]
            tail = (tail + bytes(buf[max(0, n - 4096):n]))[-4096:]
            if counts[until] >= n_until and (not check_end or tail.endswith(b"\r\n")):
                break
        lines = tail.split(b"\r\n")
        return lines[-2] if len(lines) >= 2 else tail, total, counts

    def command(self, text, pats=(), expect=b"OK"):
        self.tagn += 1
        tag = b"K%d" % self.tagn
        if isinstance(text, str):
            text = text.encode()
        self.sock.sendall(tag + b" " + text + b"\r\n")
        last, total, counts = self.read_stream(b"\n" + tag + b" ", 1, pats)
        if expect is not None and not last.startswith(tag + b" " + expect):
            raise ImapError("%s: expected %s, got %r" % (text[:60], expect, last[:300]))
        return last, total, counts

    def command_data(self, text, expect=b"OK"):
        """Send one command; return (last line, every byte of the response) for answers small
        enough to parse."""
        self.tagn += 1
        tag = b"K%d" % self.tagn
        if isinstance(text, str):
            text = text.encode()
        self.sock.sendall(tag + b" " + text + b"\r\n")
        data = bytearray(b"\n")   # a line start before the first line
        end = b"\n" + tag + b" "
        while True:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ImapError("connection closed; last bytes %r" % bytes(data[-300:]))
            data += chunk
            if data.endswith(b"\r\n"):
                k = data.rfind(end, max(0, len(data) - len(chunk) - len(end) - 1024))
                if k >= 0 and data.find(b"\r\n", k + 1) == len(data) - 2:
                    break
        last = bytes(data[data.rfind(end) + 1:-2])
        del data[0]
        if expect is not None and not last.startswith(tag + b" " + expect):
            raise ImapError("%s: expected %s, got %r" % (text[:60], expect, last[:300]))
        return last, bytes(data)

    def pipeline(self, chunks, n_tagged, prefix, pats=()):
        """Send the byte chunks from a thread while reading: n_tagged replies whose tags start
        with prefix (no untagged line starts with it). Returns (last line, bytes, ok count)."""
        err = []

        def sender():
            try:
                for c in chunks:
                    self.sock.sendall(c)
            except OSError as e:
                err.append(e)
        th = threading.Thread(target=sender, daemon=True)
        th.start()
        ok_pat = b"\n" + prefix
        last, total, counts = self.read_stream(ok_pat, n_tagged,
                                               (b" OK ", b" NO ", b" BAD ") + tuple(pats))
        th.join()
        if err:
            raise ImapError("send failed: %s" % err[0])
        return last, total, counts

    def login(self):
        self.command('LOGIN "%s" "%s"' % (USER, PASSWORD))

    def close(self):
        try:
            self.sock.sendall(b"Z LOGOUT\r\n")
            self.sock.settimeout(10)
            while self.sock.recv(65536):
                pass
        except OSError:
            pass
        self.sock.close()


def append_stream(msgs, mailbox, indices, prefix, batch=1, with_meta=False, chunk=1 << 20):
    """The bytes of pipelined APPENDs (LITERAL+), yielded in ~1 MiB chunks."""
    out, size, n = [], 0, 0
    for b0 in range(0, len(indices), batch):
        n += 1
        parts = [b"%s%05d APPEND %s" % (prefix, n, mailbox.encode())]
        for i in indices[b0:b0 + batch]:
            data = msgs.data(i)
            if with_meta:
                _, _, flags, idate = msgs.index[i]
                parts.append(b' (%s) "%s" {%d+}\r\n' % (flags.encode(), idate.encode(), len(data)))
            else:
                parts.append(b" {%d+}\r\n" % len(data))
            parts.append(data)
        parts.append(b"\r\n")
        for p in parts:
            out.append(p)
            size += len(p)
        if size >= chunk:
            yield b"".join(out)
            out, size = [], 0
    if out:
        yield b"".join(out)


# ----------------------------------------------------------------------------------------------
# processes

def proc_children(ppid):
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == ppid:
                        out.append(int(name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def proc_descendants(pid):
    out, todo = [], [pid]
    while todo:
        for c in proc_children(todo.pop()):
            out.append(c)
            todo.append(c)
    return out


def tree_cpu(pid):
    """CPU seconds the process tree of pid has used so far: utime+stime of every live process
    plus cutime+cstime, which hold the children that exited and were reaped by a member of the
    tree (Dovecot's imap processes come and go). The difference of two readings is what the
    tree used in between. kura-load --server-pid reads the same at the start and the end of its
    measured phase (server_cpu_run in its JSON)."""
    total = 0
    for p in [pid] + proc_descendants(pid):
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


def settle(pid, quiet=0.02, window=1.0, limit=300):
    """Wait until the tree uses under quiet CPU-seconds per second over window seconds (at
    most limit seconds). Returns (CPU seconds used meanwhile, seconds waited)."""
    start, t0 = tree_cpu(pid), time.monotonic()
    last = start
    while time.monotonic() - t0 < limit:
        time.sleep(window)
        now = tree_cpu(pid)
        if now - last < quiet * window:
            break
        last = now
    return tree_cpu(pid) - start, time.monotonic() - t0


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def raise_nofile():
    """Soft file limit up to the hard one (inherited by the servers and kura-load started
    afterwards: 1,000 connections need more than the usual 1,024). Returns the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return "?"


def proc_status_kb(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_rss_kb(pid):
    """(VmRSS, RssAnon) in kB: anonymous memory is what the process allocated itself; the rest
    of VmRSS is mapped files (Dovecot mmaps its index files) and shared libraries."""
    rss = anon = 0
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("RssAnon:"):
                    anon = int(line.split()[1])
    except OSError:
        pass
    return rss, anon


def proc_pss_kb(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def socket_owner(master_pid, server_port, client_port):
    """The descendant of master_pid holding the server end of our TCP connection."""
    inode = None
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            p = line.split()
            if int(p[1].rsplit(":", 1)[1], 16) == server_port and \
               int(p[2].rsplit(":", 1)[1], 16) == client_port:
                inode = p[9]
    if inode is None:
        return None
    target = "socket:[%s]" % inode
    for pid in proc_descendants(master_pid):
        try:
            for fd in os.listdir("/proc/%d/fd" % pid):
                try:
                    if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == target:
                        return pid
                except OSError:
                    pass
        except OSError:
            pass
    return None


# ----------------------------------------------------------------------------------------------
# summaries of alternating rounds

def med_range(xs, fmt="%.1f"):
    """'median (min-max)' of the values, '-' when there are none."""
    xs = [x for x in xs if x is not None]
    if not xs:
        return "-"
    return (fmt + " (" + fmt + "-" + fmt + ")") % (statistics.median(xs), min(xs), max(xs))


def ratio_summary(a_by_round, b_by_round):
    """The ratio of the medians a/b and the per-round ratios (a and b: {round: value} of the same
    rounds). Returns (ratio or None, [per-round ratios])."""
    a = [v for v in a_by_round.values() if v is not None]
    b = [v for v in b_by_round.values() if v is not None]
    ratio = statistics.median(a) / statistics.median(b) if a and b and statistics.median(b) else None
    per = [a_by_round[r] / b_by_round[r] for r in sorted(a_by_round)
           if r in b_by_round and a_by_round[r] is not None and b_by_round[r]]
    return ratio, per


def wait_port(port, proc, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s during startup" % (what, proc.returncode))
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.settimeout(5)
            data = s.recv(4096)
            s.close()
            if data.startswith(b"* OK"):
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("%s not answering on port %d" % (what, port))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def copy_tree(src, dst):
    if os.path.exists(dst):
        shutil.rmtree(dst)
    subprocess.run(["cp", "-a", src, dst], check=True)


class Server:
    name = "?"
    session_comm = ()

    def __init__(self):
        self.proc = None
        self.port = free_port()
        self.logf = None

    def stop(self):
        if self.proc is None:
            return
        pids = proc_descendants(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                log("%s: did not stop in 30 s, killing" % self.name)
                self.proc.kill()
                self.proc.wait()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.proc = None
        if self.logf:
            self.logf.close()
            self.logf = None

    def snapshot(self):
        copy_tree(self.data_path, self.data_path + ".snap")

    def restore(self):
        copy_tree(self.data_path + ".snap", self.data_path)

    def session_pid(self, conn):
        return socket_owner(self.proc.pid, self.port, conn.local_port())


def setup_users(n, *args):
    """bench/setup-users -n N ARGS... (bench1..benchN, password benchpw, SHA512-CRYPT)."""
    r = subprocess.run([os.path.join(BENCH, "setup-users"), "-n", str(n), *args],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise RuntimeError("setup-users: %s" % r.stdout.decode(errors="replace"))


class Kura(Server):
    session_comm = ("kura-mail",)

    def __init__(self, binary, workdir, users=0, extra=(), label=None):
        """users: also bench1..benchN (bench/setup-users); extra: more configuration lines
        (KEY=VALUE or 'key = value'); label: server 'kura-LABEL' with its own directory."""
        super().__init__()
        self.name = "kura" if label is None else "kura-" + label
        self.binary = binary
        self.dir = os.path.join(workdir, self.name)
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.data_path = os.path.join(self.dir, "data")
        self.conf = os.path.join(self.dir, "kura.conf")
        with open(self.conf, "w") as f:
            f.write("data_dir = %s\nimap_listen = 127.0.0.1:%d\nimaps_listen =\n"
                    "lmtp_listen =\npop3_listen =\npop3s_listen =\n"
                    "plaintext_auth = loopback\nlog_level = info\n"
                    % (self.data_path, self.port))
            for line in extra:
                k, v = line.split("=", 1)
                f.write("%s = %s\n" % (k.strip(), v.strip()))
        r = subprocess.run([binary, "-c", self.conf, "user", "add", USER],
                           input=(PASSWORD + "\n").encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise RuntimeError("kura user add: %s" % r.stdout.decode(errors="replace"))
        if users:
            setup_users(users, "--kura", binary, "--config", self.conf)

    def start(self):
        self.logf = open(os.path.join(self.dir, "server.log"), "ab")
        self.proc = subprocess.Popen([self.binary, "-c", self.conf, "serve"],
                                     stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=self.logf, cwd=self.dir)
        wait_port(self.port, self.proc, self.name)


class Dovecot(Server):
    session_comm = ("imap",)

    def __init__(self, fmt, workdir, setup_args=(), users=0):
        """users: bench1..benchN (bench/setup-users) are added to the user `bench`."""
        super().__init__()
        self.name = "dovecot-" + fmt
        self.dir = os.path.join(workdir, self.name)
        r = subprocess.run([os.path.join(BENCH, "setup-dovecot"), "--port", str(self.port),
                            "--format", fmt, "--user", USER, "--password", PASSWORD,
                            *setup_args, self.dir],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise RuntimeError("setup-dovecot failed: %s" % r.stderr.decode(errors="replace"))
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.data_path = os.path.join(self.dir, "mail")
        if users:
            setup_users(users, "--dovecot", self.dir, "--append")

    def start(self):
        self.logf = open(os.path.join(self.dir, "master.out"), "ab")
        self.proc = subprocess.Popen(["dovecot", "-F", "-c", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=self.logf, stderr=self.logf)
        wait_port(self.port, self.proc, self.name)
