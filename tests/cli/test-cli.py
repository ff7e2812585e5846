#!/usr/bin/python3
"""test-cli.py: the kura command line: config check, user add/passwd/del/list/import.

Checks exit statuses and messages, name validation (no control characters, no path
separators, nothing created outside the data dir), yescrypt hashes in the database (never the
password itself), and that imported Dovecot hashes ({SHA512-CRYPT}, {BLF-CRYPT}, {ARGON2ID},
{PLAIN}) log in through a running server.

Usage: test-cli.py [--kura BINARY]
"""
import ctypes
import ctypes.util
import os
import sqlite3
import sys
import warnings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import kura  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # noqa: E402  (deprecated in 3.11, still there; libxcrypt underneath)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def t_config_check_valid(srv):
    r = srv_cli_raw(srv, ["config", "check", srv.conf_path])
    assert r.returncode == 0, (r.returncode, r.stderr)


def bad_config_names_line(srv, body, lineno, what):
    path = write(os.path.join(srv.dir, "bad.conf"), body)
    r = srv_cli_raw(srv, ["config", "check", path])
    assert r.returncode != 0, "%s accepted: %r" % (what, r.stdout)
    assert ("%s:%d" % (path, lineno)) in r.stderr + r.stdout, \
        "%s: error does not name line %d: %r" % (what, lineno, r.stderr)


def t_config_check_unknown_key(srv):
    bad_config_names_line(srv, "# c\ndata_dir = /tmp/x\nno_such_key = 1\n", 3, "unknown key")


def t_config_check_bad_value(srv):
    bad_config_names_line(srv, "plaintext_auth = sometimes\n", 1, "bad plaintext_auth")


def t_config_check_idle_timeout_below_rfc(srv):
    # RFC 9051 5.4: the autologout timer is at least 30 minutes
    bad_config_names_line(srv, "\n\ntimeout_idle = 60\n", 3, "timeout_idle = 60")


def t_config_check_bad_listen(srv):
    bad_config_names_line(srv, "imap_listen = 127.0.0.1:99999\n", 1, "port 99999")


def t_config_check_not_a_number(srv):
    bad_config_names_line(srv, "login_processes = two\n", 1, "login_processes = two")


def t_config_check_missing_equals(srv):
    bad_config_names_line(srv, "log_level info\n", 1, "line without '='")


def t_config_check_lmtp_keys(srv):
    # every LMTP key with a good value, both listeners off
    path = write(os.path.join(srv.dir, "lmtp.conf"),
                 "lmtp_listen =\nlmtp_socket =\nlmtp_socket_mode = 0600\n"
                 "lmtp_socket_group = postfix\nlmtp_processes = 3\n"
                 "lmtp_detail_mailbox = no\nrecipient_delimiter = +-\n")
    r = srv_cli_raw(srv, ["config", "check", path])
    assert r.returncode == 0, (r.returncode, r.stderr)
    bad_config_names_line(srv, "\nlmtp_socket_mode = 999\n", 2, "lmtp_socket_mode = 999")
    bad_config_names_line(srv, "lmtp_socket_mode = 01777\n", 1, "lmtp_socket_mode = 01777")
    bad_config_names_line(srv, "lmtp_detail_mailbox = maybe\n", 1, "lmtp_detail_mailbox")
    bad_config_names_line(srv, "lmtp_listen = localhost\n", 1, "lmtp_listen without a port")
    bad_config_names_line(srv, "lmtp_processes = 0\n", 1, "lmtp_processes = 0")
    path = write(os.path.join(srv.dir, "bad.conf"), "recipient_delimiter = +@\n")
    r = srv_cli_raw(srv, ["config", "check", path])
    assert r.returncode != 0 and "recipient_delimiter" in r.stderr, (r.returncode, r.stderr)
    path = write(os.path.join(srv.dir, "bad.conf"), "lmtp_socket = /" + "x" * 120 + "\n")
    r = srv_cli_raw(srv, ["config", "check", path])
    assert r.returncode != 0 and "lmtp_socket" in r.stderr, (r.returncode, r.stderr)


def t_config_check_missing_file(srv):
    r = srv_cli_raw(srv, ["config", "check", os.path.join(srv.dir, "nope.conf")])
    assert r.returncode != 0, r.stdout


def srv_cli_raw(srv, args, stdin=""):
    import subprocess
    return subprocess.run([srv.binary] + args, input=stdin, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=60 * kura.SLOW)


def users(srv):
    r = srv.cli("user", "list")
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def t_user_add_list_del(srv):
    srv.user_add("erin", "erin-pw")
    assert "erin" in users(srv), users(srv)
    r = srv.cli("user", "add", "erin", stdin="other\n")
    assert r.returncode != 0, "duplicate add accepted"
    r = srv.cli("user", "add", "ERIN", stdin="other\n")
    assert r.returncode != 0, "ERIN accepted beside erin (names fold ASCII case)"
    srv.user_passwd("erin", "erin-pw-2")
    srv.user_del("erin")
    assert "erin" not in users(srv)
    r = srv.cli("user", "del", "erin")
    assert r.returncode != 0, "deleting a missing user succeeded"
    r = srv.cli("user", "passwd", "erin", stdin="x\n")
    assert r.returncode != 0, "passwd of a missing user succeeded"


def t_user_add_empty_password(srv):
    r = srv.cli("user", "add", "frank", stdin="\n")
    assert r.returncode != 0, "empty password accepted"
    assert "frank" not in users(srv)


def t_user_invalid_names(srv):
    before = set(os.listdir(srv.dir))
    bad = ["a/b", "../evil", "..", ".", "a\\b", "a:b", "a b", "a\tb", "a\x01b", "a\x7fb",
           "-x", "", "u" * 256, "a\u00a0b"]
    for name in bad:
        r = srv.cli("user", "add", name, stdin="pw\n")
        assert r.returncode != 0, "invalid name %r accepted" % name
    assert set(os.listdir(srv.dir)) == before, "files appeared: %s" % (
        set(os.listdir(srv.dir)) - before)
    assert not os.path.exists(os.path.join(os.path.dirname(srv.dir), "evil"))
    listed = users(srv)
    for name in bad:
        assert name not in listed or name == "", "%r listed" % name


def t_user_password_hashed(srv):
    secret = "Very-Unique-Password-7781"
    srv.user_add("gina", secret)
    db = os.path.join(srv.data_dir, "users.db")
    raw = b""
    for suffix in ("", "-wal"):
        try:
            with open(db + suffix, "rb") as f:
                raw += f.read()
        except OSError:
            pass
    assert secret.encode() not in raw, "the password is stored in clear"
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    found = False
    for (table,) in con.execute("select name from sqlite_master where type='table'"):
        for row in con.execute('select * from "%s"' % table):
            if any(isinstance(v, str) and v.startswith("$y$") for v in row):
                found = True
    con.close()
    assert found, "no yescrypt ($y$) hash in users.db"
    mode = os.stat(db).st_mode & 0o777
    assert mode & 0o077 == 0, "users.db mode %o readable by others" % mode


def argon2id_hash(password):
    """An Argon2id hash through libargon2 (the library kura links)."""
    name = ctypes.util.find_library("argon2") or "libargon2.so.1"
    lib = ctypes.CDLL(name)
    out = ctypes.create_string_buffer(256)
    salt = b"somesaltsomesalt"
    pw = password.encode()
    rc = lib.argon2id_hash_encoded(ctypes.c_uint32(2), ctypes.c_uint32(1 << 12),
                                   ctypes.c_uint32(1), pw, ctypes.c_size_t(len(pw)), salt,
                                   ctypes.c_size_t(len(salt)), ctypes.c_size_t(32), out,
                                   ctypes.c_size_t(len(out)))
    assert rc == 0, "argon2id_hash_encoded failed: %d" % rc
    return out.value.decode()


IMPORTED = {
    "sha512user": ("{SHA512-CRYPT}", "sha-pw-1", lambda p: crypt.crypt(
        p, crypt.mksalt(crypt.METHOD_SHA512))),
    "blfuser": ("{BLF-CRYPT}", "blf-pw-2", lambda p: crypt.crypt(
        p, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1 << 5))),
    "argonuser": ("{ARGON2ID}", "argon-pw-3", argon2id_hash),
    "plainuser": ("{PLAIN}", "plain-pw-4", lambda p: p),
}


def t_user_import_dovecot(srv):
    lines = ["# dovecot passwd-file", ""]
    for name, (scheme, pw, fn) in sorted(IMPORTED.items()):
        lines.append("%s:%s%s:1000:1000::/home/%s::" % (name, scheme, fn(pw), name))
    path = write(os.path.join(srv.dir, "passwd"), "\n".join(lines) + "\n")
    r = srv.cli("user", "import", path)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    listed = users(srv)
    for name in IMPORTED:
        assert name in listed, (name, listed)
        srv.users[name] = IMPORTED[name][1]


def t_user_import_bad_line_changes_nothing(srv):
    path = write(os.path.join(srv.dir, "passwd-bad"),
                 "good1:{PLAIN}pw1\nbad/name:{PLAIN}pw2\n")
    r = srv.cli("user", "import", path)
    assert r.returncode != 0, "import with a bad line succeeded"
    assert ":2" in r.stderr or "line 2" in r.stderr, "error does not name line 2: %r" % r.stderr
    assert "good1" not in users(srv), "partial import"
    path = write(os.path.join(srv.dir, "passwd-bad2"), "x:{NO-SUCH-SCHEME}abc\n")
    r = srv.cli("user", "import", path)
    assert r.returncode != 0, "unknown scheme accepted"


def t_imported_users_log_in(srv):
    """With the server running: each imported hash verifies over LOGIN and PLAIN; a wrong
    password fails."""
    for name, (scheme, pw, _) in sorted(IMPORTED.items()):
        c = srv.connect("tls")
        r = c.command("LOGIN %s %s" % (name, kura.imap_quote(pw + "x")), tag="a")
        assert r[-1].startswith(b"a NO"), "%s %s wrong password: %r" % (scheme, name, r)
        r = c.command("LOGIN %s %s" % (name, kura.imap_quote(pw)), tag="b")
        assert r[-1].startswith(b"b OK"), "%s %s: %r" % (scheme, name, r)
        c.close()
        c = srv.connect("tls")
        r = c.command("AUTHENTICATE PLAIN %s" % kura.b64("\0%s\0%s" % (name, pw)), tag="c")
        assert r[-1].startswith(b"c OK"), "%s %s PLAIN: %r" % (scheme, name, r)
        c.close()


def t_user_case_folding_login(srv):
    c = srv.connect("tls")
    r = c.command("LOGIN GINA Very-Unique-Password-7781", tag="a")
    assert r[-1].startswith(b"a OK"), r
    c.close()


def main():
    binary, _ = kura.binary_from_argv(sys.argv[1:])
    res = kura.Results()
    if not os.access(binary, os.X_OK):
        res.fail("kura binary %s is missing" % binary)
        return res.summary()
    if kura.is_san_binary(binary):
        kura.SLOW = max(kura.SLOW, 3.0)
    srv = kura.Server(binary, name="cli")
    offline = [t_config_check_valid, t_config_check_unknown_key, t_config_check_bad_value,
               t_config_check_idle_timeout_below_rfc, t_config_check_bad_listen,
               t_config_check_not_a_number, t_config_check_missing_equals,
               t_config_check_lmtp_keys, t_config_check_missing_file, t_user_add_list_del,
               t_user_add_empty_password,
               t_user_invalid_names, t_user_password_hashed, t_user_import_dovecot,
               t_user_import_bad_line_changes_nothing]
    for fn in offline:
        res.run(fn.__name__[2:], fn, srv)
    try:
        srv.users = {}
        srv.start()
        for fn in (t_imported_users_log_in, t_user_case_folding_login):
            res.run(fn.__name__[2:], fn, srv)
        status = srv.stop()
    except (kura.TestError, OSError) as e:
        res.fail("server with CLI-made users", "%s\n%s" % (e, srv.log_tail()))
        status = None
    srv.finish(res, status)
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
