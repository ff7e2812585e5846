#!/usr/bin/python3
"""test-search.py: SEARCH against a brute-force scan of the raw messages.

Appends a few hundred varied messages (plain and HTML, multipart with attachments, embedded
messages, quoted-printable and base64, UTF-8, ISO-2022-JP, Shift_JIS, EUC-JP and Latin-1,
RFC 2047 subjects and names split across encoded words, full-width and half-width forms, flags,
keywords, internal dates in many zones, Date: fields present, missing or broken), then checks
that the answers to random queries equal what searchref.py computes from the raw bytes with the
stdlib email package: text keys with strings of 1, 2, 3 and more characters taken from the
messages (sometimes in another case or width), absent strings, every other key, NOT/OR/groups,
and sequence sets; and that UID SORT orders results as searchref.py does from the raw messages
(base subjects, addresses, display names, dates, sizes, i;unicode-casemap) and THREAD as its
independent implementation of RFC 5256 3 does (Message-ID / References / In-Reply-To links,
missing and duplicate ids, quoted ids, replies joined by subject). Also checks the index
after COPY/EXPUNGE and after `kura check --reindex`.

Usage: test-search.py [--kura BINARY] [--seed N] [--messages N] [--queries N]
"""
import base64
import os
import quopri
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import kura  # noqa: E402
import searchref  # noqa: E402

USER, PASS = "searcher", "Search-Pass-42"

WORDS_EN = ("meeting agenda budget report invoice lunch project deadline review server mail "
            "search index kura imap protocol folder message archive release schedule coffee "
            "Alpha Beta GAMMA delta Epsilon MiXeD release-notes v2.1 #42 ticket-1234 50% "
            "don't \"quoted\" back\\slash café naïve Straße Ärger Œuvre").split()
WORDS_JA = ("会議 議事録 予定表 打ち合わせ 資料 確認 東京 大阪 営業部 開発 担当者 本日 明日 "
            "ミーティング カタカナ ひらがな 漢字 会 議 高橋 山田 株式会社 お疲れ様です 以上 "
            "よろしくお願いします 添付 報告書").split()
HALF = {"ミーティング": "ﾐｰﾃｨﾝｸﾞ", "カタカナ": "ｶﾀｶﾅ"}
WORDS_ALL = WORDS_EN + WORDS_JA
ZONES = [-720, -600, -480, -300, -180, 0, 60, 330, 540, 600, 840]
KEYWORDS = ["$Work", "$Junk", "Later", "$Forwarded"]
SYSFLAGS = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"]


def fullwidth(s):
    return "".join(chr(ord(c) + 0xfee0) if "!" <= c <= "~" else c for c in s)


def phrase(rng, n, ja_share=0.4):
    out = []
    for _ in range(n):
        if rng.random() < ja_share:
            w = rng.choice(WORDS_JA)
            if w in HALF and rng.random() < 0.3:
                w = HALF[w]
        else:
            w = rng.choice(WORDS_EN)
            if rng.random() < 0.1:
                w = fullwidth(w)
        out.append(w)
    sep = "" if rng.random() < 0.2 else " "
    return sep.join(out)


def encodable(text, cs):
    try:
        text.encode(searchref.CODECS[cs])
        return True
    except UnicodeEncodeError:
        return False


def enc_words(text, rng):
    """RFC 2047 words for a header value, sometimes split mid-character."""
    if all(ord(c) < 128 for c in text) and rng.random() < 0.5 and "=?" not in text:
        return text
    cs = rng.choice(["utf-8", "iso-2022-jp"]) if encodable(text, "iso-2022-jp") else "utf-8"
    if cs == "iso-2022-jp":
        data = text.encode("iso2022_jp")
        return "=?ISO-2022-JP?B?%s?=" % base64.b64encode(data).decode()
    data = text.encode("utf-8")
    chunks = []
    if len(data) > 6 and rng.random() < 0.5:
        cut = rng.randrange(1, len(data))  # anywhere, also inside a character
        chunks = [data[:cut], data[cut:]]
    else:
        chunks = [data]
    words = []
    for ch in chunks:
        if rng.random() < 0.5:
            words.append("=?UTF-8?B?%s?=" % base64.b64encode(ch).decode())
        else:
            q = "".join(chr(b) if (0x30 <= b <= 0x39 or 0x41 <= b <= 0x5a or 0x61 <= b <= 0x7a)
                        else "=%02X" % b for b in ch)
            words.append("=?UTF-8?Q?%s?=" % q)
    return " ".join(words)


def address(rng, i):
    local = rng.choice(["taro", "hanako", "bob", "alice", "eve", "info", "sales"]) + str(i % 7)
    dom = rng.choice(["example.jp", "example.com", "mail.example.org"])
    r = rng.random()
    if r < 0.3:
        return "%s@%s" % (local, dom)
    name = phrase(rng, rng.randint(1, 2), 0.5)
    if all(ord(c) < 128 for c in name) and '"' not in name and "\\" not in name:
        return '"%s" <%s@%s>' % (name, local, dom)
    return "%s <%s@%s>" % (enc_words(name, rng), local, dom)


def body_part(rng, text, html=False):
    cs = rng.choice(["utf-8", "utf-8", "iso-2022-jp", "shift_jis", "euc-jp", "iso-8859-1"])
    if not encodable(text, cs):
        cs = "utf-8"
    if html:
        words = text.split(" ")
        text = "<html><head><style>p { x: y }</style></head><body><p>" + \
            "</p><p>".join(" ".join(words[i:i + 4]).replace("&", "&amp;").replace("<", "&lt;")
                           for i in range(0, len(words), 4)) + "</p></body></html>"
    data = text.encode(searchref.CODECS[cs])
    cte = rng.choice(["7bit", "quoted-printable", "base64"]) if cs != "iso-2022-jp" else "7bit"
    if cte == "7bit" and any(b > 127 for b in data):
        cte = "8bit"
    if cte == "base64":
        payload = base64.encodebytes(data).replace(b"\n", b"\r\n")
    elif cte == "quoted-printable":
        payload = quopri.encodestring(data).replace(b"\n", b"\r\n")
    else:
        payload = data.replace(b"\n", b"\r\n")
    if not payload.endswith(b"\r\n"):
        payload += b"\r\n"
    head = ("Content-Type: text/%s; charset=%s\r\nContent-Transfer-Encoding: %s\r\n\r\n"
            % ("html" if html else "plain", cs, cte)).encode()
    return head + payload


MSGIDS = []


def thread_headers(rng, i, h):
    """Message-ID, References / In-Reply-To links to earlier messages (or to absent ones)."""
    if MSGIDS and rng.random() < 0.03:
        mid = rng.choice(MSGIDS)  # a duplicate Message-ID
    else:
        mid = "<m%d.%d@example.test>" % (i, rng.randrange(10 ** 6))
    if rng.random() < 0.05:
        h.append("Message-ID: %s" % mid.replace("<m", '<"m').replace("@", '"@'))
    elif rng.random() < 0.97:
        h.append("Message-ID: %s" % mid)
    if MSGIDS and rng.random() < 0.6:
        chain = [rng.choice(MSGIDS) for _ in range(rng.randint(1, 3))]
        if rng.random() < 0.15:
            chain.insert(rng.randrange(len(chain) + 1), "<absent%d@example.test>" % rng.randrange(5))
        if rng.random() < 0.4:
            h.append("In-Reply-To: %s" % chain[-1])
        else:
            h.append("References: %s" % "\r\n ".join(chain))
            if rng.random() < 0.3:
                h.append("In-Reply-To: %s" % chain[0])
    MSGIDS.append(mid)


def make_message(rng, i, top=True):
    h = []
    h.append("From: %s" % address(rng, i))
    h.append("To: %s" % ", ".join(address(rng, i + k) for k in range(rng.randint(1, 2))))
    if rng.random() < 0.3:
        h.append("Cc: %s" % address(rng, i + 3))
    if rng.random() < 0.15:
        h.append("Bcc: %s" % address(rng, i + 5))
    if rng.random() < 0.9:
        subj = enc_words(phrase(rng, rng.randint(1, 5)), rng)
        if rng.random() < 0.3:
            subj = rng.choice(["Re: ", "RE: Re: ", "Fwd: ", "[list] ", "Re: [list] "]) + subj
        elif rng.random() < 0.05:
            subj = "[Fwd: %s]" % subj
        if len(subj) > 60 and rng.random() < 0.5:
            k = subj.rfind(" ", 0, 60)
            if k > 0:
                subj = subj[:k] + "\r\n" + subj[k:]  # folded
        h.append("Subject: %s" % subj)
    r = rng.random()
    if r < 0.75:
        t = 1700000000 + rng.randrange(0, 86400 * 60)
        h.append("Date: %s" % email_date(t, rng.choice(ZONES)))
    elif r < 0.85:
        h.append("Date: sometime last week")
    if top:
        thread_headers(rng, i, h)
    else:
        h.append("Message-ID: <inner%d@example.test>" % i)
    if rng.random() < 0.3:
        h.append("X-Tag: %s" % rng.choice(["alpha", "beta", "urgent", "ticket-%d" % i]))
    if rng.random() < 0.05:
        h.append("X-Empty:")
    kind = rng.random()
    body_text = phrase(rng, rng.randint(3, 40))
    if kind < 0.4:
        if rng.random() < 0.5:
            h.append("MIME-Version: 1.0")
            part = body_part(rng, body_text)
            head, _, payload = part.partition(b"\r\n\r\n")
            return ("\r\n".join(h) + "\r\n").encode() + head + b"\r\n\r\n" + payload
        data = body_text.encode("utf-8")
        h.append("Content-Type: text/plain; charset=utf-8")
        return ("\r\n".join(h) + "\r\n\r\n").encode() + data + b"\r\n"
    h.append("MIME-Version: 1.0")
    b = "b%d" % i
    parts = []
    if kind < 0.6:
        h.append("Content-Type: multipart/alternative; boundary=%s" % b)
        parts = [body_part(rng, body_text), body_part(rng, body_text, html=True)]
    elif kind < 0.85:
        h.append("Content-Type: multipart/mixed; boundary=%s" % b)
        parts = [body_part(rng, body_text)]
        name = rng.choice(["report.pdf", "data-%d.csv" % i, "議事録.pdf", "photo.jpg"])
        if all(ord(c) < 128 for c in name):
            disp = 'attachment; filename="%s"' % name
        else:
            disp = "attachment; filename*=utf-8''" + "".join(
                "%%%02X" % c for c in name.encode("utf-8"))
        parts.append(("Content-Type: application/octet-stream\r\nContent-Disposition: %s\r\n"
                      "Content-Transfer-Encoding: base64\r\n\r\n" % disp).encode()
                     + base64.encodebytes(os.urandom(30)).replace(b"\n", b"\r\n"))
    else:
        h.append("Content-Type: multipart/mixed; boundary=%s" % b)
        inner = make_message(rng, i + 1000, top=False) if rng.random() < 0.5 else \
            ("Subject: %s\r\nFrom: inner@example.com\r\n\r\n%s\r\n"
             % (enc_words(phrase(rng, 2), rng), "inner text")).encode()
        parts = [body_part(rng, body_text),
                 b"Content-Type: message/rfc822\r\n\r\n" + inner]
    out = ("\r\n".join(h) + "\r\n\r\n").encode() + b"preamble\r\n"
    for p in parts:
        out += ("--%s\r\n" % b).encode() + p
        if not out.endswith(b"\r\n"):
            out += b"\r\n"
    out += ("--%s--\r\n" % b).encode()
    return out


def email_date(t, tz):
    lt = time.gmtime(t + tz * 60)
    sign = "+" if tz >= 0 else "-"
    return "%s, %d %s %d %02d:%02d:%02d %s%02d%02d" % (
        ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][lt.tm_wday], lt.tm_mday,
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
         "Dec"][lt.tm_mon - 1], lt.tm_year, lt.tm_hour, lt.tm_min, lt.tm_sec, sign,
        abs(tz) // 60, abs(tz) % 60)


def imap_date(t, tz):
    lt = time.gmtime(t + tz * 60)
    sign = "+" if tz >= 0 else "-"
    return "%2d-%s-%d %02d:%02d:%02d %s%02d%02d" % (
        lt.tm_mday, ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                     "Nov", "Dec"][lt.tm_mon - 1], lt.tm_year, lt.tm_hour, lt.tm_min,
        lt.tm_sec, sign, abs(tz) // 60, abs(tz) % 60)


def search_date(d):
    lt = time.gmtime(d * 86400)
    return "%d-%s-%d" % (lt.tm_mday, ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
                                      "Sep", "Oct", "Nov", "Dec"][lt.tm_mon - 1], lt.tm_year)


class Client:
    def __init__(self, srv):
        self.c = srv.login("tls", USER, PASS)
        self.n = 0

    def cmd(self, data, timeout=60):
        self.n += 1
        tag = b"q%d" % self.n
        self.c.send(tag + b" " + data + b"\r\n")
        lines = self.c.read_until_tagged(tag.decode(), timeout=timeout * kura.SLOW)
        if not lines[-1].startswith(tag + b" OK"):
            raise kura.TestError("%r -> %r" % (data[:200], lines[-3:]))
        return lines

    def uid_search(self, crit):
        lines = self.cmd(b"UID SEARCH " + crit)
        found = None
        for line in lines:
            if line.startswith(b"* SEARCH"):
                found = {int(x) for x in line[8:].split()}
        if found is None:
            raise kura.TestError("no SEARCH response to %r" % crit[:200])
        return found


def literal(s, cs="utf-8"):
    data = s.encode(searchref.CODECS.get(cs, cs))
    return b"{%d+}\r\n" % len(data) + data


# ---------------------------------------------------------------- query generation

TEXT_KEYS = ["SUBJECT", "FROM", "TO", "CC", "BCC", "BODY", "TEXT", "HEADER"]


def column_text(ref, key, field):
    if key == "BODY":
        return ref.body
    if key == "TEXT":
        return ref.hdr + "\n" + ref.body
    name = field.lower() if key == "HEADER" else key.lower()
    return "\n".join(ref.field(name))


def variant(rng, s):
    """The same string as a user might type it: other case, full width, half-width kana."""
    r = rng.random()
    if r < 0.2:
        return s.upper()
    if r < 0.3:
        return fullwidth(s)
    if r < 0.35:
        for full, half in HALF.items():
            s = s.replace(full, half)
    return s


def needle_from(rng, text):
    pieces = [p for p in text.split("\n") if p.strip()]
    if not pieces:
        return None
    p = rng.choice(pieces)
    n = rng.choice([1, 1, 2, 2, 3, 3, 4, 5, 8])
    if len(p) <= n:
        return p
    start = rng.randrange(0, len(p) - n + 1)
    return p[start:start + n]


def gen_text(rng, refs):
    key = rng.choice(TEXT_KEYS)
    field = None
    if key == "HEADER":
        field = rng.choice(["X-Tag", "Message-ID", "Date", "Subject", "From", "X-Empty",
                            "Content-Type", "x-tag", "X-Missing"])
    r = rng.random()
    if r < 0.7:
        ref = rng.choice(refs)
        needle = needle_from(rng, column_text(ref, key, field))
        if needle is None:
            needle = rng.choice(["zz", "会", "q"])
        needle = variant(rng, needle)
    elif r < 0.8:
        needle = rng.choice(["zzqx", "存在しない文字列", "ﾃﾞ", "q", "Ω", "🙂", "x y"])
    elif r < 0.85:
        needle = ""
    else:
        needle = rng.choice(WORDS_ALL)
        if rng.random() < 0.5:
            needle = needle[:rng.randint(1, 3)]
    return key, field, needle


def crit_text(key, field, needle, cs):
    head = b"HEADER " + kura.imap_quote(field).encode() + b" " if key == "HEADER" \
        else key.encode() + b" "
    return head + literal(needle, cs)


def gen_simple(rng, refs, max_uid):
    """(criterion bytes, predicate) for a non-text key."""
    k = rng.randrange(12)
    if k == 0:
        f = rng.choice(SYSFLAGS)
        neg = rng.random() < 0.5
        name = ("UN" if neg else "") + f[1:].upper()
        return name.encode(), lambda m: (f in m.flags) != neg
    if k == 1:
        kw = rng.choice(KEYWORDS + ["$Absent"])
        neg = rng.random() < 0.4
        return (b"UNKEYWORD " if neg else b"KEYWORD ") + kw.encode(), \
            lambda m: (kw.lower() in m.keywords) != neg
    if k == 2:
        size = rng.choice(refs).size + rng.choice([-1, 0, 1])
        if rng.random() < 0.5:
            return b"LARGER %d" % size, lambda m: m.size > size
        return b"SMALLER %d" % size, lambda m: m.size < size
    if k in (3, 4):
        ref = rng.choice(refs)
        d = searchref.day(ref.internal, ref.internal_tz) + rng.choice([-1, 0, 1])
        op = rng.choice(["BEFORE", "ON", "SINCE"])
        f = {"BEFORE": lambda a: a < d, "ON": lambda a: a == d, "SINCE": lambda a: a >= d}[op]
        return ("%s %s" % (op, search_date(d))).encode(), \
            lambda m: f(searchref.day(m.internal, m.internal_tz))
    if k in (5, 6):
        ref = rng.choice(refs)
        d = searchref.day(ref.sent, ref.sent_tz) + rng.choice([-1, 0, 1])
        op = rng.choice(["SENTBEFORE", "SENTON", "SENTSINCE"])
        f = {"SENTBEFORE": lambda a: a < d, "SENTON": lambda a: a == d,
             "SENTSINCE": lambda a: a >= d}[op]
        return ("%s %s" % (op, search_date(d))).encode(), \
            lambda m: f(searchref.day(m.sent, m.sent_tz))
    if k == 7:
        lo = rng.randint(1, max_uid)
        hi = rng.randint(lo, max_uid + 5)
        return b"UID %d:%d" % (hi, lo), lambda m: lo <= m.uid <= hi
    if k == 8:
        secs = rng.choice([3600, 86400 * 365 * 3, 86400 * 365 * 30])
        now = time.time()
        if rng.random() < 0.5:
            return b"OLDER %d" % secs, lambda m: m.internal <= now - secs
        return b"YOUNGER %d" % secs, lambda m: m.internal >= now - secs
    return b"ALL", lambda m: True


def gen_query(rng, refs, max_uid, cs, depth=0):
    """(criterion bytes, predicate); text strings are encoded in cs (UnicodeEncodeError when
    one cannot be)."""
    r = rng.random()
    if depth < 2 and r < 0.15:
        a, pa = gen_query(rng, refs, max_uid, cs, depth + 1)
        b, pb = gen_simple(rng, refs, max_uid)
        # a may be several keys (an AND): it needs its parentheses
        crit = b"OR " + b + b" (" + a + b")" if rng.random() < 0.5 else \
            b"OR (" + b + b") (" + a + b")"
        return crit, lambda m: pa(m) or pb(m)
    if depth < 2 and r < 0.25:
        a, pa = gen_query(rng, refs, max_uid, cs, depth + 1)
        return b"NOT (" + a + b")", lambda m: not pa(m)
    if depth < 2 and r < 0.4:
        a, pa = gen_simple(rng, refs, max_uid)
        b, pb = gen_query(rng, refs, max_uid, cs, depth + 1)
        return a + b" " + b, lambda m: pa(m) and pb(m)
    if r < 0.75:
        key, field, needle = gen_text(rng, refs)
        crit = crit_text(key, field, needle, cs)
        return crit, lambda m: m.text_match(key, needle, field)
    return gen_simple(rng, refs, max_uid)


# ---------------------------------------------------------------- the test

def t_random(srv, rng, nmsg, nquery, state):
    c = Client(srv)
    c.cmd(b"SELECT INBOX")
    refs = []
    base = 1600000000
    for i in range(nmsg):
        raw = make_message(rng, i)
        flags = [f for f in SYSFLAGS if rng.random() < 0.25]
        kws = [k for k in KEYWORDS if rng.random() < 0.2]
        tz = rng.choice(ZONES)
        t = base + rng.randrange(0, 86400 * 20) + (86400 * 365 * 5 if rng.random() < 0.2 else 0)
        if rng.random() < 0.1:
            t = int(time.time()) - rng.randrange(0, 7200)
        fl = " ".join(flags + kws)
        lines = c.cmd(b"APPEND INBOX (" + fl.encode() + b") \"" + imap_date(t, tz).encode() +
                      b"\" " + literal_bytes(raw))
        uid = int(lines[-1].split(b"APPENDUID ")[1].split(b"]")[0].split()[1])
        refs.append(searchref.Ref(uid, raw, flags, kws, t, tz))
    state["refs"] = refs
    c.cmd(b"NOOP")
    max_uid = max(r.uid for r in refs)
    mismatches = []
    for q in range(nquery):
        cs = rng.choice(["utf-8"] * 8 + ["iso-2022-jp", "shift_jis"])
        try:
            crit, pred = gen_query(rng, refs, max_uid, cs)
        except UnicodeEncodeError:
            cs = "utf-8"
            crit, pred = gen_query(rng, refs, max_uid, cs)
        full = b"CHARSET " + cs.upper().encode() + b" " + crit
        got = c.uid_search(full)
        want = {m.uid for m in refs if pred(m)}
        if got != want:
            mismatches.append("query %d %r: got %d, want %d; extra %s missing %s" % (
                q, full[:160], len(got), len(want), sorted(got - want)[:8],
                sorted(want - got)[:8]))
    assert not mismatches, "%d of %d queries differ:\n%s" % (len(mismatches), nquery,
                                                            "\n".join(mismatches[:15]))
    state["client"] = c


def literal_bytes(data):
    return b"{%d+}\r\n" % len(data) + data


def t_short_and_long(srv, rng, state):
    """For every Japanese word and some others: 1, 2, 3+ character prefixes against the
    reference, in BODY, SUBJECT and TEXT."""
    c, refs = state["client"], state["refs"]
    bad = []
    for w in WORDS_ALL:
        for n in (1, 2, 3, len(w)):
            s = w[:n]
            for key in ("BODY", "SUBJECT", "TEXT", "FROM"):
                got = c.uid_search(b"CHARSET UTF-8 " + key.encode() + b" " + literal(s))
                want = {m.uid for m in refs if m.text_match(key, s)}
                if got != want:
                    bad.append("%s %r: extra %s missing %s" % (key, s, sorted(got - want)[:5],
                                                              sorted(want - got)[:5]))
    assert not bad, "\n".join(bad[:15])


def t_sort(srv, rng, state):
    """UID SORT by random criteria over random searches equals searchref.py's ordering."""
    c, refs = state["client"], state["refs"]
    keys = ["SUBJECT", "FROM", "TO", "CC", "DATE", "ARRIVAL", "SIZE", "DISPLAYFROM",
            "DISPLAYTO"]
    max_uid = max(r.uid for r in refs)
    bad = []
    for q in range(60):
        crit = [(rng.choice(keys), rng.random() < 0.3) for _ in range(rng.randint(1, 3))]
        text = " ".join(("REVERSE " if rev else "") + k for k, rev in crit)
        search, pred = gen_simple(rng, refs, max_uid) if rng.random() < 0.7 else \
            (b"ALL", lambda m: True)
        lines = c.cmd(b"UID SORT (" + text.encode() + b") UTF-8 " + search)
        got = []
        for line in lines:
            if line.startswith(b"* SORT"):
                got = [int(x) for x in line[6:].split()]
        want = searchref.sort_order([m for m in refs if pred(m)], crit)
        if got != want:
            first = next(i for i in range(min(len(got), len(want)) + 1)
                         if i >= len(got) or i >= len(want) or got[i] != want[i])
            bad.append("(%s) %r: %d vs %d results, first difference at %d: got %s want %s" % (
                text, search, len(got), len(want), first, got[first:first + 3],
                want[first:first + 3]))
    assert not bad, "\n".join(bad[:10])


def t_thread(srv, rng, state):
    """UID THREAD and THREAD over random searches equal searchref.py's threading."""
    c, refs = state["client"], state["refs"]
    max_uid = max(r.uid for r in refs)
    bad = []
    for q in range(40):
        alg = rng.choice(["REFERENCES", "ORDEREDSUBJECT"])
        search, pred = gen_simple(rng, refs, max_uid) if rng.random() < 0.6 else \
            (b"ALL", lambda m: True)
        uid = rng.random() < 0.5
        lines = c.cmd((b"UID " if uid else b"") + b"THREAD " + alg.encode() + b" UTF-8 " + search)
        got = None
        for line in lines:
            if line.startswith(b"* THREAD"):
                got = line[8:].decode()
        found = [m for m in refs if pred(m)]
        order = sorted(m.uid for m in refs)
        numbers = {u: (u if uid else order.index(u) + 1) for u in order}
        want = searchref.thread(found, alg, numbers)
        if got != want:
            k = next((i for i in range(min(len(got or ""), len(want))) if got[i] != want[i]),
                     min(len(got or ""), len(want)))
            bad.append("%s %r: differ at %d: got ...%s... want ...%s..." % (
                alg, search, k, (got or "")[max(0, k - 40):k + 40], want[max(0, k - 40):k + 40]))
    assert not bad, "\n".join(bad[:6])


def t_copy_expunge_reindex(srv, rng, state):
    c, refs = state["client"], state["refs"]
    probe = [("BODY", "会議"), ("TEXT", "meeting"), ("SUBJECT", "a"), ("BODY", "議事録")]

    def answers(box_refs):
        return [c.uid_search(b"CHARSET UTF-8 " + k.encode() + b" " + literal(s)) for k, s in probe]

    c.cmd(b"CREATE Copies")
    c.cmd(b"UID COPY 1:* Copies")
    c.cmd(b"SELECT Copies")
    copied = answers(refs)
    c.cmd(b"SELECT INBOX")
    before = answers(refs)
    # the copies share the bodies: same answers, renumbered (UIDs 1.. in the same order)
    order = sorted(m.uid for m in refs)
    renum = {u: i + 1 for i, u in enumerate(order)}
    assert copied == [{renum[u] for u in s} for s in before], "copies answer differently"
    # expunge half of INBOX: the copies still find everything
    gone = [m.uid for m in refs if m.uid % 2 == 0]
    c.cmd(b"UID STORE " + ",".join(map(str, gone)).encode() + b" +FLAGS.SILENT (\\Deleted)")
    c.cmd(b"UID EXPUNGE " + ",".join(map(str, gone)).encode())
    after = answers(refs)
    assert after == [s - set(gone) for s in before], "expunge changed other answers"
    c.cmd(b"SELECT Copies")
    assert answers(refs) == copied, "copies lost hits after the originals were expunged"
    c.c.close()
    r = srv.cli("check", USER, "--reindex", timeout=300)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    assert "search index rebuilt" in r.stdout, r.stdout
    c = Client(srv)
    c.cmd(b"SELECT Copies")
    assert answers(refs) == copied, "answers changed after --reindex"
    c.cmd(b"SELECT INBOX")
    assert answers(refs) == after, "answers changed after --reindex"
    state["client"] = c
    r = srv.cli("check", USER)
    assert r.returncode == 0, (r.stdout, r.stderr)


def main():
    binary, args = kura.binary_from_argv(sys.argv[1:])
    seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 20241124
    nmsg = int(args[args.index("--messages") + 1]) if "--messages" in args else 300
    nquery = int(args[args.index("--queries") + 1]) if "--queries" in args else 500
    res = kura.Results()
    if not os.access(binary, os.X_OK):
        res.fail("kura binary %s is missing" % binary)
        return res.summary()
    if kura.is_san_binary(binary):
        kura.SLOW = max(kura.SLOW, 3.0)
    rng = random.Random(seed)
    print("# seed %d, %d messages, %d queries" % (seed, nmsg, nquery))
    srv = kura.Server(binary, users={USER: PASS}, name="search")
    state = {}
    try:
        srv.start()
        ok = res.run("%d random queries equal a scan of %d raw messages" % (nquery, nmsg),
                     t_random, srv, rng, nmsg, nquery, state)
        if ok:
            res.run("1, 2, 3+ character strings of every test word", t_short_and_long, srv,
                    rng, state)
            res.run("UID SORT by random criteria equals a sort of the raw messages", t_sort, srv,
                    rng, state)
            res.run("THREAD REFERENCES / ORDEREDSUBJECT equal a threading of the raw messages",
                    t_thread, srv, rng, state)
            res.run("copies share the index; expunge and --reindex keep answers",
                    t_copy_expunge_reindex, srv, rng, state)
        status = srv.stop()
    except (kura.TestError, OSError) as e:
        res.fail("search server", "%s\n%s" % (e, srv.log_tail()))
        srv.kill_tree()
        status = None
    srv.finish(res, status)
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
