/* test-imap-search.c: the SEARCH argument parser (imap-search.c) on arguments produced by the
 * real command parser: every key, RETURN options, CHARSET conversion and BADCHARSET, the
 * limits, syntax errors, and the resolution of sequence sets, UID sets, "$" and \Recent
 * against a view. */
#include <stdint.h>
#include <stdlib.h>

#include "imap/imap-parser.h"
#include "imap/imap-search.h"
#include "lib/buf.h"
#include "lib/pool.h"
#include "lib/test.h"

static struct pool *tp;

/* a view of 10 messages: UIDs 10, 20, ... 100; 90 and 100 recent; "$" holds 20, 30, 100 */
static const uint32_t view_uids[10] = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100};
static const uint8_t view_flags[10] = {0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x80};
static const uint32_t saved[3] = {20, 30, 100};

static const struct imap_parsed *parse_line(const char *args)
{
	static struct imap_parsed cmd;
	struct imap_parser_limits lim;
	imap_parser_limits_default(&lim);
	size_t alen = strlen(args);
	char *line = malloc(alen + 16);
	memcpy(line, "t SEARCH ", 9);
	memcpy(line + 9, args, alen);
	memcpy(line + 9 + alen, "\r\n", 3);
	struct imap_parser *p = imap_parser_create(&lim);
	struct imap_parser_error err;
	struct buf in;
	buf_init(&in, alen + 16);
	buf_append(&in, line, alen + 11);
	int ret = imap_parser_next(p, &in, tp, &cmd, &err);
	if (ret != 1)
		printf("  parse of '%s' failed\n", line);
	CHECK(ret == 1);
	imap_parser_destroy(&p);
	buf_free(&in);
	free(line);
	return &cmd;
}

static struct imap_search_query query;

/* The program as text after resolution against the view above, or "BAD: ..."/"NO [..]: ...". */
static const char *search(const char *args)
{
	const struct imap_parsed *cmd = parse_line(args);
	const char *resp, *code, *err;
	if (imap_search_parse(cmd->args, cmd->count, 0, tp, &query, &resp, &code, &err) < 0)
		return pool_printf(tp, "%s%s%s%s: %s", resp, code ? " [" : "", code ? code : "",
				   code ? "]" : "", err);
	imap_search_resolve(&query, view_uids, view_flags, 0x80, 10, saved, 3, tp);
	return imap_search_describe(query.root, tp);
}

static void test_simple_keys(void)
{
	CHECK_STR(search("ALL"), "(ALL)");
	CHECK_STR(search("all"), "(ALL)");
	CHECK_STR(search("SEEN"), "(FLAG 1)");
	CHECK_STR(search("UNSEEN"), "(NOT (FLAG 1))");
	CHECK_STR(search("ANSWERED UNANSWERED"), "(AND (FLAG 2) (NOT (FLAG 2)))");
	CHECK_STR(search("FLAGGED UNFLAGGED"), "(AND (FLAG 4) (NOT (FLAG 4)))");
	CHECK_STR(search("DELETED UNDELETED"), "(AND (FLAG 8) (NOT (FLAG 8)))");
	CHECK_STR(search("DRAFT UNDRAFT"), "(AND (FLAG 16) (NOT (FLAG 16)))");
	CHECK_STR(search("KEYWORD $Junk UNKEYWORD work"),
		  "(AND (KEYWORD $Junk) (NOT (KEYWORD work)))");
	CHECK_STR(search("LARGER 100 SMALLER 9223372036854775807"),
		  "(AND (LARGER 100) (SMALLER 9223372036854775807))");
	CHECK_STR(search("OLDER 3600 YOUNGER 1"), "(AND (OLDER 3600) (YOUNGER 1))");
}

static void test_dates(void)
{
	/* 1-Feb-1994 is day 8797 */
	CHECK_STR(search("SINCE 1-Feb-1994"), "(SINCE 8797)");
	CHECK_STR(search("BEFORE 01-feb-1994"), "(BEFORE 8797)");
	CHECK_STR(search("ON \"1-FEB-1994\""), "(ON 8797)");
	CHECK_STR(search("SENTBEFORE 1-Jan-1970 SENTON 31-Dec-1969 SENTSINCE 29-Feb-2000"),
		  "(AND (SENTBEFORE 0) (SENTON -1) (SENTSINCE 11016))");
	CHECK_STR(search("SINCE 29-Feb-2001"), "BAD: Invalid date (dd-Mon-yyyy)");
	CHECK_STR(search("SINCE 32-Jan-2001"), "BAD: Invalid date (dd-Mon-yyyy)");
	CHECK_STR(search("SINCE 0-Jan-2001"), "BAD: Invalid date (dd-Mon-yyyy)");
	CHECK_STR(search("SINCE 1-Foo-2001"), "BAD: Invalid date (dd-Mon-yyyy)");
	CHECK_STR(search("SINCE 1-Jan-01"), "BAD: Invalid date (dd-Mon-yyyy)");
	CHECK_STR(search("SINCE 001-Jan-2001"), "BAD: Invalid date (dd-Mon-yyyy)");
	CHECK_STR(search("SINCE"), "BAD: Search key needs a date");
	CHECK_STR(search("SINCE {10}\r\n1-Jan-2001"), "BAD: Search key needs a date");
}

static void test_text_keys(void)
{
	CHECK_STR(search("SUBJECT hello"), "(SUBJECT \"hello\")");
	CHECK_STR(search("FROM \"a b\" TO c CC d BCC e BODY f TEXT g"),
		  "(AND (FROM \"a b\") (TO \"c\") (CC \"d\") (BCC \"e\") (BODY \"f\") (TEXT \"g\"))");
	CHECK_STR(search("HEADER X-Spam \"\""), "(HEADER X-Spam \"\")");
	CHECK_STR(search("HEADER \"Message-ID\" <a@b>"), "(HEADER Message-ID \"<a@b>\")");
	CHECK_STR(search("SUBJECT {6}\r\n会議"), "(SUBJECT \"会議\")");
	CHECK_STR(search("SUBJECT \"会議\""), "(SUBJECT \"会議\")");
	CHECK_STR(search("SUBJECT NIL"), "(SUBJECT \"NIL\")");
	CHECK_STR(search("SUBJECT"), "BAD: Search key needs a string");
	CHECK_STR(search("SUBJECT (a)"), "BAD: Search key needs a string");
	CHECK_STR(search("HEADER X"), "BAD: Search key needs a string");
}

static void test_charsets(void)
{
	CHECK_STR(search("CHARSET UTF-8 SUBJECT \"会議\""), "(SUBJECT \"会議\")");
	CHECK_STR(search("CHARSET utf-8 SUBJECT x"), "(SUBJECT \"x\")");
	CHECK_STR(search("CHARSET \"US-ASCII\" SUBJECT x"), "(SUBJECT \"x\")");
	/* 会議 in ISO-2022-JP, Shift_JIS, EUC-JP */
	CHECK_STR(search("CHARSET ISO-2022-JP SUBJECT {10}\r\n\x1b$B2q5D\x1b(B"), "(SUBJECT \"会議\")");
	CHECK_STR(search("CHARSET Shift_JIS SUBJECT {4}\r\n\x89\xef\x8b\x63"), "(SUBJECT \"会議\")");
	CHECK_STR(search("CHARSET euc-jp SUBJECT {4}\r\n\xb2\xf1\xb5\xc4"), "(SUBJECT \"会議\")");
	/* CP932: ① from Shift_JIS */
	CHECK_STR(search("CHARSET SHIFT_JIS BODY {2}\r\n\x87\x40"), "(BODY \"①\")");
	CHECK_STR(search("CHARSET KOI8-R SUBJECT x"),
		  "NO [BADCHARSET (UTF-8 US-ASCII ISO-2022-JP Shift_JIS EUC-JP)]: Charset not supported");
	CHECK_STR(search("CHARSET"), "BAD: CHARSET needs a name");
	CHECK_STR(search("CHARSET UTF-8"), "BAD: SEARCH needs at least one search key");
	/* CHARSET after a key is no CHARSET */
	CHECK_STR(search("ALL CHARSET UTF-8"), "BAD: Unknown search key");
}

static void test_return(void)
{
	CHECK_STR(search("RETURN (MIN MAX) ALL"), "(ALL)");
	CHECK(query.has_return && query.ret == (IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX));
	CHECK_STR(search("RETURN () ALL"), "(ALL)");
	CHECK(query.has_return && query.ret == IMAP_SEARCH_RET_ALL);
	CHECK_STR(search("RETURN (count save all) SEEN"), "(FLAG 1)");
	CHECK(query.ret == (IMAP_SEARCH_RET_COUNT | IMAP_SEARCH_RET_SAVE | IMAP_SEARCH_RET_ALL));
	CHECK_STR(search("ALL"), "(ALL)");
	CHECK(!query.has_return && query.ret == 0);
	CHECK_STR(search("RETURN (PARTIAL 1:10) ALL"), "BAD: Unknown RETURN option");
	CHECK_STR(search("RETURN MIN ALL"), "BAD: RETURN needs a list of options");
	CHECK_STR(search("RETURN (SAVE) CHARSET FOO ALL"),
		  "NO [BADCHARSET (UTF-8 US-ASCII ISO-2022-JP Shift_JIS EUC-JP)]: Charset not supported");
	CHECK(query.ret == IMAP_SEARCH_RET_SAVE);
	CHECK_STR(search("RETURN (SAVE) CHARSET UTF-8 (OR $ 1,3:4) TEXT x"),
		  "(AND (OR (UIDS 20:30 100) (UIDS 10 30:40)) (TEXT \"x\"))");
}

static void test_structure(void)
{
	CHECK_STR(search("NOT SEEN"), "(NOT (FLAG 1))");
	CHECK_STR(search("OR SEEN DRAFT"), "(OR (FLAG 1) (FLAG 16))");
	CHECK_STR(search("OR (SEEN FLAGGED) NOT (DRAFT)"),
		  "(OR (AND (FLAG 1) (FLAG 4)) (NOT (FLAG 16)))");
	CHECK_STR(search("NOT NOT OR NOT SEEN OR DELETED DRAFT"),
		  "(NOT (NOT (OR (NOT (FLAG 1)) (OR (FLAG 8) (FLAG 16)))))");
	CHECK_STR(search("(((ALL)))"), "(ALL)");
	CHECK_STR(search("()"), "BAD: Empty parenthesised search keys");
	CHECK_STR(search("OR SEEN"), "BAD: Missing search key");
	CHECK_STR(search("NOT"), "BAD: Missing search key");
	CHECK_STR(search("FOO"), "BAD: Unknown search key");
	CHECK_STR(search("\"ALL\""), "BAD: Invalid search key");
	const char *resp0, *code0, *err0;
	CHECK(imap_search_parse(NULL, 0, 0, tp, &query, &resp0, &code0, &err0) < 0);
	CHECK_STR(err0, "SEARCH needs at least one search key");
	/* MODSEQ is parsed only with IMAP_SEARCH_FLAG_CONDSTORE (what the commands pass) */
	CHECK_STR(search("MODSEQ 5"), "BAD: MODSEQ needs CONDSTORE");
	const struct imap_parsed *cmd = parse_line("MODSEQ \"/flags/\\\\draft\" all 620162338");
	const char *resp, *code, *err;
	CHECK(imap_search_parse(cmd->args, cmd->count, IMAP_SEARCH_FLAG_CONDSTORE, tp, &query, &resp,
				&code, &err) == 0);
	CHECK_STR(imap_search_describe(query.root, tp), "(MODSEQ 620162338)");
	CHECK(query.has_modseq);
	/* mod-sequence-valzer = "0" / mod-sequence-value (RFC 7162 7) */
	cmd = parse_line("MODSEQ 0");
	CHECK(imap_search_parse(cmd->args, cmd->count, IMAP_SEARCH_FLAG_CONDSTORE, tp, &query, &resp,
				&code, &err) == 0);
	CHECK_STR(imap_search_describe(query.root, tp), "(MODSEQ 0)");
	/* above 2^63-1, a bad entry type, a missing value */
	static const char *const bad[] = {
		"MODSEQ 9223372036854775808", "MODSEQ \"/flags/\\\\seen\" own 5", "MODSEQ",
		"MODSEQ \"/flags/\\\\seen\" all", "MODSEQ -1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cmd = parse_line(bad[i]);
		CHECK(imap_search_parse(cmd->args, cmd->count, IMAP_SEARCH_FLAG_CONDSTORE, tp, &query,
					&resp, &code, &err) < 0);
		CHECK_STR(resp, "BAD");
	}
	cmd = parse_line("MODSEQ 9223372036854775807 NOT MODSEQ 5");
	CHECK(imap_search_parse(cmd->args, cmd->count, IMAP_SEARCH_FLAG_CONDSTORE, tp, &query, &resp,
				&code, &err) == 0);
	cmd = parse_line("SEEN");
	CHECK(imap_search_parse(cmd->args, cmd->count, IMAP_SEARCH_FLAG_CONDSTORE, tp, &query, &resp,
				&code, &err) == 0);
	CHECK(!query.has_modseq);
}

static void test_sets(void)
{
	CHECK_STR(search("1"), "(UIDS 10)");
	CHECK_STR(search("2:4"), "(UIDS 20:40)");
	CHECK_STR(search("4:2,7"), "(UIDS 20:40 70)");
	CHECK_STR(search("*"), "(UIDS 100)");
	CHECK_STR(search("9:*"), "(UIDS 90:100)");
	CHECK_STR(search("*:9"), "(UIDS 90:100)");
	/* beyond the mailbox: nothing (no BAD for a search) */
	CHECK_STR(search("11"), "(UIDS)");
	CHECK_STR(search("9:20"), "(UIDS 90:100)");
	CHECK_STR(search("1,3,2,5:6,4"), "(UIDS 10:60)");
	CHECK_STR(search("UID 15:35"), "(UIDS 15:35)");
	CHECK_STR(search("UID 200:*"), "(UIDS 100:200)");
	CHECK_STR(search("UID *"), "(UIDS 100)");
	CHECK_STR(search("UID 1,5,3"), "(UIDS 1 3 5)");
	CHECK_STR(search("$"), "(UIDS 20:30 100)");
	CHECK_STR(search("UID $"), "(UIDS 20:30 100)");
	CHECK_STR(search("RECENT"), "(UIDS 90:100)");
	CHECK_STR(search("NEW"), "(AND (UIDS 90:100) (NOT (FLAG 1)))");
	CHECK_STR(search("OLD"), "(NOT (UIDS 90:100))");
	CHECK_STR(search("0"), "BAD: Unknown search key");
	CHECK_STR(search("1:"), "BAD: Unknown search key");
	CHECK_STR(search("UID"), "BAD: UID needs a sequence set");
	CHECK_STR(search("UID x"), "BAD: UID needs a sequence set");
	CHECK_STR(search("UID \"1\""), "BAD: UID needs a sequence set");
	/* an empty view */
	const struct imap_parsed *cmd = parse_line("1:* UID 1:*");
	const char *resp, *code, *err;
	CHECK(imap_search_parse(cmd->args, cmd->count, 0, tp, &query, &resp, &code, &err) == 0);
	imap_search_resolve(&query, NULL, NULL, 0x80, 0, NULL, 0, tp);
	CHECK_STR(imap_search_describe(query.root, tp), "(AND (UIDS) (UIDS 0:1))");
}

static void test_limits(void)
{
	struct buf b;
	buf_init(&b, (size_t)-2);
	/* nesting: NOT x 100 is fine, 101 is not */
	for (int i = 0; i < 99; i++)
		buf_append_str(&b, "NOT ");
	buf_append_str(&b, "SEEN");
	CHECK(strncmp(search((const char *)b.data), "(NOT (NOT", 9) == 0);
	buf_reset(&b);
	for (int i = 0; i < 100; i++)
		buf_append_str(&b, "NOT ");
	buf_append_str(&b, "SEEN");
	CHECK_STR(search((const char *)b.data), "NO [LIMIT]: Search program nested too deeply");
	/* OR chains count too */
	buf_reset(&b);
	for (int i = 0; i < 150; i++)
		buf_append_str(&b, "OR SEEN ");
	buf_append_str(&b, "SEEN");
	CHECK_STR(search((const char *)b.data), "NO [LIMIT]: Search program nested too deeply");
	/* keys */
	buf_reset(&b);
	for (int i = 0; i < IMAP_SEARCH_KEYS_MAX; i++)
		buf_append_str(&b, "SEEN ");
	buf_append_str(&b, "ALL");
	CHECK_STR(search((const char *)b.data), "NO [LIMIT]: Too many search keys");
	/* strings */
	buf_reset(&b);
	buf_printf(&b, "BODY {%d}\r\n", IMAP_SEARCH_STRING_MAX + 1);
	for (int i = 0; i <= IMAP_SEARCH_STRING_MAX; i++)
		buf_append_byte(&b, 'x');
	CHECK_STR(search((const char *)b.data), "NO [LIMIT]: Search string too long");
	buf_free(&b);
}

int main(void)
{
	tp = pool_create(64 * 1024);
	TEST_RUN(test_simple_keys);
	TEST_RUN(test_dates);
	TEST_RUN(test_text_keys);
	TEST_RUN(test_charsets);
	TEST_RUN(test_return);
	TEST_RUN(test_structure);
	TEST_RUN(test_sets);
	TEST_RUN(test_limits);
	pool_destroy(&tp);
	return test_finish();
}
