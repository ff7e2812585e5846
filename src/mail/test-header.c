/* test-header.c: unit tests for header field iteration, unfolding and address-list parsing. */
#include <stdlib.h>

#include "lib/buf.h"
#include "lib/pool.h"
#include "lib/test.h"
#include "mail/address.h"
#include "mail/header.h"

#define S(lit) lit, sizeof(lit) - 1
#define CHECK_LIT(a, alen, lit) CHECK_MEM(a, alen, lit, sizeof(lit) - 1)

static void test_header_iter(void)
{
	static const char hdr[] = "From: a@b\r\n"
				  "Subject: hello\r\n"
				  " world\r\n"
				  "\tagain\r\n"
				  "X-Empty:\r\n"
				  "Obs-Name  : value\r\n"
				  "no colon here\r\n"
				  "From abc Mon Jan 1 00:00:00 2001\r\n"
				  "To: c@d\n"
				  "\r\n"
				  "Body: not a header\r\n";
	struct mail_header_iter it;
	struct mail_header_field f;
	mail_header_iter_init(&it, hdr, sizeof(hdr) - 1);
	CHECK(mail_header_iter_next(&it, &f) == 1);
	CHECK_MEM(f.name, f.name_len, "From", 4);
	CHECK_MEM(f.value, f.value_len, " a@b", 4);
	CHECK(f.offset == 0 && f.size == 11);
	CHECK(mail_header_iter_next(&it, &f) == 1);
	CHECK_MEM(f.name, f.name_len, "Subject", 7);
	CHECK_LIT(f.value, f.value_len, " hello\r\n world\r\n\tagain");
	CHECK(f.size == sizeof("Subject: hello\r\n world\r\n\tagain\r\n") - 1);
	CHECK(mail_header_iter_next(&it, &f) == 1);
	CHECK_MEM(f.name, f.name_len, "X-Empty", 7);
	CHECK(f.value_len == 0);
	CHECK(mail_header_iter_next(&it, &f) == 1);
	CHECK_MEM(f.name, f.name_len, "Obs-Name", 8);
	CHECK_MEM(f.value, f.value_len, " value", 6);
	CHECK(mail_header_iter_next(&it, &f) == 1);
	CHECK_MEM(f.name, f.name_len, "To", 2);
	CHECK_MEM(f.value, f.value_len, " c@d", 4);
	CHECK(mail_header_iter_next(&it, &f) == 0);
	CHECK(mail_header_iter_next(&it, &f) == 0);

	CHECK(mail_header_block_size(hdr, sizeof(hdr) - 1) ==
	      (size_t)(strstr(hdr, "Body:") - hdr));
	CHECK(mail_header_block_size("A: b\r\nC: d", 10) == 10);
	CHECK(mail_header_block_size("\r\nbody", 6) == 2);
	CHECK(mail_header_block_size("\nbody", 5) == 1);
	CHECK(mail_header_block_size("", 0) == 0);
}

static void test_header_find(void)
{
	static const char hdr[] = "Received: one\r\nreceived: two\r\nSubject: s\r\nRECEIVED: three\r\n";
	struct mail_header_field f;
	struct mail_header_iter it;
	CHECK(mail_header_find(hdr, sizeof(hdr) - 1, "subject", &f));
	CHECK_MEM(f.value, f.value_len, " s", 2);
	CHECK(!mail_header_find(hdr, sizeof(hdr) - 1, "subjec", &f));
	CHECK(!mail_header_find(hdr, sizeof(hdr) - 1, "Date", &f));
	mail_header_iter_init(&it, hdr, sizeof(hdr) - 1);
	CHECK(mail_header_iter_next_named(&it, "Received", &f) == 1);
	CHECK_MEM(f.value, f.value_len, " one", 4);
	CHECK(mail_header_iter_next_named(&it, "Received", &f) == 1);
	CHECK_MEM(f.value, f.value_len, " two", 4);
	CHECK(mail_header_iter_next_named(&it, "Received", &f) == 1);
	CHECK_MEM(f.value, f.value_len, " three", 6);
	CHECK(mail_header_iter_next_named(&it, "Received", &f) == 0);
}

static void test_header_edge(void)
{
	struct mail_header_iter it;
	struct mail_header_field f;
	/* continuation before any field, NUL and 8-bit in values, no final line end */
	static const char hdr[] = " orphan\r\nA: x\0y\xe3\x81\x82\r\nB: last";
	mail_header_iter_init(&it, hdr, sizeof(hdr) - 1);
	CHECK(mail_header_iter_next(&it, &f) == 1);
	CHECK_MEM(f.name, f.name_len, "A", 1);
	CHECK_MEM(f.value, f.value_len, " x\0y\xe3\x81\x82", 7);
	CHECK(mail_header_iter_next(&it, &f) == 1);
	CHECK_MEM(f.value, f.value_len, " last", 5);
	CHECK(f.size == 7);
	CHECK(mail_header_iter_next(&it, &f) == 0);
	/* a header that is only a bare CR at the end, and a field ending in CR without LF */
	mail_header_iter_init(&it, "A: b\r", 5);
	CHECK(mail_header_iter_next(&it, &f) == 1);
	CHECK_MEM(f.value, f.value_len, " b", 2);
	/* ":" with no name, and a name with a space */
	mail_header_iter_init(&it, ": x\r\nA B: y\r\n", 13);
	CHECK(mail_header_iter_next(&it, &f) == 0);
	mail_header_iter_init(&it, "", 0);
	CHECK(mail_header_iter_next(&it, &f) == 0);
}

static void test_header_unfold(void)
{
	struct pool *pool = pool_create(1024);
	size_t len;
	char *v = mail_header_unfold(pool, S("  hello\r\n world\r\n\tagain  "), &len);
	CHECK_MEM(v, len, "hello world\tagain", 17);
	v = mail_header_unfold(pool, S(" a\n b"), &len);
	CHECK_MEM(v, len, "a b", 3);
	v = mail_header_unfold(pool, S(" \r\n "), &len);
	CHECK(len == 0 && v[0] == '\0');
	v = mail_header_unfold(pool, S(" a\rb"), &len); /* a bare CR stays */
	CHECK_MEM(v, len, "a\rb", 3);
	struct buf b;
	buf_init(&b, 6);
	CHECK(mail_header_unfold_buf(&b, S(" abc\r\n de")) == 0);
	CHECK_MEM(b.data, b.len, "abc de", 6);
	CHECK(mail_header_unfold_buf(&b, S("x")) == -1);
	CHECK(b.len == 6);
	buf_free(&b);
	pool_destroy(&pool);
}

/* Render a list compactly for comparison: name|route|mailbox|domain per address, groups as
 * "[name:" and "]". NULL strings show as "-". */
static const char *addr_dump(struct pool *pool, const char *value)
{
	struct mail_address *list = mail_address_parse(pool, value, strlen(value));
	static char out[2048];
	size_t n = 0;
	out[0] = '\0';
	for (struct mail_address *a = list; a != NULL; a = a->next) {
		int w;
		if (a->type == MAIL_ADDRESS_GROUP_START)
			w = snprintf(out + n, sizeof(out) - n, "[%s:", a->mailbox);
		else if (a->type == MAIL_ADDRESS_GROUP_END)
			w = snprintf(out + n, sizeof(out) - n, "]");
		else
			w = snprintf(out + n, sizeof(out) - n, "(%s|%s|%s|%s)",
				     a->name ? a->name : "-", a->route ? a->route : "-",
				     a->mailbox, a->domain ? a->domain : "-");
		if (w < 0 || (size_t)w >= sizeof(out) - n)
			break;
		n += (size_t)w;
	}
	return out;
}

static void test_address_basic(void)
{
	struct pool *pool = pool_create(4096);
	CHECK_STR(addr_dump(pool, "user@example.com"), "(-|-|user|example.com)");
	CHECK_STR(addr_dump(pool, "John Doe <john@example.com>"),
		  "(John Doe|-|john|example.com)");
	CHECK_STR(addr_dump(pool, "\"Doe, John\" <john@example.com>, jane@example.org"),
		  "(Doe, John|-|john|example.com)(-|-|jane|example.org)");
	CHECK_STR(addr_dump(pool, "\"John \\\"Q\\\" Public\" <jq@x.y>"),
		  "(John \"Q\" Public|-|jq|x.y)");
	CHECK_STR(addr_dump(pool, "John Q. Public <jqp@x.y>"), "(John Q. Public|-|jqp|x.y)");
	CHECK_STR(addr_dump(pool, "\"john doe\"@example.com"), "(-|-|john doe|example.com)");
	CHECK_STR(addr_dump(pool, "john . doe @ example . com"), "(-|-|john.doe|example.com)");
	CHECK_STR(addr_dump(pool, "\"\" <a@b>"), "(-|-|a|b)");
	CHECK_STR(addr_dump(pool, "user@[192.168.0.1]"), "(-|-|user|[192.168.0.1])");
	CHECK_STR(addr_dump(pool, "=?UTF-8?Q?Jos=C3=A9?= <jose@x.y>"),
		  "(=?UTF-8?Q?Jos=C3=A9?=|-|jose|x.y)");
	CHECK_STR(addr_dump(pool, ""), "");
	CHECK_STR(addr_dump(pool, "   "), "");
	CHECK_STR(addr_dump(pool, ", ,"), "");
	pool_destroy(&pool);
}

static void test_address_comments(void)
{
	struct pool *pool = pool_create(4096);
	CHECK_STR(addr_dump(pool, "user@example.com (Full Name)"),
		  "(Full Name|-|user|example.com)");
	CHECK_STR(addr_dump(pool, "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>"),
		  "(Pete|-|pete|silly.test)");
	CHECK_STR(addr_dump(pool, "(comment only)"), "");
	CHECK_STR(addr_dump(pool, "a@b (one (nested) two)"), "(one (nested) two|-|a|b)");
	CHECK_STR(addr_dump(pool, "a@b (  ), c@d"), "(-|-|a|b)(-|-|c|d)");
	pool_destroy(&pool);
}

static void test_address_groups(void)
{
	struct pool *pool = pool_create(4096);
	CHECK_STR(addr_dump(pool, "undisclosed-recipients:;"), "[undisclosed-recipients:]");
	CHECK_STR(addr_dump(pool, "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;"),
		  "[A Group:(Ed Jones|-|c|a.test)(-|-|joe|where.test)(John|-|jdoe|one.test)]");
	CHECK_STR(addr_dump(pool, "g: a@b, c@d"), "[g:(-|-|a|b)(-|-|c|d)]");
	CHECK_STR(addr_dump(pool, "x@y, g1: a@b;, g2:;, z@w"),
		  "(-|-|x|y)[g1:(-|-|a|b)][g2:](-|-|z|w)");
	CHECK_STR(addr_dump(pool, "\"Quoted Group\": a@b;"), "[Quoted Group:(-|-|a|b)]");
	CHECK_STR(addr_dump(pool, "; a@b ;"), "(-|-|a|b)");
	pool_destroy(&pool);
}

static void test_address_obs(void)
{
	struct pool *pool = pool_create(4096);
	CHECK_STR(addr_dump(pool, "<@a.test,@b.test:user@c.test>"), "(-|@a.test,@b.test|user|c.test)");
	CHECK_STR(addr_dump(pool, "Name <@a.test:user@c.test>"), "(Name|@a.test|user|c.test)");
	CHECK_STR(addr_dump(pool, "Mary Smith <mary@x.test>, , jdoe@example.org"),
		  "(Mary Smith|-|mary|x.test)(-|-|jdoe|example.org)");
	pool_destroy(&pool);
}

static void test_address_broken(void)
{
	struct pool *pool = pool_create(4096);
	CHECK_STR(addr_dump(pool, "bob"), "(-|-|bob|-)");
	CHECK_STR(addr_dump(pool, "undisclosed-recipients"), "(-|-|undisclosed-recipients|-)");
	CHECK_STR(addr_dump(pool, "<postmaster>"), "(-|-|postmaster|-)");
	CHECK_STR(addr_dump(pool, "<>"), "");
	CHECK_STR(addr_dump(pool, "MAILER-DAEMON <>"), "(MAILER-DAEMON|-||-)");
	CHECK_STR(addr_dump(pool, "john@example.com <john@example.com>"),
		  "(john@example.com|-|john|example.com)");
	CHECK_STR(addr_dump(pool, "Name <a@b"), "(Name|-|a|b)");
	/* an unterminated quote runs to the end: one bare local-part */
	CHECK_STR(addr_dump(pool, "\"unterminated <a@b>"), "(-|-|unterminated <a@b>|-)");
	CHECK_STR(addr_dump(pool, "a@"), "(-|-|a|-)");
	CHECK_STR(addr_dump(pool, "@b"), "(-|-||b)");
	CHECK_STR(addr_dump(pool, "a@b@c"), "(-|-|a|b)");
	CHECK_STR(addr_dump(pool, "Name> a@b"), "(-|-|a|b)");
	CHECK_STR(addr_dump(pool, "x y z <a@b> trailing, c@d"), "(x y z|-|a|b)(-|-|c|d)");
	CHECK_STR(addr_dump(pool, "\xe5\xb1\xb1\xe7\x94\xb0 <yamada@example.jp>"),
		  "(\xe5\xb1\xb1\xe7\x94\xb0|-|yamada|example.jp)");
	CHECK_STR(addr_dump(pool, "a@b\r\n\t(folded\r\n comment)"), "(folded comment|-|a|b)");
	CHECK_STR(addr_dump(pool, "\"a\r\n b\" <x@y>"), "(a b|-|x|y)");
	pool_destroy(&pool);
}

static void test_address_hostile(void)
{
	/* deep comments and long runs stay linear and do not recurse */
	size_t n = 200000;
	char *s = malloc(n + 1);
	memset(s, '(', n);
	s[n] = '\0';
	struct pool *pool = pool_create(4096);
	CHECK(mail_address_parse(pool, s, n) == NULL);
	for (size_t i = 0; i < n; i++)
		s[i] = "<@,:;>\"[a."[i % 10];
	(void)mail_address_parse(pool, s, n);
	for (size_t i = 0; i < n; i++)
		s[i] = "(c) > "[i % 6];
	(void)mail_address_parse(pool, s, n);
	for (size_t i = 0; i < n; i++)
		s[i] = i % 2 ? ',' : 'a';
	size_t count = 0;
	for (struct mail_address *a = mail_address_parse(pool, s, n); a != NULL; a = a->next)
		count++;
	CHECK(count == n / 2);
	/* an element of more tokens than the parser's window: read in pieces, nothing lost */
	size_t k = 0;
	for (int i = 0; i < 3000; i++) {
		s[k++] = 'w';
		s[k++] = ' ';
	}
	memcpy(s + k, "<x@y>, z@w", 10);
	struct mail_address *last = NULL;
	for (struct mail_address *a = mail_address_parse(pool, s, k + 10); a != NULL; a = a->next)
		last = a;
	CHECK(last != NULL && strcmp(last->mailbox, "z") == 0 && strcmp(last->domain, "w") == 0);
	free(s);
	pool_destroy(&pool);
}

int main(void)
{
	TEST_RUN(test_header_iter);
	TEST_RUN(test_header_find);
	TEST_RUN(test_header_edge);
	TEST_RUN(test_header_unfold);
	TEST_RUN(test_address_basic);
	TEST_RUN(test_address_comments);
	TEST_RUN(test_address_groups);
	TEST_RUN(test_address_obs);
	TEST_RUN(test_address_broken);
	TEST_RUN(test_address_hostile);
	return test_finish();
}
