# corpus-messages.py: the messages of the golden corpus and their hand-written expectations.
# Read by make-corpus.py (see there for the notation). Each expectation was written from the
# RFCs: ENVELOPE fields are the raw unfolded header text (RFC 9051 7.5.2), BODYSTRUCTURE follows
# RFC 9051 section 9, sizes and line counts are measured over the hand-marked bodies.


def utc(y, mo, d, h, mi, s):
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))


def undisplay(t):
    """The bytes a display string (the .expected notation) stands for."""
    out = bytearray()
    for m in re.finditer(r"\{(CR|LF|TAB|NUL|x[0-9A-F]{2})\}|[^{]+|\{", t):
        tok = m.group(0)
        code = m.group(1)
        if code is None:
            out += tok.encode("utf-8")
        elif code.startswith("x"):
            out.append(int(code[1:], 16))
        else:
            out.append({"CR": 13, "LF": 10, "TAB": 9, "NUL": 0}[code])
    return bytes(out)


def dlen(t):
    return len(undisplay(t))


def lit(text):
    """An IMAP literal of UTF-8 text in the .expected notation."""
    return "{%d}{CR}{LF}%s" % (len(text.encode("utf-8")), text)


def addr3(a):
    """from, sender and reply-to when the latter two default to From."""
    return a + " " + a + " " + a


# 1. The plainest mail: no MIME headers at all (RFC 2045 5.2 default).
msg("plain-no-mime", ["""Return-Path: <alice@example.com>
Received: from mx.example.com by mail.example.org; Mon, 7 Oct 2024 09:15:02 +0000
From: Alice Example <alice@example.com>
To: Bob Example <bob@example.org>
Subject: Lunch tomorrow?
Date: Mon, 7 Oct 2024 11:15:00 +0200
Message-ID: <20241007091500.A1234@example.com>

\u27e6b\u27e7Hi Bob,

are you free for lunch tomorrow at noon?

Alice
\u27e6/b\u27e7"""], f"""
ENVELOPE ("Mon, 7 Oct 2024 11:15:00 +0200" "Lunch tomorrow?" {addr3('(("Alice Example" NIL "alice" "example.com"))')} (("Bob Example" NIL "bob" "example.org")) NIL NIL NIL "<20241007091500.A1234@example.com>")
BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:b@ @L:b@ NIL NIL NIL NIL)
BODY ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:b@ @L:b@)
SECTION 1 @B:b@
SECTION TEXT @B:b@
DATE {utc(2024, 10, 7, 9, 15, 0)} 120
SUBJECT Lunch tomorrow?
""")

QP2 = ("Grüße aus München!{CR}{LF}Dies ist eine sehr lange Zeile, die mit einem weichen "
       "Zeilenumbruch umbrochen wird.{CR}{LF}")

# 2. UTF-8 quoted-printable with RFC 2047 Q words in From and Subject.
msg("plain-utf8-qp", ["""From: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.de>
To: team@example.de
Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_M=C3=BCnchen?=
Date: Tue, 8 Oct 2024 08:00:00 +0200
Message-ID: <qp-1@example.de>
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

\u27e6b\u27e7Gr=C3=BC=C3=9Fe aus M=C3=BCnchen!
Dies ist eine sehr lange Zeile, die mit einem weichen Zeilenumbruch umbrochen =
wird.   
\u27e6/b\u27e7"""], f"""
ENVELOPE ("Tue, 8 Oct 2024 08:00:00 +0200" "=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_M=C3=BCnchen?=" {addr3('(("=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=" NIL "joerg" "example.de"))')} ((NIL NIL "team" "example.de")) NIL NIL NIL "<qp-1@example.de>")
BODYSTRUCTURE ("text" "plain" ("charset" "UTF-8") NIL NIL "quoted-printable" @S:b@ @L:b@ NIL NIL NIL NIL)
BINARY 1 {QP2}
BINARY.SIZE 1 {dlen(QP2)}
SUBJECT Grüße aus München
TEXT 1 {QP2}
""")

# 3. multipart/alternative with a preamble, the classic Java-mailer boundary.
msg("alternative", ["""From: "Shop, Newsletter" <news@shop.example>
To: customer@example.net
Subject: Autumn sale
Date: Wed, 9 Oct 2024 10:00:00 -0400
Message-ID: <alt-3@shop.example>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="----=_Part_0_123456.789"

\u27e6r\u27e7This is a multi-part message in MIME format.

------=_Part_0_123456.789
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 7bit

\u27e61\u27e7Autumn sale: 20% off everything.
Visit https://shop.example/sale\u27e6/1\u27e7
------=_Part_0_123456.789
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: 7bit

\u27e62\u27e7<html><body><p>Autumn sale: <b>20% off</b> everything.</p></body></html>\u27e6/2\u27e7
------=_Part_0_123456.789--
\u27e6/r\u27e7"""], f"""
ENVELOPE ("Wed, 9 Oct 2024 10:00:00 -0400" "Autumn sale" {addr3('(("Shop, Newsletter" NIL "news" "shop.example"))')} ((NIL NIL "customer" "example.net")) NIL NIL NIL "<alt-3@shop.example>")
BODYSTRUCTURE (("text" "plain" ("charset" "utf-8") NIL NIL "7bit" @S:1@ @L:1@ NIL NIL NIL NIL)("text" "html" ("charset" "utf-8") NIL NIL "7bit" @S:2@ @L:2@ NIL NIL NIL NIL) "alternative" ("boundary" "----=_Part_0_123456.789") NIL NIL NIL)
BODY (("text" "plain" ("charset" "utf-8") NIL NIL "7bit" @S:1@ @L:1@)("text" "html" ("charset" "utf-8") NIL NIL "7bit" @S:2@ @L:2@) "alternative")
SECTION 1 @B:1@
SECTION 2 @B:2@
SECTION TEXT @B:r@
SECTION 1.MIME Content-Type: text/plain; charset=utf-8{{CR}}{{LF}}Content-Transfer-Encoding: 7bit{{CR}}{{LF}}{{CR}}{{LF}}
DATE {utc(2024, 10, 9, 14, 0, 0)} -240
""")

# 4. multipart/mixed: text and a base64 PDF attachment.
msg("mixed-attachment", ["""From: Carol <carol@example.com>
To: dave@example.com
Cc: Erin <erin@example.com>
Subject: Q3 report
Date: Thu, 10 Oct 2024 14:30:00 +0000
Message-ID: <mixed-4@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="=-=-="

\u27e6r\u27e7--=-=-=
Content-Type: text/plain; charset=us-ascii

\u27e61\u27e7Please find the report attached.
\u27e6/1\u27e7
--=-=-=
Content-Type: application/pdf; name="report-q3.pdf"
Content-Disposition: attachment; filename="report-q3.pdf"
Content-Transfer-Encoding: base64

\u27e62\u27e7JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0ZpbHRlci9GbGF0ZURl
Y29kZT4+CnN0cmVhbQp4nDPQM1Qo5ypUMFAw0DMwslAwtTTVszQyUShKTVEIyQfKAQBZZgZR
\u27e6/2\u27e7
--=-=-=--
\u27e6/r\u27e7"""], f"""
ENVELOPE ("Thu, 10 Oct 2024 14:30:00 +0000" "Q3 report" {addr3('(("Carol" NIL "carol" "example.com"))')} ((NIL NIL "dave" "example.com")) (("Erin" NIL "erin" "example.com")) NIL NIL "<mixed-4@example.com>")
BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:1@ @L:1@ NIL NIL NIL NIL)("application" "pdf" ("name" "report-q3.pdf") NIL NIL "base64" @S:2@ NIL ("attachment" ("filename" "report-q3.pdf")) NIL NIL) "mixed" ("boundary" "=-=-=") NIL NIL NIL)
BODY (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:1@ @L:1@)("application" "pdf" ("name" "report-q3.pdf") NIL NIL "base64" @S:2@) "mixed")
SECTION 1 @B:1@
SECTION 2 @B:2@
BINARY.SIZE 2 @D64:2@
FILENAME 2 report-q3.pdf
""")

# 5. Several attachments: an inline image with Content-ID and a zip, 7bit default encoding.
msg("mixed-multi-attach", ["""From: frank@example.com
To: grace@example.com, heidi@example.com
Subject: Photos and archive
Date: Fri, 11 Oct 2024 18:45:10 +0100
Message-ID: <multi-5@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed;
 boundary="b5"

\u27e6r\u27e7--b5

\u27e61\u27e7Two files attached.\u27e6/1\u27e7
--b5
Content-Type: image/png
Content-ID: <img1@example.com>
Content-Disposition: inline; filename=dot.png
Content-Transfer-Encoding: base64

\u27e62\u27e7iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==\u27e6/2\u27e7
--b5
Content-Type: application/zip; name=archive.zip
Content-Disposition: attachment; filename=archive.zip; size=22
Content-Transfer-Encoding: base64

\u27e63\u27e7UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA==
\u27e6/3\u27e7
--b5--
\u27e6/r\u27e7"""], f"""
ENVELOPE ("Fri, 11 Oct 2024 18:45:10 +0100" "Photos and archive" {addr3('((NIL NIL "frank" "example.com"))')} ((NIL NIL "grace" "example.com")(NIL NIL "heidi" "example.com")) NIL NIL NIL "<multi-5@example.com>")
BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:1@ @L:1@ NIL NIL NIL NIL)("image" "png" NIL "<img1@example.com>" NIL "base64" @S:2@ NIL ("inline" ("filename" "dot.png")) NIL NIL)("application" "zip" ("name" "archive.zip") NIL NIL "base64" @S:3@ NIL ("attachment" ("filename" "archive.zip" "size" "22")) NIL NIL) "mixed" ("boundary" "b5") NIL NIL NIL)
SECTION 3 @B:3@
BINARY.SIZE 2 @D64:2@
BINARY.SIZE 3 22
FILENAME 3 archive.zip
FILENAME 2 dot.png
""")


def ew(charset, text, codec, enc="B"):
    """An RFC 2047 encoded word made with Python's codecs."""
    raw = text.encode(codec)
    if enc == "B":
        return "=?%s?B?%s?=" % (charset, base64.b64encode(raw).decode())
    q = "".join(chr(c) if (0x21 <= c < 0x7F and chr(c) not in "=?_") else
                ("_" if c == 0x20 else "=%02X" % c) for c in raw)
    return "=?%s?Q?%s?=" % (charset, q)


O, C = "\u27e6", "\u27e7"


def m(rid):
    return O + rid + C


def e(rid):
    return O + "/" + rid + C


# 6. The Apple Mail / Outlook shape: mixed > alternative > (plain, related > (html, image)) + pdf.
msg("related-html", [f"""From: Nick <nick@example.com>
To: Olivia <olivia@example.com>
Subject: Chart
Date: Sat, 12 Oct 2024 08:00:00 +0000
Message-ID: <related-6@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mix"

{m('r')}--mix
Content-Type: multipart/alternative; boundary="alt"

{m('1')}--alt
Content-Type: text/plain; charset=utf-8

{m('11')}See the chart below.{e('11')}
--alt
Content-Type: multipart/related; boundary="rel"; type="text/html"

{m('12')}--rel
Content-Type: text/html; charset=utf-8

{m('121')}<p>See the chart below.</p><img src="cid:chart@x">{e('121')}
--rel
Content-Type: image/gif; name="chart.gif"
Content-Transfer-Encoding: base64
Content-ID: <chart@x>
Content-Disposition: inline; filename="chart.gif"

{m('122')}R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7{e('122')}
--rel--
{e('12')}
--alt--
{e('1')}
--mix
Content-Type: application/pdf; name="a.pdf"
Content-Disposition: attachment; filename="a.pdf"
Content-Transfer-Encoding: base64

{m('2')}JVBERi0xLjQK{e('2')}
--mix--
{e('r')}"""], f"""
ENVELOPE ("Sat, 12 Oct 2024 08:00:00 +0000" "Chart" {addr3('(("Nick" NIL "nick" "example.com"))')} (("Olivia" NIL "olivia" "example.com")) NIL NIL NIL "<related-6@example.com>")
BODYSTRUCTURE ((("text" "plain" ("charset" "utf-8") NIL NIL "7bit" @S:11@ @L:11@ NIL NIL NIL NIL)(("text" "html" ("charset" "utf-8") NIL NIL "7bit" @S:121@ @L:121@ NIL NIL NIL NIL)("image" "gif" ("name" "chart.gif") "<chart@x>" NIL "base64" @S:122@ NIL ("inline" ("filename" "chart.gif")) NIL NIL) "related" ("boundary" "rel" "type" "text/html") NIL NIL NIL) "alternative" ("boundary" "alt") NIL NIL NIL)("application" "pdf" ("name" "a.pdf") NIL NIL "base64" @S:2@ NIL ("attachment" ("filename" "a.pdf")) NIL NIL) "mixed" ("boundary" "mix") NIL NIL NIL)
BODY ((("text" "plain" ("charset" "utf-8") NIL NIL "7bit" @S:11@ @L:11@)(("text" "html" ("charset" "utf-8") NIL NIL "7bit" @S:121@ @L:121@)("image" "gif" ("name" "chart.gif") "<chart@x>" NIL "base64" @S:122@) "related") "alternative")("application" "pdf" ("name" "a.pdf") NIL NIL "base64" @S:2@) "mixed")
SECTION 1 @B:1@
SECTION 1.1 @B:11@
SECTION 1.2 @B:12@
SECTION 1.2.1 @B:121@
SECTION 1.2.2 @B:122@
SECTION 1.2.MIME Content-Type: multipart/related; boundary="rel"; type="text/html"{{CR}}{{LF}}{{CR}}{{LF}}
SECTION 2 @B:2@
SECTION TEXT @B:r@
BINARY.SIZE 1.2.2 @D64:122@
FILENAME 1.2.2 chart.gif
""")

# 7. A forwarded multipart message inside a multipart message (nested message/rfc822).
msg("nested-rfc822", [f"""From: Ivan <ivan@example.com>
To: Judy <judy@example.com>
Subject: Fwd: Meeting notes
Date: Sat, 12 Oct 2024 09:00:00 +0300
Message-ID: <fwd-7@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer7"

{m('r')}--outer7
Content-Type: text/plain; charset=us-ascii

{m('1')}Forwarding the notes, see attached.
{e('1')}
--outer7
Content-Type: message/rfc822
Content-Disposition: inline

{m('2')}{m('2h')}From: Mallory <mallory@example.net>
To: ivan@example.com, "Team List" <team@example.net>
Subject: Meeting notes
Date: Fri, 11 Oct 2024 16:20:00 -0700
Message-ID: <notes-1@example.net>
In-Reply-To: <agenda-9@example.net>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="inner7"

{e('2h')}{m('2b')}--inner7
Content-Type: text/plain; charset=utf-8

{m('21')}1. Budget
2. Hiring{e('21')}
--inner7
Content-Type: text/html; charset=utf-8

{m('22')}<ol><li>Budget</li><li>Hiring</li></ol>{e('22')}
--inner7--{e('2b')}{e('2')}
--outer7--
{e('r')}"""], f"""
ENVELOPE ("Sat, 12 Oct 2024 09:00:00 +0300" "Fwd: Meeting notes" {addr3('(("Ivan" NIL "ivan" "example.com"))')} (("Judy" NIL "judy" "example.com")) NIL NIL NIL "<fwd-7@example.com>")
BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:1@ @L:1@ NIL NIL NIL NIL)("message" "rfc822" NIL NIL NIL "7bit" @S:2@ ("Fri, 11 Oct 2024 16:20:00 -0700" "Meeting notes" {addr3('(("Mallory" NIL "mallory" "example.net"))')} ((NIL NIL "ivan" "example.com")("Team List" NIL "team" "example.net")) NIL NIL "<agenda-9@example.net>" "<notes-1@example.net>") (("text" "plain" ("charset" "utf-8") NIL NIL "7bit" @S:21@ @L:21@ NIL NIL NIL NIL)("text" "html" ("charset" "utf-8") NIL NIL "7bit" @S:22@ @L:22@ NIL NIL NIL NIL) "alternative" ("boundary" "inner7") NIL NIL NIL) @L:2@ NIL ("inline" NIL) NIL NIL) "mixed" ("boundary" "outer7") NIL NIL NIL)
SECTION 2 @B:2@
SECTION 2.HEADER @B:2h@
SECTION 2.TEXT @B:2b@
SECTION 2.1 @B:21@
SECTION 2.2 @B:22@
SECTION 2.MIME Content-Type: message/rfc822{{CR}}{{LF}}Content-Disposition: inline{{CR}}{{LF}}{{CR}}{{LF}}
""")

# 8. A forwarded plain message; the embedded message has no MIME headers and no Message-ID.
msg("rfc822-simple", [f"""From: kim@example.org
To: lee@example.org
Subject: Fwd: hello
Date: Sun, 13 Oct 2024 12:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=XyZ

{m('r')}--XyZ

{m('1')}See below.{e('1')}
--XyZ
Content-Type: message/rfc822; name="hello.eml"
Content-Disposition: attachment; filename="hello.eml"

{m('2')}Date: Sat, 12 Oct 2024 11:00:00 +0000
From: Someone <someone@example.com>
Subject: hello
To: kim@example.org

{m('2b')}hello there
{e('2b')}{e('2')}
--XyZ--
{e('r')}"""], f"""
ENVELOPE ("Sun, 13 Oct 2024 12:00:00 +0000" "Fwd: hello" {addr3('((NIL NIL "kim" "example.org"))')} ((NIL NIL "lee" "example.org")) NIL NIL NIL NIL)
BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:1@ @L:1@ NIL NIL NIL NIL)("message" "rfc822" ("name" "hello.eml") NIL NIL "7bit" @S:2@ ("Sat, 12 Oct 2024 11:00:00 +0000" "hello" {addr3('(("Someone" NIL "someone" "example.com"))')} ((NIL NIL "kim" "example.org")) NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:2b@ @L:2b@ NIL NIL NIL NIL) @L:2@ NIL ("attachment" ("filename" "hello.eml")) NIL NIL) "mixed" ("boundary" "XyZ") NIL NIL NIL)
SECTION 2.1 @B:2b@
SECTION 2.TEXT @B:2b@
SECTION 2 @B:2@
FILENAME 2 hello.eml
""")

# 9. A message whose own body is a message/rfc822 (part 1 is that message, 1.1 its body).
msg("rfc822-toplevel", [f"""From: bounce-handler@example.com
To: admin@example.com
Subject: Wrapped message
Date: Mon, 14 Oct 2024 00:00:00 +0000
MIME-Version: 1.0
Content-Type: message/rfc822

{m('b')}{m('bh')}From: original@example.com
Subject: Original
Message-ID: <orig@example.com>

{e('bh')}{m('bb')}Original text.
{e('bb')}{e('b')}"""], f"""
ENVELOPE ("Mon, 14 Oct 2024 00:00:00 +0000" "Wrapped message" {addr3('((NIL NIL "bounce-handler" "example.com"))')} ((NIL NIL "admin" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE ("message" "rfc822" NIL NIL NIL "7bit" @S:b@ (NIL "Original" {addr3('((NIL NIL "original" "example.com"))')} NIL NIL NIL NIL "<orig@example.com>") ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:bb@ @L:bb@ NIL NIL NIL NIL) @L:b@ NIL NIL NIL NIL)
BODY ("message" "rfc822" NIL NIL NIL "7bit" @S:b@ (NIL "Original" {addr3('((NIL NIL "original" "example.com"))')} NIL NIL NIL NIL "<orig@example.com>") ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:bb@ @L:bb@) @L:b@)
SECTION 1 @B:b@
SECTION TEXT @B:b@
SECTION 1.1 @B:bb@
SECTION 1.HEADER @B:bh@
SECTION 1.TEXT @B:bb@
""")

JP10_TEXT = "お世話になっております。\n来週の会議は十月二十一日（月）です。\nよろしくお願いします。\n"
JP10_SUBJ = ew("ISO-2022-JP", "会議のお知らせ", "iso2022_jp")
JP10_FROM = ew("ISO-2022-JP", "山田 太郎", "iso2022_jp")

# 10. Japanese mail the classic way: ISO-2022-JP body, RFC 2047 B words in From and Subject.
msg("iso2022jp-body", [f"""From: {JP10_FROM} <yamada@example.jp>
To: =?ISO-2022-JP?B?GyRCOzMyPBsoQg==?= <yamashita@example.jp>
Subject: {JP10_SUBJ}
Date: Tue, 15 Oct 2024 10:30:00 +0900
Message-ID: <jp-10@example.jp>
MIME-Version: 1.0
Content-Type: text/plain; charset=ISO-2022-JP
Content-Transfer-Encoding: 7bit

{m('b')}""", JP10_TEXT.encode("iso2022_jp"), e('b')], f"""
ENVELOPE ("Tue, 15 Oct 2024 10:30:00 +0900" "{JP10_SUBJ}" {addr3('(("' + JP10_FROM + '" NIL "yamada" "example.jp"))')} (("=?ISO-2022-JP?B?GyRCOzMyPBsoQg==?=" NIL "yamashita" "example.jp")) NIL NIL NIL "<jp-10@example.jp>")
BODYSTRUCTURE ("text" "plain" ("charset" "ISO-2022-JP") NIL NIL "7bit" @S:b@ @L:b@ NIL NIL NIL NIL)
SUBJECT 会議のお知らせ
TEXT 1 {JP10_TEXT.replace(chr(10), "{CR}{LF}")}
SECTION 1 @B:b@
DATE {utc(2024, 10, 15, 1, 30, 0)} 540
""")

SJ11_TEXT = "予定表を送ります～\n①会議室Ａ\n②会議室Ｂ\nｶﾀｶﾅもＯＫ\n"
SJ11_SUBJ = ew("Shift_JIS", "予定表～①", "cp932")

# 11. Shift_JIS (really CP932) 8bit body with Windows-only characters, Shift_JIS encoded word.
msg("shiftjis-body", [f"""From: sato@example.jp
To: suzuki@example.jp
Subject: {SJ11_SUBJ}
Date: Wed, 16 Oct 2024 17:05:00 +0900
Message-ID: <sjis-11@example.jp>
MIME-Version: 1.0
Content-Type: text/plain; charset="Shift_JIS"
Content-Transfer-Encoding: 8bit

{m('b')}""", SJ11_TEXT.encode("cp932"), e('b')], f"""
ENVELOPE ("Wed, 16 Oct 2024 17:05:00 +0900" "{SJ11_SUBJ}" {addr3('((NIL NIL "sato" "example.jp"))')} ((NIL NIL "suzuki" "example.jp")) NIL NIL NIL "<sjis-11@example.jp>")
BODYSTRUCTURE ("text" "plain" ("charset" "Shift_JIS") NIL NIL "8bit" @S:b@ @L:b@ NIL NIL NIL NIL)
SUBJECT 予定表～①
TEXT 1 {SJ11_TEXT.replace(chr(10), "{CR}{LF}")}
SECTION 1 @B:b@
BINARY.SIZE 1 @S:b@
""")

# 12. ISO-2022-JP as Windows writes it (CP50220): NEC row 13 (① ㈱), an NEC-selected IBM
# extension (髙, JIS 0x7C62), the wave dash, and half-width katakana after ESC ( I.
CP50220 = (b"\x1b$B-!-j|b!A\x1b(B\n"
           b"\x1b(I123\x1b(B\n"
           b"\x1b$B9b66\x1b(B abc\n")
msg("iso2022jp-cp50220", [f"""From: tanaka@example.jp
To: kato@example.jp
Subject: =?ISO-2022-JP?B?GyRCLSEtahsoQg==?=
Date: Thu, 17 Oct 2024 09:00:00 +0900
MIME-Version: 1.0
Content-Type: text/plain; charset=iso-2022-jp

{m('b')}""", CP50220, e('b')], f"""
ENVELOPE ("Thu, 17 Oct 2024 09:00:00 +0900" "=?ISO-2022-JP?B?GyRCLSEtahsoQg==?=" {addr3('((NIL NIL "tanaka" "example.jp"))')} ((NIL NIL "kato" "example.jp")) NIL NIL NIL NIL)
BODYSTRUCTURE ("text" "plain" ("charset" "iso-2022-jp") NIL NIL "7bit" @S:b@ @L:b@ NIL NIL NIL NIL)
SUBJECT ①㈱
TEXT 1 ①㈱髙～{{CR}}{{LF}}ｱｲｳ{{CR}}{{LF}}高橋 abc{{CR}}{{LF}}
""")

# 13. Outlook's Japanese attachment: RFC 2047 in name=, RFC 2231 continuations in filename*.
msg("japanese-attachment-2231", [f"""From: =?ISO-2022-JP?B?GyRCOzNFRBsoQg==?= <yamada@example.jp>
To: nakamura@example.jp
Subject: =?ISO-2022-JP?B?GyRCSnM5cD1xGyhC?=
Date: Fri, 18 Oct 2024 13:00:00 +0900
MIME-Version: 1.0
Content-Type: multipart/mixed;
\tboundary="_004_TYAPR01MB_"

{m('r')}--_004_TYAPR01MB_
Content-Type: text/plain; charset="iso-2022-jp"
Content-Transfer-Encoding: 7bit

{m('1')}""", "添付します。\n".encode("iso2022_jp"), f"""{e('1')}
--_004_TYAPR01MB_
Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document;
\tname="=?iso-2022-jp?B?GyRCSnM5cD1xGyhCLmRvY3g=?="
Content-Description: =?iso-2022-jp?B?GyRCSnM5cD1xGyhCLmRvY3g=?=
Content-Disposition: attachment;
\tfilename*0*=iso-2022-jp''%1B%24%42%4A%73%39%70%3D%71%1B%28%42%2E%64%6F;
\tfilename*1*=%63%78; size=4;
\tcreation-date="Fri, 18 Oct 2024 03:59:00 GMT"
Content-Transfer-Encoding: base64

{m('2')}UEsDBA==
{e('2')}
--_004_TYAPR01MB_--
{e('r')}"""], f"""
ENVELOPE ("Fri, 18 Oct 2024 13:00:00 +0900" "=?ISO-2022-JP?B?GyRCSnM5cD1xGyhC?=" {addr3('(("=?ISO-2022-JP?B?GyRCOzNFRBsoQg==?=" NIL "yamada" "example.jp"))')} ((NIL NIL "nakamura" "example.jp")) NIL NIL NIL NIL)
BODYSTRUCTURE (("text" "plain" ("charset" "iso-2022-jp") NIL NIL "7bit" @S:1@ @L:1@ NIL NIL NIL NIL)("application" "vnd.openxmlformats-officedocument.wordprocessingml.document" ("name" "=?iso-2022-jp?B?GyRCSnM5cD1xGyhCLmRvY3g=?=") NIL "=?iso-2022-jp?B?GyRCSnM5cD1xGyhCLmRvY3g=?=" "base64" @S:2@ NIL ("attachment" ("filename*" "utf-8''%E5%A0%B1%E5%91%8A%E6%9B%B8.docx" "size" "4" "creation-date" "Fri, 18 Oct 2024 03:59:00 GMT")) NIL NIL) "mixed" ("boundary" "_004_TYAPR01MB_") NIL NIL NIL)
SUBJECT 報告書
FILENAME 2 報告書.docx
TEXT 1 添付します。{{CR}}{{LF}}
BINARY.SIZE 2 4
""")

# 14. RFC 2231 UTF-8 file name with lowercase percent escapes, next to a plain fallback.
msg("rfc2231-utf8", [f"""From: sales@example.co.jp
To: buyer@example.com
Subject: Quote
Date: Sat, 19 Oct 2024 10:00:00 +0900
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="q14"

{m('r')}--q14
Content-Type: text/plain; charset=us-ascii

{m('1')}Quote attached.{e('1')}
--q14
Content-Type: application/pdf; name="mitsumori.pdf"
Content-Disposition: attachment; filename*=UTF-8''%e8%a6%8b%e7%a9%8d%e6%9b%b8.pdf;
 filename="mitsumori.pdf"
Content-Transfer-Encoding: base64

{m('2')}JVBERi0xLjcK
{e('2')}
--q14--
{e('r')}"""], f"""
ENVELOPE ("Sat, 19 Oct 2024 10:00:00 +0900" "Quote" {addr3('((NIL NIL "sales" "example.co.jp"))')} ((NIL NIL "buyer" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:1@ @L:1@ NIL NIL NIL NIL)("application" "pdf" ("name" "mitsumori.pdf") NIL NIL "base64" @S:2@ NIL ("attachment" ("filename*" "utf-8''%E8%A6%8B%E7%A9%8D%E6%9B%B8.pdf" "filename" "mitsumori.pdf")) NIL NIL) "mixed" ("boundary" "q14") NIL NIL NIL)
FILENAME 2 見積書.pdf
BINARY.SIZE 2 @D64:2@
""")

# 15. RFC 2231 plain continuations (no charset): joined, quoting removed.
msg("rfc2231-continuations", [f"""From: ops@example.net
To: dev@example.net
Subject: Long file name
Date: Sun, 20 Oct 2024 06:00:00 -0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="c15"

{m('r')}--c15

{m('1')}See attachment.{e('1')}
--c15
Content-Type: text/plain; charset=us-ascii; name*0=short; name*1=.txt
Content-Disposition: attachment;
 filename*0="This is a very long file name that needs to be ";
 filename*1="split across several parameter ";
 filename*2="continuations.txt"

{m('2')}content
{e('2')}
--c15--
{e('r')}"""], f"""
ENVELOPE ("Sun, 20 Oct 2024 06:00:00 -0000" "Long file name" {addr3('((NIL NIL "ops" "example.net"))')} ((NIL NIL "dev" "example.net")) NIL NIL NIL NIL)
BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:1@ @L:1@ NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii" "name" "short.txt") NIL NIL "7bit" @S:2@ @L:2@ NIL ("attachment" ("filename" "This is a very long file name that needs to be split across several parameter continuations.txt")) NIL NIL) "mixed" ("boundary" "c15") NIL NIL NIL)
FILENAME 2 This is a very long file name that needs to be split across several parameter continuations.txt
DATE {utc(2024, 10, 20, 6, 0, 0)} 0
""")

# 16. The closing boundary never comes: the last part runs to the end of the message.
msg("missing-close", [f"""From: robot@example.com
To: user@example.com
Subject: truncated
Date: Mon, 21 Oct 2024 01:02:03 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="mc16"

{m('r')}--mc16
Content-Type: text/plain

{m('1')}first part{e('1')}
--mc16
Content-Type: text/plain

{m('2')}second part, and then the message just ends
without a closing delimiter
{e('2')}{e('r')}"""], f"""
ENVELOPE ("Mon, 21 Oct 2024 01:02:03 +0000" "truncated" {addr3('((NIL NIL "robot" "example.com"))')} ((NIL NIL "user" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE (("text" "plain" NIL NIL NIL "7bit" @S:1@ @L:1@ NIL NIL NIL NIL)("text" "plain" NIL NIL NIL "7bit" @S:2@ @L:2@ NIL NIL NIL NIL) "mixed" ("boundary" "mc16") NIL NIL NIL)
SECTION 2 @B:2@
SECTION TEXT @B:r@
""")

# 17. An inner multipart/alternative misses its closing boundary; the outer boundary ends it.
msg("missing-close-nested", [f"""From: robot@example.com
To: user@example.com
Subject: nested, truncated inner
Date: Mon, 21 Oct 2024 01:02:04 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer17"

{m('r')}--outer17
Content-Type: multipart/alternative; boundary="inner17"

{m('1')}--inner17
Content-Type: text/plain

{m('11')}plain{e('11')}
--inner17
Content-Type: text/html

{m('12')}<p>html</p>{e('12')}{e('1')}
--outer17
Content-Type: text/plain; name=notes.txt

{m('2')}notes{e('2')}
--outer17--
{e('r')}"""], f"""
ENVELOPE ("Mon, 21 Oct 2024 01:02:04 +0000" "nested, truncated inner" {addr3('((NIL NIL "robot" "example.com"))')} ((NIL NIL "user" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE ((("text" "plain" NIL NIL NIL "7bit" @S:11@ @L:11@ NIL NIL NIL NIL)("text" "html" NIL NIL NIL "7bit" @S:12@ @L:12@ NIL NIL NIL NIL) "alternative" ("boundary" "inner17") NIL NIL NIL)("text" "plain" ("name" "notes.txt") NIL NIL "7bit" @S:2@ @L:2@ NIL NIL NIL NIL) "mixed" ("boundary" "outer17") NIL NIL NIL)
SECTION 1 @B:1@
SECTION 1.2 @B:12@
SECTION 2 @B:2@
""")

UTF8_18 = "Ünïcödé text without a Content-Type.\nZweite Zeile.\n"
# 18. MIME-Version and 8bit encoding but no Content-Type: text/plain; charset=us-ascii.
msg("no-content-type-8bit", [f"""From: legacy@example.com
To: user@example.com
Subject: no content type
Date: Tue, 22 Oct 2024 10:00:00 +0200
MIME-Version: 1.0
Content-Transfer-Encoding: 8bit

{m('b')}{UTF8_18}{e('b')}"""], f"""
ENVELOPE ("Tue, 22 Oct 2024 10:00:00 +0200" "no content type" {addr3('((NIL NIL "legacy" "example.com"))')} ((NIL NIL "user" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "8bit" @S:b@ @L:b@ NIL NIL NIL NIL)
BINARY 1 {UTF8_18.replace(chr(10), "{CR}{LF}")}
BINARY.SIZE 1 {dlen(UTF8_18.replace(chr(10), "{CR}{LF}"))}
""")

# 19. Bare LF line ends everywhere (a message saved by a Unix tool); BINARY of text gets CRLF.
msg("bare-lf", [f"""From: unix@example.org
To: user@example.org
Subject: bare LF
Date: Wed, 23 Oct 2024 00:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="lf19"

{m('r')}preamble
--lf19
Content-Type: text/plain; charset=us-ascii

{m('1')}line one
line two{e('1')}
--lf19
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

{m('2')}AAEC
{e('2')}
--lf19--
{e('r')}"""], f"""
ENVELOPE ("Wed, 23 Oct 2024 00:00:00 +0000" "bare LF" {addr3('((NIL NIL "unix" "example.org"))')} ((NIL NIL "user" "example.org")) NIL NIL NIL NIL)
BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:1@ @L:1@ NIL NIL NIL NIL)("application" "octet-stream" NIL NIL NIL "base64" @S:2@ NIL NIL NIL NIL) "mixed" ("boundary" "lf19") NIL NIL NIL)
SECTION 1 @B:1@
SECTION 1.MIME Content-Type: text/plain; charset=us-ascii{{LF}}{{LF}}
SECTION HEADER From: unix@example.org{{LF}}To: user@example.org{{LF}}Subject: bare LF{{LF}}Date: Wed, 23 Oct 2024 00:00:00 +0000{{LF}}MIME-Version: 1.0{{LF}}Content-Type: multipart/mixed; boundary="lf19"{{LF}}{{LF}}
BINARY 1 line one{{CR}}{{LF}}line two
BINARY 2 {{NUL}}{{x01}}{{x02}}
""", crlf=False)

# 20. NUL bytes in the body and in a header value (sent as U+FFFD in a literal).
msg("nul-bytes", [f"""From: nul@example.com
To: user@example.com
Subject: has""", b"\x00", f"""nul
Date: Thu, 24 Oct 2024 00:00:00 +0000
Content-Type: text/plain; charset=us-ascii

{m('b')}""", b"a\x00b\nc\x00\x00d\n", e('b')], f"""
ENVELOPE ("Thu, 24 Oct 2024 00:00:00 +0000" {lit("has" + chr(0xfffd) + "nul")} {addr3('((NIL NIL "nul" "example.com"))')} ((NIL NIL "user" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:b@ @L:b@ NIL NIL NIL NIL)
SECTION 1 @B:b@
BINARY 1 a{{NUL}}b{{CR}}{{LF}}c{{NUL}}{{NUL}}d{{CR}}{{LF}}
""")

S21, N21 = "Übersicht für März", "Zoë Müller"
# 21. Raw 8-bit headers: UTF-8 (RFC 6532 style) and a stray Latin-1 byte; literals in ENVELOPE.
msg("8bit-headers", [f"""From: Zoë Müller <zoe@example.de>
To: "Jürgen" <juergen@example.de>
Subject: Übersicht für März
Date: Fri, 25 Oct 2024 12:00:00 +0200
Message-ID: <8bit-21@example.de>
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

{m('b')}Grüße
{e('b')}"""], f"""
ENVELOPE ("Fri, 25 Oct 2024 12:00:00 +0200" {lit(S21)} {addr3('((' + lit(N21) + ' NIL "zoe" "example.de"))')} (({lit("Jürgen")} NIL "juergen" "example.de")) NIL NIL NIL "<8bit-21@example.de>")
BODYSTRUCTURE ("text" "plain" ("charset" "utf-8") NIL NIL "8bit" @S:b@ @L:b@ NIL NIL NIL NIL)
SUBJECT Übersicht für März
""")

# 22. Groups in To and Cc (RFC 5322 3.4), an empty group, and a bare display-name list.
msg("group-to", [f"""From: Announcer <announce@example.com>
To: undisclosed-recipients:;
Cc: Managers: alice@example.com, "Bob B." <bob@example.com>;, carol@example.com
Bcc: Auditors: ;
Subject: Groups
Date: Sat, 26 Oct 2024 08:00:00 +0000
Message-ID: <group-22@example.com>

{m('b')}body
{e('b')}"""], f"""
ENVELOPE ("Sat, 26 Oct 2024 08:00:00 +0000" "Groups" {addr3('(("Announcer" NIL "announce" "example.com"))')} ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) ((NIL NIL "Managers" NIL)(NIL NIL "alice" "example.com")("Bob B." NIL "bob" "example.com")(NIL NIL NIL NIL)(NIL NIL "carol" "example.com")) ((NIL NIL "Auditors" NIL)(NIL NIL NIL NIL)) NIL "<group-22@example.com>")
BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:b@ @L:b@ NIL NIL NIL NIL)
""")

# 23. A header and nothing else: no empty line, no body (RFC 9051: BODY[HEADER] is all of it).
msg("header-only", [f"""{m('h')}From: short@example.com
To: user@example.com
Subject: header only
Date: Sun, 27 Oct 2024 00:00:00 +0000{e('h')}"""], f"""
ENVELOPE ("Sun, 27 Oct 2024 00:00:00 +0000" "header only" {addr3('((NIL NIL "short" "example.com"))')} ((NIL NIL "user" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)
SECTION HEADER @B:h@
SECTION TEXT 
SECTION 1 
""")

# 24. An empty body after the empty line.
msg("empty-body", [f"""{m('h')}From: empty@example.com
To: user@example.com
Subject:
Date: Sun, 27 Oct 2024 00:00:01 +0000
Content-Type: text/plain; charset=utf-8

{e('h')}"""], f"""
ENVELOPE ("Sun, 27 Oct 2024 00:00:01 +0000" "" {addr3('((NIL NIL "empty" "example.com"))')} ((NIL NIL "user" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE ("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)
SECTION HEADER @B:h@
SECTION TEXT 
BINARY.SIZE 1 0
""")

# 25. Empty parts: one with no header and no body, one with a header only, one with a body only.
msg("empty-parts", [f"""From: parts@example.com
To: user@example.com
Subject: empty parts
Date: Mon, 28 Oct 2024 00:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="e25"

{m('r')}--e25
--e25
Content-Type: text/html

{e('r')[:0]}--e25

{m('3')}only a body{e('3')}
--e25
{m('4h')}Content-Type: application/octet-stream{e('4h')}
--e25--
{e('r')}"""], f"""
ENVELOPE ("Mon, 28 Oct 2024 00:00:00 +0000" "empty parts" {addr3('((NIL NIL "parts" "example.com"))')} ((NIL NIL "user" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)("text" "html" NIL NIL NIL "7bit" 0 0 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:3@ @L:3@ NIL NIL NIL NIL)("application" "octet-stream" NIL NIL NIL "7bit" 0 NIL NIL NIL NIL) "mixed" ("boundary" "e25") NIL NIL NIL)
SECTION 1 
SECTION 1.MIME 
SECTION 2 
SECTION 2.MIME Content-Type: text/html{{CR}}{{LF}}{{CR}}{{LF}}
SECTION 3 @B:3@
SECTION 3.MIME {{CR}}{{LF}}
SECTION 4 
SECTION 4.MIME @B:4h@
""")

# 26. Five levels of multipart nesting; each inner body ends right after its "--Lk--" (the
# CRLF after a close-delimiter goes to the enclosing boundary that follows).
msg("deep-nesting", [f"""From: nest@example.com
To: user@example.com
Subject: five levels
Date: Tue, 29 Oct 2024 00:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="L0"

{m('r')}--L0
Content-Type: multipart/mixed; boundary="L1"

{m('1')}--L1
Content-Type: multipart/mixed; boundary="L2"

{m('11')}--L2
Content-Type: multipart/mixed; boundary="L3"

{m('111')}--L3
Content-Type: multipart/mixed; boundary="L4"

{m('1111')}--L4
Content-Type: text/plain

{m('leaf')}deep leaf{e('leaf')}
--L4--{e('1111')}
--L3--{e('111')}
--L2--{e('11')}
--L1--{e('1')}
--L0--
{e('r')}"""], f"""
ENVELOPE ("Tue, 29 Oct 2024 00:00:00 +0000" "five levels" {addr3('((NIL NIL "nest" "example.com"))')} ((NIL NIL "user" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE (((((("text" "plain" NIL NIL NIL "7bit" @S:leaf@ @L:leaf@ NIL NIL NIL NIL) "mixed" ("boundary" "L4") NIL NIL NIL) "mixed" ("boundary" "L3") NIL NIL NIL) "mixed" ("boundary" "L2") NIL NIL NIL) "mixed" ("boundary" "L1") NIL NIL NIL) "mixed" ("boundary" "L0") NIL NIL NIL)
BODY (((((("text" "plain" NIL NIL NIL "7bit" @S:leaf@ @L:leaf@) "mixed") "mixed") "mixed") "mixed") "mixed")
SECTION 1 @B:1@
SECTION 1.1 @B:11@
SECTION 1.1.1 @B:111@
SECTION 1.1.1.1 @B:1111@
SECTION 1.1.1.1.1 @B:leaf@
""")


def too_deep():
    levels = 105
    src = ["""From: bomb@example.com
To: user@example.com
Subject: 105 levels
Date: Wed, 30 Oct 2024 00:00:00 +0000
MIME-Version: 1.0
"""]
    for k in range(levels):
        src.append('Content-Type: multipart/mixed; boundary="b%d"\n\n' % k)
        if k == 100:
            src.append(m("opaque"))
        src.append("--b%d\n" % k)
    src.append("Content-Type: text/plain\n\nbottom")
    for k in range(levels - 1, -1, -1):
        if k == 99:
            src.append(e("opaque"))
        src.append("\n--b%d--" % k)
    src.append("\n")
    # RFC-wise the part at depth 100 is a multipart like the others; the parser stops there
    # (MIME_DEFAULT_MAX_DEPTH) and describes it as an opaque application/octet-stream leaf.
    bs = "(" * 100 + '("application" "octet-stream" ("boundary" "b100") NIL NIL "7bit" @S:opaque@ NIL NIL NIL NIL)'
    for k in range(99, -1, -1):
        bs += ' "mixed" ("boundary" "b%d") NIL NIL NIL)' % k
    return ["".join(src)], bs


TD_SRC, TD_BS = too_deep()
msg("too-deep", TD_SRC, f"""
ENVELOPE ("Wed, 30 Oct 2024 00:00:00 +0000" "105 levels" {addr3('((NIL NIL "bomb" "example.com"))')} ((NIL NIL "user" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE {TD_BS}
SECTION {".".join(["1"] * 100)} @B:opaque@
""")

# 28. multipart/digest: children without Content-Type are message/rfc822 (RFC 2046 5.1.5).
msg("digest", [f"""From: list-digest@lists.example.org
To: subscriber@example.com
Subject: List digest, Vol 1, Issue 2
Date: Thu, 31 Oct 2024 00:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/digest; boundary="dg"

{m('r')}Digest preamble
--dg

{m('1')}From: a@example.com
Subject: first

{m('1b')}one{e('1b')}{e('1')}
--dg
Content-Type: message/rfc822

{m('2')}From: b@example.com
Subject: second
Content-Type: text/plain; charset=utf-8

{m('2b')}two{e('2b')}{e('2')}
--dg
Content-Type: text/plain

{m('3')}not a message{e('3')}
--dg--
{e('r')}"""], f"""
ENVELOPE ("Thu, 31 Oct 2024 00:00:00 +0000" "List digest, Vol 1, Issue 2" {addr3('((NIL NIL "list-digest" "lists.example.org"))')} ((NIL NIL "subscriber" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE (("message" "rfc822" NIL NIL NIL "7bit" @S:1@ (NIL "first" {addr3('((NIL NIL "a" "example.com"))')} NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:1b@ @L:1b@ NIL NIL NIL NIL) @L:1@ NIL NIL NIL NIL)("message" "rfc822" NIL NIL NIL "7bit" @S:2@ (NIL "second" {addr3('((NIL NIL "b" "example.com"))')} NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "utf-8") NIL NIL "7bit" @S:2b@ @L:2b@ NIL NIL NIL NIL) @L:2@ NIL NIL NIL NIL)("text" "plain" NIL NIL NIL "7bit" @S:3@ @L:3@ NIL NIL NIL NIL) "digest" ("boundary" "dg") NIL NIL NIL)
SECTION 1 @B:1@
SECTION 1.1 @B:1b@
SECTION 1.MIME {{CR}}{{LF}}
SECTION 2.1 @B:2b@
SECTION 3 @B:3@
""")

# 29. RFC 2046 5.1.1's own example: preamble, transport padding after delimiters, epilogue.
msg("preamble-epilogue", [f"""From: Nathaniel Borenstein <nsb@bellcore.com>
To: Ned Freed <ned@innosoft.com>
Date: Sun, 21 Mar 1993 23:56:48 -0800 (PST)
Subject: Sample message
MIME-Version: 1.0
Content-type: multipart/mixed; boundary="simple boundary"

{m('r')}This is the preamble.  It is to be ignored, though it
is a handy place for composition agents to include an
explanatory note to non-MIME conformant readers.

--simple boundary   
Content-type: text/plain; charset=us-ascii

{m('1')}This is explicitly typed plain US-ASCII text.
It DOES end with a linebreak.
{e('1')}
--simple boundary\t
Content-type: text/plain; charset=us-ascii

{m('2')}This is explicitly typed plain US-ASCII text.
It does NOT end with a linebreak.{e('2')}
--simple boundary--  
This is the epilogue.  It is also to be ignored.
{e('r')}"""], f"""
ENVELOPE ("Sun, 21 Mar 1993 23:56:48 -0800 (PST)" "Sample message" {addr3('(("Nathaniel Borenstein" NIL "nsb" "bellcore.com"))')} (("Ned Freed" NIL "ned" "innosoft.com")) NIL NIL NIL NIL)
BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:1@ @L:1@ NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:2@ @L:2@ NIL NIL NIL NIL) "mixed" ("boundary" "simple boundary") NIL NIL NIL)
SECTION 1 @B:1@
SECTION 2 @B:2@
SECTION TEXT @B:r@
DATE {utc(1993, 3, 22, 7, 56, 48)} -480
""")

# 30. Lines that look like boundaries but are not, and a boundary that extends the outer one.
msg("boundary-lookalike", [f"""From: tricky@example.com
To: user@example.com
Subject: look-alikes
Date: Fri, 1 Nov 2024 00:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="abc"

{m('r')}--abc
Content-Type: text/plain

{m('1')}--abcd is not a boundary
--abc-- x is not a closing boundary
 --abc neither (leading space)
--ABC neither (case matters)
-- abc neither{e('1')}
--abc
Content-Type: multipart/mixed; boundary="abc-inner"

{m('2')}--abc-inner

{m('21')}inner part{e('21')}
--abc-inner--{e('2')}
--abc--
{e('r')}"""], f"""
ENVELOPE ("Fri, 1 Nov 2024 00:00:00 +0000" "look-alikes" {addr3('((NIL NIL "tricky" "example.com"))')} ((NIL NIL "user" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE (("text" "plain" NIL NIL NIL "7bit" @S:1@ @L:1@ NIL NIL NIL NIL)(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:21@ @L:21@ NIL NIL NIL NIL) "mixed" ("boundary" "abc-inner") NIL NIL NIL) "mixed" ("boundary" "abc") NIL NIL NIL)
SECTION 1 @B:1@
SECTION 2 @B:2@
SECTION 2.1 @B:21@
""")

# 31. Every extension field: id, description, md5, language list, location, disposition params,
# and multipart extension data on the root.
msg("ext-fields", [f"""From: ext@example.com
To: user@example.com
Subject: extension data
Date: Sat, 2 Nov 2024 00:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="x31"
Content-Language: en
Content-Disposition: inline
Content-Location: https://example.com/msg

{m('r')}--x31
Content-Type: text/plain; charset=us-ascii; format=flowed; delsp=yes
Content-ID: <part1.31@example.com>
Content-Description: The main text
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==
Content-Language: en-GB, fr-CA (Canadian French)
Content-Location: https://example.com/text.txt
Content-Disposition: inline; creation-date="Wed, 12 Feb 1997 16:29:51 -0500"

{m('1')}Hello.{e('1')}
--x31
Content-Type: audio/basic
Content-Transfer-Encoding: base64
Content-Description: =?utf-8?q?Gru=C3=9F?=
Content-Disposition: attachment; filename=hello.au

{m('2')}LnNuZAAAABgAAAAB{e('2')}
--x31--
{e('r')}"""], f"""
ENVELOPE ("Sat, 2 Nov 2024 00:00:00 +0000" "extension data" {addr3('((NIL NIL "ext" "example.com"))')} ((NIL NIL "user" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii" "format" "flowed" "delsp" "yes") "<part1.31@example.com>" "The main text" "7bit" @S:1@ @L:1@ "Q2hlY2sgSW50ZWdyaXR5IQ==" ("inline" ("creation-date" "Wed, 12 Feb 1997 16:29:51 -0500")) ("en-GB" "fr-CA") "https://example.com/text.txt")("audio" "basic" NIL NIL "=?utf-8?q?Gru=C3=9F?=" "base64" @S:2@ NIL ("attachment" ("filename" "hello.au")) NIL NIL) "mixed" ("boundary" "x31") ("inline" NIL) ("en") "https://example.com/msg")
BODY (("text" "plain" ("charset" "us-ascii" "format" "flowed" "delsp" "yes") "<part1.31@example.com>" "The main text" "7bit" @S:1@ @L:1@)("audio" "basic" NIL NIL "=?utf-8?q?Gru=C3=9F?=" "base64" @S:2@) "mixed")
BINARY.SIZE 2 12
""")

# 32. PGP/MIME signed (RFC 3156): parameters in the order written.
msg("signed", [f"""From: signer@example.com
To: user@example.com
Subject: signed
Date: Sun, 3 Nov 2024 00:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/signed; boundary="sig32"; micalg=pgp-sha256;
 protocol="application/pgp-signature"

{m('r')}This is an OpenPGP/MIME signed message (RFC 4880 and 3156)
--sig32
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: quoted-printable

{m('1')}Signed text with =3D sign.{e('1')}
--sig32
Content-Type: application/pgp-signature; name="signature.asc"
Content-Description: OpenPGP digital signature
Content-Disposition: attachment; filename="signature.asc"

{m('2')}-----BEGIN PGP SIGNATURE-----

iQEzBAEBCAAdFiEE
-----END PGP SIGNATURE-----
{e('2')}
--sig32--
{e('r')}"""], f"""
ENVELOPE ("Sun, 3 Nov 2024 00:00:00 +0000" "signed" {addr3('((NIL NIL "signer" "example.com"))')} ((NIL NIL "user" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii") NIL NIL "quoted-printable" @S:1@ @L:1@ NIL NIL NIL NIL)("application" "pgp-signature" ("name" "signature.asc") NIL "OpenPGP digital signature" "7bit" @S:2@ NIL ("attachment" ("filename" "signature.asc")) NIL NIL) "signed" ("boundary" "sig32" "micalg" "pgp-sha256" "protocol" "application/pgp-signature") NIL NIL NIL)
SECTION 1 @B:1@
SECTION 1.MIME Content-Type: text/plain; charset=us-ascii{{CR}}{{LF}}Content-Transfer-Encoding: quoted-printable{{CR}}{{LF}}{{CR}}{{LF}}
BINARY 1 Signed text with = sign.
""")

# 33. PGP/MIME encrypted.
msg("encrypted", [f"""From: crypt@example.com
To: user@example.com
Subject: ...
Date: Mon, 4 Nov 2024 00:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/encrypted; protocol="application/pgp-encrypted"; boundary="enc33"

{m('r')}This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)
--enc33
Content-Type: application/pgp-encrypted
Content-Description: PGP/MIME version identification

{m('1')}Version: 1
{e('1')}
--enc33
Content-Type: application/octet-stream; name="encrypted.asc"
Content-Description: OpenPGP encrypted message
Content-Disposition: inline; filename="encrypted.asc"

{m('2')}-----BEGIN PGP MESSAGE-----

hQEMA
-----END PGP MESSAGE-----
{e('2')}
--enc33--
{e('r')}"""], f"""
ENVELOPE ("Mon, 4 Nov 2024 00:00:00 +0000" "..." {addr3('((NIL NIL "crypt" "example.com"))')} ((NIL NIL "user" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE (("application" "pgp-encrypted" NIL NIL "PGP/MIME version identification" "7bit" @S:1@ NIL NIL NIL NIL)("application" "octet-stream" ("name" "encrypted.asc") NIL "OpenPGP encrypted message" "7bit" @S:2@ NIL ("inline" ("filename" "encrypted.asc")) NIL NIL) "encrypted" ("protocol" "application/pgp-encrypted" "boundary" "enc33") NIL NIL NIL)
SECTION 2 @B:2@
""")

# 34. A bounce (RFC 3464): multipart/report, message/delivery-status as a basic body, and a
# message/rfc822 holding only headers (no empty line: the embedded body is empty).
msg("report-dsn", [f"""From: MAILER-DAEMON@mx.example.com (Mail Delivery System)
To: sender@example.com
Subject: Undelivered Mail Returned to Sender
Date: Tue, 5 Nov 2024 03:04:05 +0000 (UTC)
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="dsn34/mx.example.com"

{m('r')}This is a MIME-encapsulated message.

--dsn34/mx.example.com
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

{m('1')}I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.
{e('1')}
--dsn34/mx.example.com
Content-Description: Delivery report
Content-Type: message/delivery-status

{m('2')}Reporting-MTA: dns; mx.example.com
Arrival-Date: Tue,  5 Nov 2024 03:04:00 +0000 (UTC)

Final-Recipient: rfc822; nobody@example.org
Action: failed
Status: 5.1.1
{e('2')}
--dsn34/mx.example.com
Content-Description: Undelivered Message Headers
Content-Type: message/rfc822

{m('3')}From: sender@example.com
To: nobody@example.org
Subject: hello{e('3')}
--dsn34/mx.example.com--
{e('r')}"""], f"""
ENVELOPE ("Tue, 5 Nov 2024 03:04:05 +0000 (UTC)" "Undelivered Mail Returned to Sender" {addr3('(("Mail Delivery System" NIL "MAILER-DAEMON" "mx.example.com"))')} ((NIL NIL "sender" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii") NIL "Notification" "7bit" @S:1@ @L:1@ NIL NIL NIL NIL)("message" "delivery-status" NIL NIL "Delivery report" "7bit" @S:2@ NIL NIL NIL NIL)("message" "rfc822" NIL NIL "Undelivered Message Headers" "7bit" @S:3@ (NIL "hello" {addr3('((NIL NIL "sender" "example.com"))')} ((NIL NIL "nobody" "example.org")) NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) @L:3@ NIL NIL NIL NIL) "report" ("report-type" "delivery-status" "boundary" "dsn34/mx.example.com") NIL NIL NIL)
SECTION 2 @B:2@
SECTION 3 @B:3@
SECTION 3.HEADER @B:3@
SECTION 3.TEXT 
""")

# 35. A calendar invitation.
msg("calendar", [f"""From: organizer@example.com
To: attendee@example.com
Subject: Invitation: Sync
Date: Wed, 6 Nov 2024 09:00:00 -0800
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="cal35"

{m('r')}--cal35
Content-Type: text/plain; charset="UTF-8"

{m('1')}Invitation: Sync{e('1')}
--cal35
Content-Type: text/calendar; charset="UTF-8"; method=REQUEST
Content-Transfer-Encoding: 7bit

{m('2')}BEGIN:VCALENDAR
METHOD:REQUEST
END:VCALENDAR
{e('2')}
--cal35--
{e('r')}"""], f"""
ENVELOPE ("Wed, 6 Nov 2024 09:00:00 -0800" "Invitation: Sync" {addr3('((NIL NIL "organizer" "example.com"))')} ((NIL NIL "attendee" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE (("text" "plain" ("charset" "UTF-8") NIL NIL "7bit" @S:1@ @L:1@ NIL NIL NIL NIL)("text" "calendar" ("charset" "UTF-8" "method" "REQUEST") NIL NIL "7bit" @S:2@ @L:2@ NIL NIL NIL NIL) "alternative" ("boundary" "cal35") NIL NIL NIL)
DATE {utc(2024, 11, 6, 17, 0, 0)} -480
""")

# 36. RFC 5322 Appendix A address forms: obs-phrase with a dot, a route, an empty list member,
# CFWS around the dot of a domain, comments everywhere, quoted-pairs, a domain literal.
msg("obs-addresses", [f"""From: "Joe Q. Public" <john.q.public@example.com>
Sender: user@[192.0.2.1] (Operator)
Reply-To: "Giant; \\"Big\\" Box" <sysservices@example.net>
To: Mary Smith <@node.test:mary@example.net>, , jdoe@test   . example
Cc: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>
Subject: Saying Hello
Date: Fri, 21 Nov 1997 09:55:06 -0600
Message-ID: <1234@local.machine.example>

{m('b')}This is a message just to say hello.
So, "Hello".
{e('b')}"""], f"""
ENVELOPE ("Fri, 21 Nov 1997 09:55:06 -0600" "Saying Hello" (("Joe Q. Public" NIL "john.q.public" "example.com")) (("Operator" NIL "user" "[192.0.2.1]")) (("Giant; \\"Big\\" Box" NIL "sysservices" "example.net")) (("Mary Smith" "@node.test" "mary" "example.net")(NIL NIL "jdoe" "test.example")) (("Pete" NIL "pete" "silly.test")) NIL NIL "<1234@local.machine.example>")
BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:b@ @L:b@ NIL NIL NIL NIL)
DATE {utc(1997, 11, 21, 15, 55, 6)} -360
""")

# 37. Broken addresses: best effort, never a NIL host for a mailbox.
msg("broken-addresses", [f"""From: <>
To: alice, bob@, <carol@example.com
Cc: john@example.com <john@example.com>, Name> x@y
Bcc: "Quote Only"
Subject: broken
In-Reply-To: garbage <not closed
Message-ID: <>

{m('b')}x
{e('b')}"""], f"""
ENVELOPE (NIL "broken" NIL NIL NIL ((NIL NIL "alice" ".MISSING-HOST-NAME.")(NIL NIL "bob" ".MISSING-HOST-NAME.")(NIL NIL "carol" "example.com")) (("john@example.com" NIL "john" "example.com")(NIL NIL "x" "y")) ((NIL NIL "Quote Only" ".MISSING-HOST-NAME.")) "garbage <not closed" "<>")
BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:b@ @L:b@ NIL NIL NIL NIL)
""")

# 38. Envelope defaults: a Sender with no address falls back to From; the first From counts.
msg("envelope-defaults", [f"""From: first@example.com
From: second@example.com
Sender: (nobody)
Reply-To: b@example.com, "C" <c@example.com>
Subject: first subject
Subject: second subject
Date: Thu, 7 Nov 2024 00:00:00 +0000

{m('b')}x
{e('b')}"""], f"""
ENVELOPE ("Thu, 7 Nov 2024 00:00:00 +0000" "first subject" ((NIL NIL "first" "example.com")) ((NIL NIL "first" "example.com")) ((NIL NIL "b" "example.com")("C" NIL "c" "example.com")) NIL NIL NIL NIL NIL)
BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:b@ @L:b@ NIL NIL NIL NIL)
""")

# 39. Long folded headers: a UTF-8 character split across two folded encoded words (joined
# before conversion), a folded To list.
msg("long-folded", [f"""From: folder@example.com
To: very-long-name-one@example.com, very-long-name-two@example.com,
\tvery-long-name-three@example.com
Subject: =?UTF-8?B?44GT44KT44Gr44Gh44Gv44CB5Lg=?=
 =?UTF-8?B?lueVjOOAgumVt+OBhOS7tuWQjeOBruODhuOCueODiA==?=
Date: Fri, 8 Nov 2024 00:00:00
 +0900
Message-ID:
 <folded-39@example.com>

{m('b')}x
{e('b')}"""], f"""
ENVELOPE ("Fri, 8 Nov 2024 00:00:00 +0900" "=?UTF-8?B?44GT44KT44Gr44Gh44Gv44CB5Lg=?= =?UTF-8?B?lueVjOOAgumVt+OBhOS7tuWQjeOBruODhuOCueODiA==?=" {addr3('((NIL NIL "folder" "example.com"))')} ((NIL NIL "very-long-name-one" "example.com")(NIL NIL "very-long-name-two" "example.com")(NIL NIL "very-long-name-three" "example.com")) NIL NIL NIL "<folded-39@example.com>")
BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:b@ @L:b@ NIL NIL NIL NIL)
SUBJECT こんにちは、世界。長い件名のテスト
DATE {utc(2024, 11, 7, 15, 0, 0)} 540
""")

# 40. multipart without a boundary parameter is an invalid Content-Type: text/plain (RFC 2045 5.2).
msg("multipart-no-boundary", [f"""From: nob@example.com
To: user@example.com
Subject: no boundary
Date: Sat, 9 Nov 2024 00:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed

{m('b')}--foo
Content-Type: text/plain

text
--foo--
{e('b')}"""], f"""
ENVELOPE ("Sat, 9 Nov 2024 00:00:00 +0000" "no boundary" {addr3('((NIL NIL "nob" "example.com"))')} ((NIL NIL "user" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:b@ @L:b@ NIL NIL NIL NIL)
SECTION 1 @B:b@
""")

# 41. base64 text with LF line ends inside: BINARY sends it with CRLF (RFC 9051 6.4.5).
msg("base64-text", [f"""From: b64@example.com
To: user@example.com
Subject: base64 text
Date: Sun, 10 Nov 2024 00:00:00 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

{m('b')}TGluZSAx
CkxpbmUg
Mgo=
{e('b')}"""], f"""
ENVELOPE ("Sun, 10 Nov 2024 00:00:00 +0000" "base64 text" {addr3('((NIL NIL "b64" "example.com"))')} ((NIL NIL "user" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE ("text" "plain" ("charset" "utf-8") NIL NIL "base64" @S:b@ @L:b@ NIL NIL NIL NIL)
BINARY 1 Line 1{{CR}}{{LF}}Line 2{{CR}}{{LF}}
BINARY.SIZE 1 16
TEXT 1 Line 1{{LF}}Line 2{{LF}}
""")

G42_SUBJ = "Grüße"
# 42. message/global (RFC 6532): a message for IMAP4rev2, a basic body for IMAP4rev1.
msg("message-global", [f"""From: intl@example.com
To: user@example.com
Subject: global
Date: Mon, 11 Nov 2024 00:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="g42"

{m('r')}--g42
Content-Type: text/plain

{m('1')}see attached{e('1')}
--g42
Content-Type: message/global
Content-Transfer-Encoding: 8bit

{m('2')}From: Jürgen <jürgen@例え.jp>
Subject: {G42_SUBJ}
Content-Type: text/plain; charset=utf-8

{m('2b')}Hallo{e('2b')}{e('2')}
--g42--
{e('r')}"""], f"""
ENVELOPE ("Mon, 11 Nov 2024 00:00:00 +0000" "global" {addr3('((NIL NIL "intl" "example.com"))')} ((NIL NIL "user" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE (("text" "plain" NIL NIL NIL "7bit" @S:1@ @L:1@ NIL NIL NIL NIL)("message" "global" NIL NIL NIL "8bit" @S:2@ (NIL {lit(G42_SUBJ)} {addr3('((' + lit("Jürgen") + ' NIL ' + lit("jürgen") + ' ' + lit("例え.jp") + '))')} NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "utf-8") NIL NIL "7bit" @S:2b@ @L:2b@ NIL NIL NIL NIL) @L:2@ NIL NIL NIL NIL) "mixed" ("boundary" "g42") NIL NIL NIL)
BODYSTRUCTURE-REV1 (("text" "plain" NIL NIL NIL "7bit" @S:1@ @L:1@ NIL NIL NIL NIL)("message" "global" NIL NIL NIL "8bit" @S:2@ NIL NIL NIL NIL) "mixed" ("boundary" "g42") NIL NIL NIL)
SECTION 2.1 @B:2b@
""")

# 43. iso-8859-1 quoted-printable HTML; decoded as windows-1252 (=80 is the euro sign).
msg("html-latin1-qp", [f"""From: caf@example.fr
To: user@example.com
Subject: =?iso-8859-1?Q?Caf=E9_cr=E8me?=
Date: Tue, 12 Nov 2024 00:00:00 +0100
MIME-Version: 1.0
Content-Type: text/html; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

{m('b')}<p>Caf=E9 cr=E8me: 3,50 =80</p>
{e('b')}"""], f"""
ENVELOPE ("Tue, 12 Nov 2024 00:00:00 +0100" "=?iso-8859-1?Q?Caf=E9_cr=E8me?=" {addr3('((NIL NIL "caf" "example.fr"))')} ((NIL NIL "user" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE ("text" "html" ("charset" "iso-8859-1") NIL NIL "quoted-printable" @S:b@ @L:b@ NIL NIL NIL NIL)
SUBJECT Café crème
TEXT 1 <p>Café crème: 3,50 €</p>{{CR}}{{LF}}
BINARY 1 <p>Caf{{xE9}} cr{{xE8}}me: 3,50 {{x80}}</p>{{CR}}{{LF}}
""")

# 44. Header names and values in odd case: matched case-insensitively, rendered as written.
msg("mixed-case-headers", [f"""FROM: Case@Example.COM
TO: user@example.com
SUBJECT: case
DATE: Wed, 13 Nov 2024 00:00:00 +0000
MIME-VERSION: 1.0
CONTENT-TYPE: Multipart/Mixed; BOUNDARY="MC44"

{m('r')}--MC44
content-type: TEXT/PLAIN; CHARSET=US-ASCII
content-transfer-encoding: QUOTED-PRINTABLE

{m('1')}x{e('1')}
--MC44--
{e('r')}"""], f"""
ENVELOPE ("Wed, 13 Nov 2024 00:00:00 +0000" "case" {addr3('((NIL NIL "Case" "Example.COM"))')} ((NIL NIL "user" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "QUOTED-PRINTABLE" @S:1@ @L:1@ NIL NIL NIL NIL) "Mixed" ("BOUNDARY" "MC44") NIL NIL NIL)
""")

# 45. Folded parameters with comments and spaces around "=" (RFC 2045 5.1 allows CFWS).
msg("folded-params-comments", [f"""From: fold@example.com
To: user@example.com
Subject: folded params
Date: Thu, 14 Nov 2024 00:00:00 +0000
MIME-Version: 1.0
Content-Type: text/plain (this is text)
\t; charset = "utf-8" (the charset)
\t; format=flowed
Content-Disposition: attachment (with a comment);
 filename="a b.txt"
Content-Transfer-Encoding: 8bit (yes, 8bit)

{m('b')}body
{e('b')}"""], f"""
ENVELOPE ("Thu, 14 Nov 2024 00:00:00 +0000" "folded params" {addr3('((NIL NIL "fold" "example.com"))')} ((NIL NIL "user" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE ("text" "plain" ("charset" "utf-8" "format" "flowed") NIL NIL "8bit" @S:b@ @L:b@ NIL ("attachment" ("filename" "a b.txt")) NIL NIL)
FILENAME 1 a b.txt
""")

# 46. A forward of a forward: message/rfc822 inside message/rfc822.
msg("rfc822-in-rfc822", [f"""From: third@example.com
To: user@example.com
Subject: Fwd: Fwd: original
Date: Fri, 15 Nov 2024 00:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="o46"

{m('r')}--o46

{m('1')}third{e('1')}
--o46
Content-Type: message/rfc822

{m('2')}From: second@example.com
Subject: Fwd: original
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="m46"

{m('2b')}--m46

{m('21')}second{e('21')}
--m46
Content-Type: message/rfc822

{m('22')}{m('22h')}From: first@example.com
Subject: original

{e('22h')}{m('22b')}first body
{e('22b')}{e('22')}
--m46--{e('2b')}{e('2')}
--o46--
{e('r')}"""], f"""
ENVELOPE ("Fri, 15 Nov 2024 00:00:00 +0000" "Fwd: Fwd: original" {addr3('((NIL NIL "third" "example.com"))')} ((NIL NIL "user" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:1@ @L:1@ NIL NIL NIL NIL)("message" "rfc822" NIL NIL NIL "7bit" @S:2@ (NIL "Fwd: original" {addr3('((NIL NIL "second" "example.com"))')} NIL NIL NIL NIL NIL) (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:21@ @L:21@ NIL NIL NIL NIL)("message" "rfc822" NIL NIL NIL "7bit" @S:22@ (NIL "original" {addr3('((NIL NIL "first" "example.com"))')} NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:22b@ @L:22b@ NIL NIL NIL NIL) @L:22@ NIL NIL NIL NIL) "mixed" ("boundary" "m46") NIL NIL NIL) @L:2@ NIL NIL NIL NIL) "mixed" ("boundary" "o46") NIL NIL NIL)
SECTION 2 @B:2@
SECTION 2.TEXT @B:2b@
SECTION 2.1 @B:21@
SECTION 2.2 @B:22@
SECTION 2.2.HEADER @B:22h@
SECTION 2.2.TEXT @B:22b@
SECTION 2.2.1 @B:22b@
""")

# 47. An encoding kura cannot decode: BINARY answers UNKNOWN-CTE.
msg("uuencode-unknown-cte", [f"""From: old@example.com
To: user@example.com
Subject: uuencoded
Date: Sat, 16 Nov 2024 00:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="u47"

{m('r')}--u47

{m('1')}uuencoded file follows{e('1')}
--u47
Content-Type: application/octet-stream; name="a.bin"
Content-Transfer-Encoding: x-uuencode

{m('2')}begin 644 a.bin
#86)C
`
end
{e('2')}
--u47--
{e('r')}"""], f"""
ENVELOPE ("Sat, 16 Nov 2024 00:00:00 +0000" "uuencoded" {addr3('((NIL NIL "old" "example.com"))')} ((NIL NIL "user" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:1@ @L:1@ NIL NIL NIL NIL)("application" "octet-stream" ("name" "a.bin") NIL NIL "x-uuencode" @S:2@ NIL NIL NIL NIL) "mixed" ("boundary" "u47") NIL NIL NIL)
BINARY 2 UNKNOWN-CTE
BINARY.SIZE 2 UNKNOWN-CTE
SECTION 2 @B:2@
""")

# 48. Several charsets in one Subject, adjacent same-charset words joined, text kept.
msg("mixed-2047-subject", [f"""From: =?utf-8?Q?Ren=C3=A9e?= "Quoted =?utf-8?Q?Part?=" <renee@example.com>
To: user@example.com
Subject: Re: =?ISO-8859-1?Q?Caf=E9?= and =?UTF-8?B?5pel5pys?= =?UTF-8?Q?_ok?=
Date: Sun, 17 Nov 2024 00:00:00 +0000

{m('b')}x
{e('b')}"""], f"""
ENVELOPE ("Sun, 17 Nov 2024 00:00:00 +0000" "Re: =?ISO-8859-1?Q?Caf=E9?= and =?UTF-8?B?5pel5pys?= =?UTF-8?Q?_ok?=" {addr3('(("=?utf-8?Q?Ren=C3=A9e?= Quoted =?utf-8?Q?Part?=" NIL "renee" "example.com"))')} ((NIL NIL "user" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:b@ @L:b@ NIL NIL NIL NIL)
SUBJECT Re: Café and 日本 ok
""")

SJ49 = "会議".encode("cp932")
# 49. A raw Shift_JIS Subject (8-bit, no encoded word): a literal holding the raw bytes.
msg("raw-sjis-header", ["""From: raw@example.jp
To: user@example.jp
Subject: """, SJ49, f"""
Date: Mon, 18 Nov 2024 00:00:00 +0900
Content-Type: text/plain; charset=Shift_JIS

{m('b')}""", "本文\n".encode("cp932"), e('b')], f"""
ENVELOPE ("Mon, 18 Nov 2024 00:00:00 +0900" {{4}}{{CR}}{{LF}}{{x89}}{{xEF}}{{x8B}}c {addr3('((NIL NIL "raw" "example.jp"))')} ((NIL NIL "user" "example.jp")) NIL NIL NIL NIL)
BODYSTRUCTURE ("text" "plain" ("charset" "Shift_JIS") NIL NIL "7bit" @S:b@ @L:b@ NIL NIL NIL NIL)
TEXT 1 本文{{CR}}{{LF}}
""")

# 50. A part header cut short by the next boundary, and an embedded message cut the same way.
msg("header-cut", [f"""From: cut@example.com
To: user@example.com
Subject: cut headers
Date: Tue, 19 Nov 2024 00:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="hc50"

{m('r')}--hc50
{m('1h')}Content-Type: text/html; charset=utf-8{e('1h')}
--hc50
{m('2h')}Content-Type: message/rfc822{e('2h')}
--hc50

{m('3')}last{e('3')}
--hc50--
{e('r')}"""], f"""
ENVELOPE ("Tue, 19 Nov 2024 00:00:00 +0000" "cut headers" {addr3('((NIL NIL "cut" "example.com"))')} ((NIL NIL "user" "example.com")) NIL NIL NIL NIL)
BODYSTRUCTURE (("text" "html" ("charset" "utf-8") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)("message" "rfc822" NIL NIL NIL "7bit" 0 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL) 0 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" @S:3@ @L:3@ NIL NIL NIL NIL) "mixed" ("boundary" "hc50") NIL NIL NIL)
SECTION 1.MIME @B:1h@
SECTION 1 
SECTION 2.MIME @B:2h@
SECTION 2 
SECTION 2.1 
SECTION 3 @B:3@
""")
