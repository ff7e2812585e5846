"""cases.py: the hostile-input corpus for run-hostile.py (a Python data table).

A case is a dict: name, mode (plain | tls | auth | authplain | rawtls: TCP to the implicit
TLS port without a handshake | rawtls-queued: the same, with the login processes paused until
the ("resume",) step so the bytes sent before it are queued at accept time), steps, end, mem.
Steps: ("send", bytes) ("send_bg", bytes: sent while reading the answers) ("send_slow", bytes, delay)
("join",) (no-op) ("sleep", s)
("line", pattern | [patterns]) one response line must fully match (regex on the line decoded
as latin-1) ("opt", pattern) an optional line ("count", n, pattern) ("cont",) a continuation
("maybe_cont", bytes) send bytes if a continuation comes ("silence", s) ("starttls",)
("drain", pattern, max) lines matching pattern until 1 s of silence ("eof_any",) the server
closes (any bytes before, e.g. a TLS alert)
("starttls_fail",) ("disconnect",) / ("disconnect", "rst").
end: "usable" (default: x NOOP -> x OK next), "closed" (optional * BYE then EOF),
"either" (BAD + usable, or BYE/EOF), "client" (the case disconnects itself).
Expected answers follow RFC 9051: a syntax error is BAD, tagged when the tag was read
(section 7.1.3), untagged otherwise; a state error is BAD; a refused literal is NO/BAD
without a continuation (RFC 7888); an invalid SASL response or "*" is a tagged BAD (6.2.2).
"""
import random

TBAD = r"a BAD .+"
UBAD = r"\* BAD .+"
BAD = r"(a|\*) BAD .+"
NO = r"a NO .+"
BADNO = r"a (BAD|NO) .+"
OK = r"a OK .+"
BYE = r"\* BYE .+"
ANYBAD = r"([!-~]+|\*) BAD .+"   # a tag echoed back must be printable ASCII
CONT = r"\+( .*)?"

MB = 1024 * 1024
ALL_MODES = ("plain", "tls", "auth", "authplain")
PRE = ("plain", "tls")
POST = ("auth", "authplain")


def case(name, mode, steps, end="usable", mem=False, timeout=10):
    return {"name": name, "mode": mode, "steps": steps, "end": end, "mem": mem,
            "timeout": timeout}


def each(name, modes, steps, **kw):
    return [case(name, m, steps, **kw) for m in modes]


def simple(name, data, expect, modes=ALL_MODES, **kw):
    """Send data, expect one line matching expect, then the NOOP check."""
    return each(name, modes, [("send", data), ("line", expect)], **kw)


def idcase(name, data, modes, **kw):
    """An ID the server may accept (* ID then a OK) or refuse (a BAD)."""
    return each(name, modes, [("send", data), ("line", [r"\* ID .*", TBAD]), ("opt", OK)], **kw)


def garbage(seed, n):
    """Printable-free random bytes without CR, LF, '{' (so exactly one line, no literal)."""
    rnd = random.Random(seed)
    out = bytearray()
    while len(out) < n:
        b = rnd.randrange(1, 256)
        if b in (10, 13, ord("{")):
            continue
        out.append(b)
    return bytes(out)


def build():
    c = []

    # --- quoting ------------------------------------------------------------------------------
    c += simple("unbalanced-quote-user", b'a LOGIN "alice secret\r\n', TBAD, PRE)
    c += simple("unbalanced-quote-pass", b'a LOGIN alice "secret\r\n', TBAD, PRE)
    c += simple("unbalanced-quote-only", b'a LOGIN "\r\n', TBAD, PRE)
    c += simple("quote-escaped-at-eol", b'a LOGIN "ali\\"\r\n', TBAD, PRE)
    c += simple("quote-bad-escape", b'a LOGIN "a\\qb" x\r\n', TBAD, ("tls",))
    c += simple("quote-adjacent", b'a LOGIN ""alice"" x\r\n', TBAD, ("tls",))
    c += simple("quote-unbalanced-in-list", b'a ID ("name" "x)\r\n', TBAD, ALL_MODES)
    c += simple("quoted-command-name", b'a "NOOP"\r\n', TBAD, ALL_MODES)
    c += simple("quoted-tag", b'"a" NOOP\r\n', [UBAD, r'"a" BAD .+'], PRE)
    c += simple("quote-raw-cr-inside", b'a LOGIN "al\rice" x\r\n', TBAD, ("tls",))
    c += each("quote-raw-lf-inside", ("tls",),
              [("send", b'a LOGIN "al\nice" x\r\n'), ("line", TBAD),
               ("line", [UBAD, r'ice\S* BAD .+'])])
    c += simple("quoted-8bit-valid", b'a LOGIN "\xc3\xa9t\xc3\xa9" "x"\r\n', NO, ("tls",))
    c += simple("quoted-invalid-utf8", b'a LOGIN "\xff\xfe\xc0\xaf" "x"\r\n', [NO, TBAD],
                ("tls",))
    c += each("quoted-ctl-in-id", ("tls", "auth"),
              [("send", b'a ID ("name" "\x01\x1b[31mred\x7f")\r\n'), ("line", r"\* ID .*"),
               ("line", OK)])

    # --- NUL bytes ---------------------------------------------------------------------------
    c += simple("nul-after-command", b"a NOOP\x00\r\n", TBAD, ALL_MODES)
    c += simple("nul-in-tag", b"a\x00 NOOP\r\n", [UBAD, TBAD], PRE)
    c += simple("nul-only-line", b"\x00\x00\x00\r\n", UBAD, ALL_MODES)
    c += simple("nul-in-quoted", b'a LOGIN "al\x00ice" x\r\n', TBAD, ("tls", "auth"))
    c += each("nul-in-sync-literal", ("tls", "auth"),
              [("send", b"a LOGIN {5}\r\n"), ("cont",), ("send", b"al\x00ce x\r\n"),
               ("line", TBAD)])
    c += simple("nul-in-nonsync-literal", b"a LOGIN {5+}\r\nal\x00ce x\r\n", TBAD,
                ("tls", "auth"))
    c += simple("nul-in-id-value", b'a ID ("na\x00me" "x")\r\n', TBAD, ("tls",))
    c += simple("nul-in-command-name", b"a NO\x00OP\r\n", TBAD, ALL_MODES)

    # --- long lines and memory ---------------------------------------------------------------
    c += each("line-1mb-atom", ALL_MODES,
              [("send_bg", b"a NOOP " + b"x" * MB + b"\r\n"), ("line", [TBAD, UBAD]),
               ("join",)], mem=True)
    c += each("line-1mb-tag", PRE,
              [("send_bg", b"a" * MB + b" NOOP\r\n"), ("line", [UBAD, r"a+ BAD .+"]),
               ("join",)], mem=True)
    c += each("line-1mb-spaces", ("tls",),
              [("send_bg", b"a NOOP" + b" " * MB + b"\r\n"), ("line", [TBAD, UBAD]),
               ("join",)], mem=True)
    c += each("line-1mb-quoted", ("tls", "auth"),
              [("send_bg", b'a LOGIN "' + b"q" * MB + b'" y\r\n'), ("line", [TBAD, UBAD]),
               ("join",)], mem=True)
    c += each("line-8mb-no-crlf-then-crlf", ("tls", "authplain"),
              [("send_bg", b"a NOOP " + b"z" * (8 * MB) + b"\r\n"), ("line", [TBAD, UBAD]),
               ("join",)], mem=True, end="either", timeout=30)
    c += each("line-just-under-limit", ("tls",),
              [("send", b'a ID ("name" "' + b"v" * 60000 + b'")\r\n'),
               ("line", [r"\* ID .*", TBAD]), ("opt", OK)])
    c += simple("line-70k-over-limit", b"a NOOP " + b"w" * 70000 + b"\r\n", [TBAD, UBAD],
                ("tls", "auth"))
    c += each("line-flood-10000-noops", ("tls", "authplain"),
              [("send_bg", b"a NOOP\r\n" * 10000), ("count", 10000, OK), ("join",)],
              timeout=30)
    c += each("slow-byte-by-byte", ("plain", "auth"),
              [("send_slow", b"a NOOP\r\n", 0.02), ("line", OK)])

    # --- literals -----------------------------------------------------------------------------
    for n, size in (("2^63-1", b"9223372036854775807"), ("2^63", b"9223372036854775808"),
                    ("2^64-1", b"18446744073709551615"), ("2^64", b"18446744073709551616"),
                    ("huge-digits", b"9" * 40)):
        c += simple("literal-sync-%s" % n, b"a LOGIN {" + size + b"}\r\n", BADNO,
                    ("tls", "auth"))
    c += each("literal-nonsync-2^63-1", ("tls", "auth"),
              [("send", b"a LOGIN {9223372036854775807+}\r\n"), ("line", [BADNO, BYE])],
              end="either")
    c += each("literal-nonsync-2^64", ("tls",),
              [("send", b"a LOGIN {18446744073709551616+}\r\n"), ("line", [BADNO, BYE])],
              end="either")
    c += simple("literal-sync-100mb", b"a LOGIN {100000000}\r\n", BADNO, ("tls", "auth"),
                mem=True)
    c += each("literal-nonsync-20mb-sent", ("tls", "authplain"),
              [("send_bg", b"a LOGIN {20000000+}\r\n" + b"L" * 20000000 + b" x\r\n"),
               ("line", [BADNO, BYE]), ("join",)], end="either", mem=True, timeout=60)
    c += simple("literal-empty-nonsync", b"a LOGIN {0+}\r\n {0+}\r\n\r\n", BADNO, ("tls",))
    c += each("literal-sync-then-disconnect", ("tls", "auth", "plain"),
              [("send", b"a LOGIN {5}\r\n"), ("cont",), ("disconnect",)], end="client")
    c += each("literal-partial-then-disconnect", ("tls", "authplain"),
              [("send", b"a LOGIN {5}\r\n"), ("cont",), ("send", b"ali"), ("disconnect",)],
              end="client")
    c += each("literal-nonsync-partial-then-rst", ("tls", "plain"),
              [("send", b"a LOGIN {5+}\r\nab"), ("disconnect", "rst")], end="client")
    for n, lit in (("negative", b"{-1}"), ("space", b"{ 5}"), ("plus-plus", b"{5++}"),
                   ("hex", b"{0x10}"), ("exponent", b"{1e3}"), ("empty", b"{}"),
                   ("plus-digits", b"{5+5}"), ("minus-sign", b"{5-}")):
        c += simple("literal-bad-size-%s" % n, b"a LOGIN " + lit + b"\r\n", TBAD, ("tls",))
    c += simple("literal-garbage-after-brace", b"a LOGIN {5}x\r\n", TBAD, ("tls", "auth"))
    c += simple("literal-not-at-eol", b"a LOGIN {5} foo\r\n", TBAD, ("tls",))
    c += each("literal-leading-zeros", ("tls",),
              [("send", b"a LOGIN {05}\r\n"), ("cont",), ("send", b"nouse x\r\n"),
               ("line", NO)])
    c += simple("literal-5000-nonsync-user", b"a LOGIN {5000+}\r\n" + b"u" * 5000 + b" x\r\n",
                BADNO, ("tls",))
    c += idcase("literal-many-in-id",
                b"a ID (" + b" ".join(b"{1+}\r\nk {1+}\r\nv" for _ in range(20)) + b")\r\n",
                ("tls", "auth"))
    c += simple("literal-as-tag", b"{5}\r\n", UBAD, ALL_MODES)
    c += simple("literal-as-command", b"a {4+}\r\nNOOP\r\n", TBAD, ("tls", "auth"))
    c += simple("literal8-in-login", b"a LOGIN ~{5+}\r\nalice x\r\n", TBAD, ("tls",))
    c += each("literal-sync-data-without-waiting", ("tls",),
              [("send", b"a LOGIN {5}\r\nnouse x\r\n"), ("opt", CONT), ("line", NO)])
    c += each("literal-in-wrong-state-append", ("tls",),
              [("send", b"a APPEND INBOX {5}\r\n"), ("maybe_cont", b"hello\r\n"),
               ("line", TBAD)])

    # --- SASL --------------------------------------------------------------------------------
    def sasl(name, ir_or_lines, expect=TBAD, modes=("tls",), mech=b"PLAIN", **kw):
        steps = [("send", b"a AUTHENTICATE " + mech + b"\r\n"), ("cont",)]
        for l in ir_or_lines:
            steps.append(("send", l + b"\r\n"))
        steps.append(("line", expect))
        return each(name, modes, steps, **kw)

    c += sasl("sasl-invalid-base64-chars", [b"!!!!"])
    c += sasl("sasl-base64-with-space", [b"AGFs aWNl"])
    c += sasl("sasl-base64-no-padding", [b"AGFsaWNlAGFsaWNlAHg"])
    c += sasl("sasl-base64-pad-in-middle", [b"QQ==QQ=="])
    c += sasl("sasl-base64-urlsafe", [b"AGFs-_Nl"])
    c += sasl("sasl-base64-only-padding", [b"===="])
    c += sasl("sasl-cancel-star", [b"*"])
    c += sasl("sasl-cancel-star-login-user", [b"*"], mech=b"LOGIN")
    c += sasl("sasl-nul-in-response", [b"AGFs\x00aWNl"])
    c += sasl("sasl-8bit-in-response", [b"\xff\xfe\xfd\xfc"])
    c += sasl("sasl-empty-response-plain", [b""], expect=[NO, TBAD])
    c += sasl("sasl-plain-8bit-decoded", [b"/wD+AP0="], expect=[NO, TBAD])
    c += sasl("sasl-login-invalid-base64-user", [b"@@@"], mech=b"LOGIN")
    c += each("sasl-login-cancel-at-password", ("tls",),
              [("send", b"a AUTHENTICATE LOGIN\r\n"), ("cont",), ("send", b"YWxpY2U=\r\n"),
               ("cont",), ("send", b"*\r\n"), ("line", TBAD)])
    c += sasl("sasl-scram-invalid-base64", [b"n,,n=x,r=abc"], mech=b"SCRAM-SHA-256")
    c += sasl("sasl-scram-garbage", [b"Z2FyYmFnZQ=="], mech=b"SCRAM-SHA-256",
              expect=[TBAD, NO])
    c += sasl("sasl-response-100k", [b"QUFB" * 25000], expect=[TBAD, NO], mem=True)
    c += each("sasl-response-1mb", ("tls",),
              [("send", b"a AUTHENTICATE PLAIN\r\n"), ("cont",),
               ("send_bg", b"QUFB" * (MB // 4) + b"\r\n"), ("line", [TBAD, NO, UBAD]),
               ("join",)], mem=True, end="either")
    c += simple("sasl-ir-invalid", b"a AUTHENTICATE PLAIN @@@\r\n", TBAD)
    c += simple("sasl-ir-star", b"a AUTHENTICATE PLAIN *\r\n", TBAD, ("tls",))
    c += simple("sasl-ir-equals-padding-only", b"a AUTHENTICATE PLAIN ====\r\n", TBAD,
                ("tls",))
    c += simple("sasl-ir-extra-arg", b"a AUTHENTICATE PLAIN AGFsaWNlAHg= extra\r\n", TBAD,
                ("tls",))
    c += simple("sasl-mechanism-quoted", b'a AUTHENTICATE "PLAIN"\r\n', TBAD, ("tls",))
    c += simple("sasl-mechanism-nul", b"a AUTHENTICATE PL\x00AIN\r\n", TBAD, ("tls",))
    c += simple("sasl-mechanism-10k", b"a AUTHENTICATE " + b"M" * 10000 + b"\r\n", [NO, TBAD],
                ("tls",))
    c += simple("sasl-mechanism-list", b"a AUTHENTICATE (PLAIN)\r\n", TBAD, ("tls",))
    c += each("sasl-disconnect-at-continuation", ("tls", "plain"),
              [("send", b"a AUTHENTICATE PLAIN\r\n"), ("line", [CONT, NO]), ("disconnect",)],
              end="client")
    c += each("sasl-pipelined-command-as-response", ("tls",),
              [("send", b"a AUTHENTICATE PLAIN\r\nb NOOP\r\n"), ("cont",), ("line", TBAD)])
    c += simple("sasl-authenticate-after-login", b"a AUTHENTICATE PLAIN AGFsaWNlAHg=\r\n",
                TBAD, POST)

    # --- STARTTLS ----------------------------------------------------------------------------
    c += each("starttls-pipelined-capability", ("plain",),
              [("send", b"a STARTTLS\r\nb CAPABILITY\r\n"), ("line", OK), ("starttls",),
               ("silence", 1.0)])
    c += each("starttls-pipelined-login", ("plain",),
              [("send", b"a STARTTLS\r\nb LOGIN mallory m4ll0ry-pass\r\n"), ("line", OK),
               ("starttls",), ("silence", 1.0), ("send", b"c ENABLE IMAP4rev2\r\n"),
               ("line", r"c BAD .+")])
    c += each("starttls-pipelined-starttls", ("plain",),
              [("send", b"a STARTTLS\r\nb STARTTLS\r\n"), ("line", OK), ("starttls",),
               ("silence", 1.0)])
    c += each("starttls-pipelined-garbage", ("plain",),
              [("send", b"a STARTTLS\r\n\x00\xff garbage {5}\r\n"), ("line", OK),
               ("starttls",), ("silence", 1.0)])
    c += each("starttls-before-pipelined-noop", ("plain",),
              [("send", b"a NOOP\r\nb STARTTLS\r\nc NOOP\r\n"), ("line", OK),
               ("line", r"b OK .+"), ("starttls",), ("silence", 1.0)])
    c += each("starttls-then-plaintext-not-tls", ("plain",),
              [("send", b"a STARTTLS\r\n"), ("line", OK), ("send", b"b NOOP\r\n"),
               ("eof_any",)], end="client")
    c += each("starttls-then-disconnect", ("plain",),
              [("send", b"a STARTTLS\r\n"), ("line", OK), ("disconnect",)], end="client")
    c += each("starttls-repeated-after-tls", ("plain",),
              [("send", b"a STARTTLS\r\n"), ("line", OK), ("starttls",),
               ("send", b"b STARTTLS\r\nc STARTTLS\r\nd STARTTLS\r\n"), ("line", r"b BAD .+"),
               ("line", r"c BAD .+"), ("line", r"d BAD .+")])
    c += simple("starttls-on-implicit-tls", b"a STARTTLS\r\n", TBAD, ("tls",))
    c += simple("starttls-after-login", b"a STARTTLS\r\n", TBAD, POST)
    c += simple("starttls-with-args", b"a STARTTLS x\r\n", TBAD, ("plain",))
    c += each("implicit-tls-port-plaintext", ("rawtls",),
              [("send", b"a NOOP\r\n"), ("eof_any",)], end="client")
    c += each("implicit-tls-port-half-clienthello", ("rawtls",),
              [("send", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 20),
               ("disconnect", "rst")], end="client")
    # the same with the bytes already queued when the login process accepts the connection
    c += each("implicit-tls-queued-plaintext", ("rawtls-queued",),
              [("send", b"a NOOP\r\n"), ("resume",), ("eof_any",)], end="client")
    c += each("implicit-tls-queued-bogus-record", ("rawtls-queued",),
              [("send", b"\x16\x03\x03\xff\xff" + b"\xaa" * 1000), ("resume",), ("eof_any",)],
              end="client")
    c += each("implicit-tls-queued-sslv2-hello", ("rawtls-queued",),
              [("send", b"\x80\x2e\x01\x00\x02\x00\x15\x00\x00\x00\x10" + b"\x00" * 21
                + b"\x11" * 16), ("resume",), ("eof_any",)], end="client")
    c += each("implicit-tls-queued-disconnect", ("rawtls-queued",),
              [("send", b"\x16\x03\x01\x02\x00\x01"), ("disconnect", "rst"), ("resume",)],
              end="client")
    c += each("implicit-tls-port-bogus-record", ("rawtls",),
              [("send", b"\x16\x03\x03\xff\xff" + b"\xaa" * 1000), ("eof_any",)],
              end="client")
    c += each("login-before-starttls-then-tls", ("plain",),
              [("send", b"a LOGIN mallory wrong\r\nb STARTTLS\r\n"), ("line", [NO, OK]),
               ("line", [r"b OK .+", NO]), ("starttls",), ("silence", 0.5)])

    # --- tags ----------------------------------------------------------------------------------
    c += simple("tag-10k", b"t" * 10000 + b" NOOP\r\n", [r"t{10000} (OK|BAD) .+", UBAD], PRE)
    c += simple("tag-100k-over-limit", b"t" * 100000 + b" NOOP\r\n", [UBAD, r"t+ BAD .+"],
                ("tls",))
    c += simple("tag-plus", b"+ NOOP\r\n", UBAD, ALL_MODES)
    c += simple("tag-star", b"* NOOP\r\n", UBAD, ALL_MODES)
    # The tag ends at the first non-tag character: tagged BAD with the valid prefix or
    # untagged BAD are both fine, echoing the invalid character is not.
    c += simple("tag-paren", b"a( NOOP\r\n", [UBAD, TBAD], PRE)
    c += simple("tag-brace", b"a{ NOOP\r\n", [UBAD, TBAD], PRE)
    c += simple("tag-percent", b"a% NOOP\r\n", [UBAD, TBAD], PRE)
    c += simple("tag-backslash", b"a\\ NOOP\r\n", [UBAD, TBAD], PRE)
    c += simple("tag-8bit", b"t\xff NOOP\r\n", [UBAD, r"t BAD .+"], PRE)
    c += simple("tag-ctl", b"t\x07 NOOP\r\n", [UBAD, r"t BAD .+"], PRE)
    c += simple("tag-quote", b't" NOOP\r\n', [UBAD, r"t BAD .+"], PRE)
    c += simple("leading-space", b" a NOOP\r\n", UBAD, ALL_MODES)
    c += simple("tab-separator", b"a\tNOOP\r\n", [UBAD, TBAD], PRE)
    c += simple("double-space", b"a  NOOP\r\n", TBAD, ALL_MODES)
    c += simple("trailing-space", b"a NOOP \r\n", TBAD, ALL_MODES)

    # --- 8-bit garbage -------------------------------------------------------------------------
    for seed in range(4):
        c += simple("garbage-line-seed%d" % seed, garbage(seed, 200) + b"\r\n", ANYBAD,
                    ("tls", "auth") if seed % 2 else ("plain", "authplain"))
    c += simple("garbage-after-tag", b"a " + garbage(99, 300) + b"\r\n", TBAD, ("tls", "auth"))
    c += simple("utf8-command-name", "a NÖÖP\r\n".encode("utf-8"), TBAD, ALL_MODES)
    c += simple("del-in-atom", b"a NO\x7fOP\r\n", TBAD, ("tls",))
    c += simple("ansi-escape-command", b"a \x1b[2J\x1b[31mNOOP\r\n", TBAD, ("tls",))
    c += simple("tls-record-on-plain-port", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n",
                UBAD, ("plain",))
    c += each("http-request-on-plain-port", ("plain",),
              [("send", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), ("line", r"GET BAD .+|\* BAD .+"),
               ("line", r"Host: BAD .+|\* BAD .+"), ("opt", r"\* BAD .+")])

    # --- CR and LF ----------------------------------------------------------------------------
    c += simple("cr-without-lf", b"a NOOP\rb NOOP\r\n", [TBAD, UBAD], ALL_MODES)
    c += simple("cr-cr-lf", b"a NOOP\r\r\n", [TBAD, UBAD], ("tls", "auth"))
    c += simple("bare-lf", b"a NOOP\n", [OK, TBAD], ("tls", "authplain"))
    c += each("empty-line", ("tls", "auth"), [("send", b"\r\n"), ("opt", UBAD)])
    c += each("empty-lines-1000", ("tls",),
              [("send", b"\r\n" * 1000), ("drain", UBAD, 1000)])
    c += each("cr-then-disconnect", ("plain", "auth"),
              [("send", b"a NOOP\r"), ("disconnect",)], end="client")

    # --- parentheses ----------------------------------------------------------------------------
    c += simple("parens-open-10000", b"a ID " + b"(" * 10000 + b"\r\n", [TBAD, UBAD], ALL_MODES)
    c += simple("parens-nested-100-balanced", b"a ID " + b"(" * 100 + b")" * 100 + b"\r\n",
                TBAD, ("tls", "auth"))
    c += simple("parens-close-only", b"a ID )\r\n", TBAD, ("tls", "auth"))
    c += simple("parens-unbalanced-close", b'a ID ("a" "b"))\r\n', TBAD, ("tls",))
    c += simple("parens-status-nested", b"a STATUS INBOX " + b"(" * 5000 + b"\r\n",
                [TBAD, UBAD], POST)
    c += each("parens-1mb", ("tls",),
              [("send_bg", b"a ID " + b"(" * MB + b"\r\n"), ("line", [TBAD, UBAD]), ("join",)],
              mem=True)

    # --- many arguments -------------------------------------------------------------------------
    c += simple("args-20000-noop", b"a NOOP" + b" x" * 20000 + b"\r\n", [TBAD, UBAD],
                ("tls", "auth"))
    c += simple("args-login-100", b"a LOGIN" + b" x" * 100 + b"\r\n", TBAD, ("tls",))
    c += simple("args-list-20000", b"a ID (" + b" ".join([b'"k" "v"'] * 10000) + b")\r\n",
                [TBAD, UBAD], ("tls",))
    c += each("id-1000-pairs", ("tls", "auth"),
              [("send", b"a ID (" + b" ".join(b'"k%d" "v"' % i for i in range(1000)) + b")\r\n"),
               ("line", [r"\* ID .*", TBAD]), ("opt", OK)])

    # --- unknown and wrong-state commands --------------------------------------------------------
    c += simple("unknown-command", b"a XYZZY\r\n", TBAD, ALL_MODES)
    c += simple("unknown-command-10k-name", b"a " + b"X" * 10000 + b"\r\n", TBAD, ("tls",))
    c += simple("uid-alone", b"a UID\r\n", TBAD, ALL_MODES)
    c += simple("uid-unknown", b"a UID XYZZY 1\r\n", TBAD, ("tls", "auth"))
    c += simple("login-prefix", b"a LOGINX alice x\r\n", TBAD, ("tls",))
    c += simple("capability-suffix", b"a CAPABILITY2\r\n", TBAD, ("tls",))
    c += simple("select-before-login", b"a SELECT INBOX\r\n", TBAD, PRE)
    c += simple("enable-before-login", b"a ENABLE IMAP4rev2\r\n", TBAD, PRE)
    c += simple("idle-before-login", b"a IDLE\r\n", TBAD, PRE)
    c += simple("done-alone", b"DONE\r\n", [UBAD, r"DONE BAD .+"], ("tls", "auth"))
    c += simple("uid-fetch-before-login", b"a UID FETCH 1:* FLAGS\r\n", TBAD, PRE)
    c += simple("login-after-login", b"a LOGIN mallory m4ll0ry-pass\r\n", TBAD, POST)
    c += simple("fetch-without-mailbox", b"a FETCH 1:* (FLAGS BODY[])\r\n", TBAD, POST)
    c += simple("expunge-without-mailbox", b"a EXPUNGE\r\n", TBAD, POST)

    # --- ID ---------------------------------------------------------------------------------------
    c += idcase("id-huge-field-name", b'a ID ("' + b"n" * 10000 + b'" "v")\r\n', ("tls",))
    c += each("id-huge-value-literal", ("tls", "auth"),
              [("send", b'a ID ("name" {100000}\r\n'), ("maybe_cont", b"v" * 100000 + b")\r\n"),
               ("line", [r"\* ID .*", BADNO]), ("opt", OK)], mem=True)
    c += idcase("id-31-pairs", b"a ID (" + b" ".join(b'"f%d" "v"' % i for i in range(31))
                + b")\r\n", ("tls",))
    c += idcase("id-nil-in-list", b"a ID (NIL NIL)\r\n", ("tls",))
    c += idcase("id-empty-list", b"a ID ()\r\n", ("tls",))

    # --- LOGIN argument forms ------------------------------------------------------------------
    c += simple("login-no-args", b"a LOGIN\r\n", TBAD, ("tls",))
    c += simple("login-one-arg", b"a LOGIN mallory\r\n", TBAD, ("tls",))
    c += simple("login-list-arg", b"a LOGIN (mallory) x\r\n", TBAD, ("tls",))
    c += simple("login-empty-quoted", b'a LOGIN "" ""\r\n', NO, ("tls",))
    c += simple("login-nil-user", b"a LOGIN NIL NIL\r\n", [NO, TBAD], ("tls",))
    c += simple("login-path-traversal", b'a LOGIN "../../etc/passwd" x\r\n', NO, ("tls",))
    c += simple("login-slash-user", b'a LOGIN "a/b" x\r\n', NO, ("tls",))
    c += simple("login-ctl-user", b'a LOGIN "a\x01b" x\r\n', [NO, TBAD], ("tls",))
    c += simple("login-long-user", b'a LOGIN "' + b"u" * 4000 + b'" x\r\n', [NO, TBAD],
                ("tls",))
    c += simple("login-percent-user", b'a LOGIN "%s%n%s%n" x\r\n', NO, ("tls",))

    # --- connection-level abuse ------------------------------------------------------------------
    c += each("disconnect-mid-command", ("tls", "auth", "authplain"),
              [("send", b"a LOG"), ("disconnect", "rst")], end="client")
    c += each("disconnect-immediately", ("plain", "tls"), [("disconnect", "rst")], end="client")
    c += each("logout-with-trailing-garbage", ("tls", "auth"),
              [("send", b"a LOGOUT\r\n\x00\xff garbage\r\n"), ("line", BYE), ("line", OK)],
              end="closed")
    return c
