"""searchref.py: what SEARCH must answer, computed in Python from the raw messages.

The reference decodes each message with the stdlib `email` package (MIME structure, transfer
encodings, RFC 2047 words through email.header.decode_header, RFC 2231 file names through
get_filename) and applies the rules kura documents, independently written:
  - folding (src/mail/search-fold.h): <wide>/<narrow> forms to their ordinary forms, white space
    and control runs to one space, full case folding then NFC;
  - what each key reads (src/mail/search-text.h, src/store/store-search.h);
  - HTML to text (src/mail/html-text.h);
  - dates: the day of the internal date in its own zone, of the Date: field in its zone (or the
    internal date when there is none).
Used by test-search.py (random messages and queries) and test-japanese.py.
"""
import email
import email.header
import email.policy
import email.utils
import re
import unicodedata

import codecs


def _cp50220_decode(data, errors="strict"):
    """ISO-2022-JP the way Windows writes it (CP50220/CP50221, as kura reads it): every JIS X
    0208 pair mapped arithmetically to Shift_JIS and read as CP932 (NEC row 13: ①, ㈱), ESC ( I
    and SO/SI half-width katakana, ESC ( J as ASCII."""
    data = bytes(data)
    out, i, mode, so = [], 0, "ascii", False
    while i < len(data):
        b = data[i]
        if b == 0x1b:
            seq = data[i + 1:i + 3]
            if seq in (b"$B", b"$@"):
                mode, i = "jis", i + 3
                continue
            if seq in (b"(B", b"(J"):
                mode, i = "ascii", i + 3
                continue
            if seq == b"(I":
                mode, i = "kana", i + 3
                continue
        if b == 0x0e:
            so, i = True, i + 1
            continue
        if b == 0x0f:
            so, i = False, i + 1
            continue
        if (mode == "kana" or so) and 0x21 <= b <= 0x5f:
            out.append(bytes([b + 0x80]).decode("cp932"))
            i += 1
            continue
        if mode == "jis" and 0x21 <= b <= 0x7e and i + 1 < len(data):
            j1, j2 = b, data[i + 1]
            s1 = ((j1 + 1) >> 1) + (0x70 if j1 <= 0x5e else 0xb0)
            s2 = j2 + (0x1f + (1 if j2 >= 0x60 else 0) if j1 % 2 else 0x7e)
            out.append(bytes([s1, s2]).decode("cp932", "replace"))
            i += 2
            continue
        out.append(chr(b) if b < 0x80 else "\ufffd")
        i += 1
    return "".join(out), len(data)


def _search_codecs(name):
    if name == "kura_cp50220":
        return codecs.CodecInfo(name=name, encode=codecs.lookup("iso2022_jp").encode,
                                decode=_cp50220_decode)
    return None


codecs.register(_search_codecs)

CODECS = {
    "utf-8": "utf-8", "us-ascii": "utf-8", "iso-2022-jp": "kura_cp50220", "shift_jis": "cp932",
    "euc-jp": "euc_jp", "iso-8859-1": "cp1252", "windows-1252": "cp1252",
}

SPACES = set(range(0x21)) | {0x7f, 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000} \
    | set(range(0x2000, 0x200b))


def fold(s):
    chars = []
    for ch in s:
        cp = ord(ch)
        if cp == 0x3000 or 0xff00 <= cp <= 0xffef:
            d = unicodedata.decomposition(ch)
            if d.startswith("<wide>") or d.startswith("<narrow>"):
                parts = d.split()[1:]
                if len(parts) == 1:
                    ch = chr(int(parts[0], 16))
        chars.append(ch)
    out, space = [], False
    for ch in chars:
        if ord(ch) in SPACES:
            space = True
            continue
        if space:
            out.append(" ")
            space = False
        out.append(ch)
    if space:
        out.append(" ")
    s = "".join(out)
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", s).casefold())


def fold_value(s):
    f = fold(s)
    if f.startswith(" "):
        f = f[1:]
    if f.endswith(" "):
        f = f[:-1]
    return f


# ---------------------------------------------------------------- HTML (html-text.h)

BLOCK = set("""address article aside blockquote body br caption center dd details dialog dir div
dl dt fieldset figcaption figure footer form frame h1 h2 h3 h4 h5 h6 head header hr html iframe
img input legend li main menu nav ol option p pre section select summary table tbody td textarea
tfoot th thead title tr ul""".split())
ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'", "nbsp": "\xa0",
            "copy": "\xa9", "reg": "\xae", "trade": "\u2122", "hellip": "\u2026",
            "mdash": "\u2014", "ndash": "\u2013", "laquo": "\xab", "raquo": "\xbb",
            "lsquo": "\u2018", "rsquo": "\u2019", "ldquo": "\u201c", "rdquo": "\u201d",
            "bull": "\u2022", "middot": "\xb7", "yen": "\xa5", "euro": "\u20ac", "pound": "\xa3",
            "cent": "\xa2", "sect": "\xa7", "deg": "\xb0", "plusmn": "\xb1", "times": "\xd7",
            "divide": "\xf7"}


def _tag_end(s, i):
    quote = None
    i += 1
    while i < len(s):
        c = s[i]
        if quote:
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == ">":
            return i + 1
        i += 1
    return len(s)


def html_to_text(s):
    out, i, n = [], 0, len(s)
    while i < n:
        c = s[i]
        if c == "&":
            m = re.match(r"&#([xX])([0-9a-fA-F]{1,8});|&#([0-9]{1,8});|&([a-zA-Z0-9]{1,8});", s[i:])
            if m:
                if m.group(3) is not None or m.group(2) is not None:
                    v = int(m.group(2), 16) if m.group(2) is not None else int(m.group(3))
                    if v == 0 or v > 0x10ffff or 0xd800 <= v <= 0xdfff:
                        v = 0xfffd
                    out.append(chr(v))
                    i += m.end()
                    continue
                if m.group(4) in ENTITIES:
                    out.append(ENTITIES[m.group(4)])
                    i += m.end()
                    continue
            out.append(c)
            i += 1
            continue
        if c != "<" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        nx = s[i + 1]
        if nx in "!?":
            if s.startswith("<!--", i):
                j = s.find("-->", i + 4)
                i = n if j < 0 else j + 3
            else:
                i = _tag_end(s, i)
            continue
        closing = nx == "/"
        j = i + 1 + (1 if closing else 0)
        if j >= n or not (s[j].isascii() and s[j].isalpha()):
            out.append(c)
            i += 1
            continue
        k = j
        while k < n and s[k].isascii() and s[k].isalnum():
            k += 1
        name = s[j:k].lower()
        i = _tag_end(s, i)
        if name in BLOCK:
            out.append(" ")
        if not closing and name in ("script", "style"):
            m = re.compile(r"</%s(?![a-zA-Z0-9])" % name, re.I).search(s, i)
            i = n if m is None else m.start()
    return "".join(out)


# ---------------------------------------------------------------- messages

def decode_header_value(raw, fallback=None):
    if isinstance(raw, bytes):
        # 8-bit text outside encoded words: UTF-8 if it is, else the fallback charset
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raw = raw.decode(CODECS.get(fallback or "", "utf-8"), "replace")
    v = re.sub(r"\r?\n(?=[ \t])", "", raw).strip(" \t")
    parts = email.header.decode_header(v)
    out = []
    for text, cs in parts:
        if isinstance(text, bytes):
            text = text.decode(CODECS.get((cs or "us-ascii").lower(), cs or "ascii"), "replace")
        out.append(text)
    return "".join(out)


def _charset(part):
    cs = (part.get_content_charset() or "us-ascii").lower()
    return cs


def _leaf_text(part):
    payload = part.get_payload(decode=True) or b""
    cs = _charset(part)
    if cs == "us-ascii" and b"\x1b" in payload:
        cs = "iso-2022-jp"
    text = payload.decode(CODECS.get(cs, "utf-8"), "replace")
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    return text


def _raw_fields(raw):
    """(name, value bytes) of the header block at the start of raw."""
    end = re.search(rb"\r?\n\r?\n", raw)
    block = raw[:end.start() + 2] if end else raw
    fields = []
    for line in re.split(rb"\r?\n", block):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1][1] += b"\r\n" + line
        elif b":" in line:
            name, _, value = line.partition(b":")
            if name and not re.search(rb"[\x00-\x20\x7f]", name.rstrip(b" \t")):
                fields.append([name.rstrip(b" \t").decode("latin-1"), value])
    return fields


def _header_lines(raw, fallback=None):
    return [(k.lower(), fold_value(decode_header_value(v, fallback))) for k, v in _raw_fields(raw)]


def _fallback(part):
    """The charset of the first text leaf, when not ASCII (search-text.h)."""
    if part.is_multipart():
        for sub in part.get_payload():
            cs = _fallback(sub)
            if cs is not None:
                return cs
        return None
    if part.get_content_maintype() != "text":
        return None
    cs = _charset(part)
    return None if cs == "us-ascii" else cs


def _entity(part, values):
    if part.is_multipart() and part.get_content_maintype() == "multipart":
        for sub in part.get_payload():
            _entity(sub, values)
        return
    name = part.get_filename()
    if name:
        values.append(fold_value(name))
    if part.get_content_type() in ("message/rfc822", "message/global"):
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) else inner
        for k, v in _header_lines(inner.as_bytes(), None):
            values.append("%s: %s" % (k, v) if v else "%s:" % k)
        _entity(inner, values)
        return
    if part.get_content_maintype() == "text":
        values.append(fold_value(_leaf_text(part)))


class Ref:
    """One message as the index sees it, plus what the other keys read."""

    def __init__(self, uid, raw, flags=(), keywords=(), internal=0, internal_tz=0):
        self.uid = uid
        self.raw = raw
        self.size = len(raw)
        self.flags = set(flags)
        self.keywords = {k.lower() for k in keywords}
        self.internal, self.internal_tz = internal, internal_tz
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        self.headers = _header_lines(raw, _fallback(msg))
        self.hdr = "".join("\n%s: %s" % (k, v) if v else "\n%s:" % k for k, v in self.headers)
        body = []
        _entity(msg, body)
        self.body = "\n".join(body)
        date = msg.get("Date")
        self.sent, self.sent_tz = internal, internal_tz
        if date is not None:
            t = email.utils.parsedate_tz(re.sub(r"\r?\n", "", date))
            if t is not None:
                self.sent = email.utils.mktime_tz(t)
                self.sent_tz = (t[9] or 0) // 60

    def field(self, name):
        return [v for k, v in self.headers if k == name]

    def has_field(self, name):
        return any(k == name for k, _ in self.headers)

    def text_match(self, key, needle, field=None):
        n = fold(needle)
        if key == "HEADER":
            name = field.lower()
            if name in ("subject", "from", "to", "cc", "bcc"):
                key = name.upper()
            else:
                if n == "":
                    return self.has_field(name)
                return any(n in v for v in self.field(name))
        if key in ("SUBJECT", "FROM", "TO", "CC", "BCC"):
            if n == "":
                return self.has_field(key.lower())
            return any(n in v for v in self.field(key.lower()))
        if key == "BODY":
            return n in self.body
        if key == "TEXT":
            return n in self.hdr or n in self.body
        raise ValueError(key)


def day(t, tz_minutes):
    return (t + tz_minutes * 60) // 86400


# ---------------------------------------------------------------- SORT (RFC 5256, RFC 5957)

def casemap(s):
    """i;unicode-casemap (RFC 5051): simple titlecase of each character, then NFKD."""
    out = []
    for ch in s:
        t = ch.title()
        out.append(t if len(t) == 1 else ch)
    return unicodedata.normalize("NFKD", "".join(out)).encode("utf-8")


def _blob(s, i):
    if i < len(s) and s[i] == "[":
        j = s.find("]", i + 1)
        if j >= 0 and "[" not in s[i + 1:j]:
            j += 1
            while j < len(s) and s[j] in " \t":
                j += 1
            return j
    return 0


def _refwd(s, i):
    while True:
        b = _blob(s, i)
        if not b:
            break
        i = b
    low = s[i:i + 3].lower()
    if low == "fwd":
        j = i + 3
    elif low[:2] in ("fw", "re"):
        j = i + 2
    else:
        return 0
    while j < len(s) and s[j] in " \t":
        j += 1
    b = _blob(s, j)
    if b:
        j = b
    return j + 1 if j < len(s) and s[j] == ":" else 0


def base_subject(s):
    """RFC 5256 2.1 steps 2-6 on a decoded subject with normalised white space."""
    while True:
        while True:
            if s and s[-1] in " \t":
                s = s[:-1]
            elif s[-5:].lower() == "(fwd)":
                s = s[:-5]
            else:
                break
        changed = True
        while changed:
            changed = False
            while True:
                e = 0
                if s and s[0] in " \t":
                    s = s[1:]
                elif (e := _refwd(s, 0)):
                    s = s[e:]
                else:
                    break
                changed = True
            b = _blob(s, 0)
            if b and s[b:].strip(" \t"):
                s = s[b:]
                changed = True
        if len(s) >= 6 and s[:5].lower() == "[fwd:" and s.endswith("]"):
            s = s[5:-1]
            continue
        return s


def _first_address(raw_value):
    name, addr = email.utils.getaddresses([raw_value])[0] if raw_value else ("", "")
    local = addr.split("@")[0] if addr else ""
    return name, addr, local


def sort_keys(ref):
    """The keys of a Ref, as kura stores them."""
    msg = email.message_from_bytes(ref.raw, policy=email.policy.compat32)
    subj = msg.get("Subject")
    k = {}
    if subj is None:
        k["SUBJECT"] = b""
    else:
        d = decode_header_value(subj)
        d = re.sub(r"[\t\r\n]", " ", d)
        d = re.sub(r" {2,}", " ", d)
        k["SUBJECT"] = casemap(base_subject(d))
    for field in ("From", "To", "Cc"):
        v = msg.get(field)
        v = re.sub(r"\r?\n", "", v) if v is not None else None
        name, addr, local = _first_address(v) if v is not None else ("", "", "")
        k[field.upper()] = casemap(local)
        if field != "Cc":
            disp = decode_header_value(name) if name else ""
            if not disp:
                disp = addr
            k["DISPLAY" + field.upper()] = casemap(disp)
    k["DATE"] = ref.sent
    k["ARRIVAL"] = ref.internal
    k["SIZE"] = ref.size
    return k


def sort_order(refs, criteria):
    """refs sorted by [(key, reverse)], ties by UID."""
    import functools
    keys = {m.uid: sort_keys(m) for m in refs}

    def cmp(a, b):
        for key, rev in criteria:
            x, y = keys[a.uid][key], keys[b.uid][key]
            c = (x > y) - (x < y)
            if c:
                return -c if rev else c
        return (a.uid > b.uid) - (a.uid < b.uid)
    return [m.uid for m in sorted(refs, key=functools.cmp_to_key(cmp))]


# ---------------------------------------------------------------- THREAD (RFC 5256 3)

def _ids(value, first_only=False):
    ids = re.findall(r"<[^>]*>", re.sub(r"\r?\n", "", value or ""))
    return ids[:1] if first_only else ids


def _norm_id(i):
    return re.sub(r"\\(.)", r"\1", i).replace('"', "").replace(" ", "").replace("\t", "")


def thread_keys(ref):
    msg = email.message_from_bytes(ref.raw, policy=email.policy.compat32)
    k = sort_keys(ref)
    mid = _ids(msg.get("Message-ID"), True)
    refs = _ids(msg.get("References"))
    if not refs:
        refs = _ids(msg.get("In-Reply-To"), True)
    subj = msg.get("Subject")
    reply = False
    if subj is not None:
        d = re.sub(r" {2,}", " ", re.sub(r"[\t\r\n]", " ", decode_header_value(subj)))
        reply = _base_subject_reply(d)
    return {"uid": ref.uid, "date": ref.sent, "subject": k["SUBJECT"], "reply": reply,
            "id": _norm_id(mid[0]) if mid else "", "refs": [_norm_id(r) for r in refs]}


def _base_subject_reply(s):
    """Whether base subject extraction removes a refwd leader, a (fwd) or a [fwd: ...]."""
    while True:
        while True:
            if s and s[-1] in " \t":
                s = s[:-1]
            elif s[-5:].lower() == "(fwd)":
                return True
            else:
                break
        changed = True
        while changed:
            changed = False
            while True:
                if s and s[0] in " \t":
                    s = s[1:]
                elif _refwd(s, 0):
                    return True
                else:
                    break
                changed = True
            b = _blob(s, 0)
            if b and s[b:].strip(" \t"):
                s = s[b:]
                changed = True
        if len(s) >= 6 and s[:5].lower() == "[fwd:" and s.endswith("]"):
            return True
        return False


class _Node:
    def __init__(self, m=None):
        self.m = m
        self.parent = None
        self.children = []


def _link(p, c):
    if c.parent is not None:
        c.parent.children.remove(c)
    c.parent = p
    p.children.append(c)


def _unlink(c):
    if c.parent is not None:
        c.parent.children.remove(c)
        c.parent = None


def _ancestor(a, b):
    while b is not None:
        if a is b:
            return True
        b = b.parent
    return False


def _key(n):
    while n.m is None and n.children:
        n = n.children[0]
    return (n.m["date"], n.m["order"]) if n.m is not None else (0, 0)


def _sort_rec(n):
    for c in n.children:
        _sort_rec(c)
    n.children.sort(key=_key)


def _render(n, num):
    out = ""
    while True:
        if n.m is not None:
            out += str(num[n.m["uid"]])
        if not n.children:
            return out
        if n.m is not None:
            out += " "
        if n.m is not None and len(n.children) == 1:
            n = n.children[0]
            continue
        return out + "".join("(" + _render(c, num) + ")" for c in n.children)


def thread(refs, alg, numbers):
    """The THREAD response data (" (1 2)(3)") for the Refs found, numbers: uid -> number."""
    ms = [dict(thread_keys(r), order=i) for i, r in enumerate(sorted(refs, key=lambda r: r.uid))]
    root = _Node()
    if alg == "ORDEREDSUBJECT":
        head = None
        for m in sorted(ms, key=lambda m: (m["subject"], m["date"], m["order"])):
            n = _Node(m)
            if head is not None and head.m["subject"] == m["subject"]:
                _link(head, n)
            else:
                _link(root, n)
                head = n
        root.children.sort(key=_key)
    else:
        table, nodes = {}, []
        for m in ms:
            c = None
            if m["id"]:
                if m["id"] not in table:
                    c = table[m["id"]] = _Node(m)
                    nodes.append(c)
                elif table[m["id"]].m is None:
                    c = table[m["id"]]
                    c.m = m
            if c is None:
                c = _Node(m)
                nodes.append(c)
            prev = None
            for r in m["refs"]:
                if not r:
                    continue
                rc = table.get(r)
                if rc is None:
                    rc = table[r] = _Node()
                    nodes.append(rc)
                if prev is not None and rc is not prev and rc.parent is None and \
                        not _ancestor(rc, prev):
                    _link(prev, rc)
                prev = rc
            _unlink(c)
            if prev is not None and not _ancestor(c, prev):
                _link(prev, c)
        for n in nodes:
            if n.parent is None:
                _link(root, n)

        def prune(p):
            kids = []
            for c in list(p.children):
                prune(c)
                if c.m is None and not c.children:
                    continue
                if c.m is None and (p is not root or len(c.children) == 1):
                    for g in c.children:
                        g.parent = p
                        kids.append(g)
                    c.children = []
                    continue
                kids.append(c)
            p.children = kids
        prune(root)
        for c in root.children:
            if c.m is None:
                c.children.sort(key=_key)
        root.children.sort(key=_key)
        subj = lambda n: (n if n.m is not None else n.children[0]).m["subject"]  # noqa: E731
        rep = lambda n: n.m is not None and n.m["reply"]  # noqa: E731
        table = {}
        top = list(root.children)
        for c in top:
            s_ = subj(c)
            if not s_:
                continue
            old = table.get(s_)
            if old is None:
                table[s_] = c
            elif old.m is not None and (c.m is None or (rep(old) and not rep(c))):
                table[s_] = c
        for c in top:
            if c.parent is not root:
                continue
            s_ = subj(c)
            if not s_:
                continue
            old = table.get(s_)
            if old is None or old is c:
                continue
            if old.m is None and c.m is None:
                for g in list(c.children):
                    _link(old, g)
                _unlink(c)
            elif old.m is None:
                _link(old, c)
            elif rep(c) and not rep(old):
                _link(old, c)
            else:
                d = _Node()
                _link(root, d)
                _link(d, old)
                _link(d, c)
                table[s_] = d
        _sort_rec(root)
    return "".join(" (" + _render(c, numbers) + ")" if i == 0 else "(" + _render(c, numbers) + ")"
                   for i, c in enumerate(root.children))
