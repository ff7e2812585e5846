#!/usr/bin/python3
"""test-japanese.py: Japanese mail as it really arrives, found by SEARCH (DESIGN.md).

The Japanese messages of tests/mime-corpus (ISO-2022-JP with CP50220 characters, Shift_JIS
bodies with half-width katakana, a raw Shift_JIS subject, RFC 2231 file names) and messages
built here: subjects and bodies in ISO-2022-JP, Shift_JIS, EUC-JP and UTF-8, quoted-printable
and base64, encoded words split in the middle of a character (UTF-8 bytes and Shift_JIS pairs
cut between two words, an ISO-2022-JP word per character). Each query is a 1-, 2- or
3+-character string (会, 会議, 議事録 ...) sent with CHARSET UTF-8, ISO-2022-JP, Shift_JIS and
EUC-JP; the expected messages are written out by hand, and the searchref.py scan must agree.
Also: ① is not 1, ㈱ is not (株), ＩＭＡＰ is IMAP, ﾐｰﾃｨﾝｸﾞ is ミーティング, and a string
that is absent is found nowhere.

Usage: test-japanese.py [--kura BINARY]
"""
import base64
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
import kura  # noqa: E402
import searchref  # noqa: E402

USER, PASS = "nihongo", "Nihongo-Pass-7"
CORPUS = os.path.join(HERE, "..", "mime-corpus")


def b64w(cs, data):
    return "=?%s?B?%s?=" % (cs, base64.b64encode(data).decode())


def qpw(cs, data):
    return "=?%s?Q?%s?=" % (cs, "".join("=%02X" % b for b in data))


def built_messages():
    """name -> raw bytes"""
    m = {}
    # ISO-2022-JP subject, one encoded word per character; base64 ISO-2022-JP body
    subj = " ".join(b64w("ISO-2022-JP", ch.encode("iso2022_jp")) for ch in "議事録の共有")
    body = "本日の議事録を共有します。\r\nミーティングは明日です。\r\n".encode("iso2022_jp")
    m["jis-split"] = ("From: =?ISO-2022-JP?B?%s?= <sato@example.jp>\r\nSubject: %s\r\n"
                      "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n"
                      "Content-Transfer-Encoding: base64\r\n\r\n"
                      % (base64.b64encode("佐藤".encode("iso2022_jp")).decode(), subj)).encode() \
        + base64.encodebytes(body).replace(b"\n", b"\r\n")
    # UTF-8 subject cut inside a character between two words; QP UTF-8 body
    data = "会議室の予約について".encode()
    subj = b64w("UTF-8", data[:4]) + " " + qpw("UTF-8", data[4:])  # 会 is 3 bytes: cut at 4
    body = "ＩＭＡＰサーバの件で、打ち合わせをお願いします。\r\n"
    m["utf8-split"] = ("From: tanaka@example.jp\r\nSubject: %s\r\nMIME-Version: 1.0\r\n"
                       "Content-Type: text/plain; charset=UTF-8\r\n"
                       "Content-Transfer-Encoding: quoted-printable\r\n\r\n" % subj).encode() \
        + "".join("=%02X" % b if b > 127 else chr(b) for b in body.encode()).encode()
    # Shift_JIS subject cut between the bytes of one character; 8-bit Shift_JIS body with
    # half-width katakana and CP932 symbols
    data = "予定表（株式会社）".encode("cp932")
    subj = b64w("Shift_JIS", data[:3]) + " " + b64w("Shift_JIS", data[3:])
    body = "ﾐｰﾃｨﾝｸﾞの予定表です。①と②を確認。\r\n".encode("cp932")
    m["sjis-split"] = ("From: suzuki@example.jp\r\nSubject: %s\r\nMIME-Version: 1.0\r\n"
                       "Content-Type: text/plain; charset=Shift_JIS\r\n"
                       "Content-Transfer-Encoding: 8bit\r\n\r\n" % subj).encode() + body
    # EUC-JP subject and body
    subj = b64w("EUC-JP", "営業会議の議事録".encode("euc_jp"))
    body = "営業部の会議です。東京と大阪。\r\n".encode("euc_jp")
    m["eucjp"] = ("From: eigyo@example.jp\r\nSubject: %s\r\nMIME-Version: 1.0\r\n"
                  "Content-Type: text/plain; charset=EUC-JP\r\n"
                  "Content-Transfer-Encoding: 8bit\r\n\r\n" % subj).encode() + body
    # HTML in Shift_JIS with a full-width IMAP and an entity
    html = "<html><body><p>ＩＭＡＰ&amp;会</p><p>議</p></body></html>\r\n".encode("cp932")
    m["sjis-html"] = (b"From: web@example.jp\r\nSubject: html\r\nMIME-Version: 1.0\r\n"
                      b"Content-Type: text/html; charset=Shift_JIS\r\n\r\n") + html
    # nothing Japanese at all
    m["ascii"] = (b"From: plain@example.com\r\nSubject: (kabu) 1 2 3 meeting\r\n\r\n"
                  b"Plain text about IMAP.\r\n")
    return m


CORPUS_FILES = ["iso2022jp-body", "iso2022jp-cp50220", "shiftjis-body", "raw-sjis-header",
                "japanese-attachment-2231", "mixed-2047-subject"]

# (key, string, the messages it must find)
QUERIES = [
    ("SUBJECT", "会", {"iso2022jp-body", "utf8-split", "sjis-split", "eucjp", "raw-sjis-header"}),
    ("SUBJECT", "会議", {"iso2022jp-body", "utf8-split", "eucjp", "raw-sjis-header"}),
    ("SUBJECT", "議事録", {"jis-split", "eucjp"}),
    ("SUBJECT", "議事録の共有", {"jis-split"}),
    ("SUBJECT", "会議室の予約", {"utf8-split"}),
    ("SUBJECT", "予定表", {"shiftjis-body", "sjis-split"}),
    ("SUBJECT", "（株式", {"sjis-split"}),
    ("SUBJECT", "①", {"iso2022jp-cp50220", "shiftjis-body"}),
    ("SUBJECT", "㈱", {"iso2022jp-cp50220"}),
    ("SUBJECT", "(株)", set()),
    ("SUBJECT", "1", {"ascii"}),
    ("SUBJECT", "報告書", {"japanese-attachment-2231"}),
    ("SUBJECT", "日本", {"mixed-2047-subject"}),
    ("SUBJECT", "存在しない", set()),
    ("FROM", "佐藤", {"jis-split"}),
    ("FROM", "佐", {"jis-split"}),
    ("BODY", "会", {"iso2022jp-body", "shiftjis-body", "eucjp", "sjis-html"}),
    ("BODY", "会議", {"iso2022jp-body", "shiftjis-body", "eucjp"}),
    ("BODY", "議事録", {"jis-split"}),
    ("BODY", "ミーティング", {"jis-split", "sjis-split"}),
    ("BODY", "ﾐｰﾃｨﾝｸﾞ", {"jis-split", "sjis-split"}),
    ("BODY", "ﾐｰ", {"jis-split", "sjis-split"}),
    ("BODY", "カタカナ", {"shiftjis-body"}),
    ("BODY", "アイウ", {"iso2022jp-cp50220"}),
    ("BODY", "imap", {"utf8-split", "sjis-html", "ascii"}),
    ("BODY", "ＩＭＡＰ", {"utf8-split", "sjis-html", "ascii"}),
    ("BODY", "ｉｍａｐ＆会", {"sjis-html"}),
    ("BODY", "髙", {"iso2022jp-cp50220"}),
    ("BODY", "高橋", {"iso2022jp-cp50220"}),
    ("BODY", "①", {"iso2022jp-cp50220", "shiftjis-body", "sjis-split"}),
    ("BODY", "1", set()),
    ("BODY", "会議室ａ", {"shiftjis-body"}),
    ("BODY", "本文", {"raw-sjis-header"}),
    ("BODY", "報告書.docx", {"japanese-attachment-2231"}),
    ("BODY", "東京と大阪", {"eucjp"}),
    ("BODY", "大阪と東京", set()),
    ("TEXT", "議事録", {"jis-split", "eucjp"}),
    ("TEXT", "予約", {"utf8-split"}),
    ("TEXT", "株", {"sjis-split"}),
]

CHARSETS = [("UTF-8", "utf-8"), ("ISO-2022-JP", "iso2022_jp_ext"), ("Shift_JIS", "cp932"),
            ("EUC-JP", "euc_jp")]


def literal(data):
    return b"{%d+}\r\n" % len(data) + data


def run(srv, res):
    c = srv.login("tls", USER, PASS)
    msgs = {}
    for name in CORPUS_FILES:
        with open(os.path.join(CORPUS, name + ".eml"), "rb") as f:
            msgs[name] = f.read()
    msgs.update(built_messages())
    uid_of, refs = {}, []
    for name, raw in msgs.items():
        c.send(b"ap APPEND INBOX " + literal(raw) + b"\r\n")
        lines = c.read_until_tagged("ap")
        if not lines[-1].startswith(b"ap OK"):
            raise kura.TestError("APPEND %s: %r" % (name, lines[-1]))
        uid = int(lines[-1].split(b"APPENDUID ")[1].split(b"]")[0].split()[1])
        uid_of[name] = uid
        refs.append(searchref.Ref(uid, raw))
    name_of = {u: n for n, u in uid_of.items()}
    c.command("SELECT INBOX", tag="s", expect="OK")
    n = 0
    for key, s, want in QUERIES:
        for label, codec in CHARSETS:
            try:
                data = s.encode(codec)
            except UnicodeEncodeError:
                continue
            n += 1
            tag = "q%d" % n
            c.send(("%s UID SEARCH CHARSET %s %s " % (tag, label, key)).encode() + literal(data)
                   + b"\r\n")
            lines = c.read_until_tagged(tag)
            got = set()
            for line in lines:
                if line.startswith(b"* SEARCH"):
                    got = {name_of[int(x)] for x in line[8:].split()}
            ref = {name_of[m.uid] for m in refs if m.text_match(key, s)}
            what = "%s %s in %s" % (key, s, label)
            res.check(what, lines[-1].startswith(tag.encode() + b" OK") and got == want
                      and ref == want,
                      "got %s\nwant %s\nsearchref.py says %s" % (sorted(got), sorted(want),
                                                                  sorted(ref)))
    c.close()


def main():
    binary, _ = kura.binary_from_argv(sys.argv[1:])
    res = kura.Results()
    if not os.access(binary, os.X_OK):
        res.fail("kura binary %s is missing" % binary)
        return res.summary()
    if kura.is_san_binary(binary):
        kura.SLOW = max(kura.SLOW, 3.0)
    srv = kura.Server(binary, users={USER: PASS}, name="japanese")
    try:
        srv.start()
        run(srv, res)
        status = srv.stop()
    except (kura.TestError, OSError) as e:
        res.fail("japanese search server", "%s\n%s" % (e, srv.log_tail()))
        srv.kill_tree()
        status = None
    srv.finish(res, status)
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
