/* test-date.c: unit tests for RFC 5322 date parsing and IMAP date-time parsing/formatting.
 * Expected time_t values were computed independently (Python calendar.timegm). */
#include "lib/test.h"
#include "mail/date.h"

static int date_is(const char *s, long long t, int tz)
{
	time_t got;
	int gtz = 12345;
	if (!mail_date_parse(s, strlen(s), &got, &gtz)) {
		printf("  unparsed: %s\n", s);
		return 0;
	}
	if ((long long)got != t || gtz != tz) {
		printf("  %s: got %lld %d, want %lld %d\n", s, (long long)got, gtz, t, tz);
		return 0;
	}
	return 1;
}

static int date_bad(const char *s)
{
	time_t got;
	int gtz;
	return !mail_date_parse(s, strlen(s), &got, &gtz);
}

static void test_date_rfc5322(void)
{
	CHECK(date_is("Mon, 1 Jan 2001 10:00:00 +0900", 978310800, 540));
	CHECK(date_is("Wed, 17 Jul 1996 02:44:25 -0700", 837596665, -420));
	CHECK(date_is("17 Jul 1996 02:44:25 -0700", 837596665, -420));
	CHECK(date_is("Thu, 01 Jan 1970 00:00:00 +0000", 0, 0));
	CHECK(date_is("Tue, 29 Feb 2000 12:00:00 -0000", 951825600, 0));
	CHECK(date_is("Fri, 31 Dec 1999 23:59:59 GMT", 946684799, 0));
	CHECK(date_is("Wed, 31 Dec 1969 23:59:59 +0000", -1, 0));
	CHECK(date_is("Sun, 10 Mar 2024 15:04:05 +0000 (UTC)", 1710083045, 0));
	/* no day name, no seconds, lowercase month, comments and folding */
	CHECK(date_is("1 jan 2001 10:00 +0900", 978310800, 540));
	CHECK(date_is("(c) Mon (c), (c) 1 (c) Jan (c) 2001 (c) 10 : 00 : 00 (c) +0900 (c)",
		      978310800, 540));
	CHECK(date_is("Mon,\r\n 1 Jan 2001\r\n\t10:00:00 +0900", 978310800, 540));
	/* full names */
	CHECK(date_is("Monday, 1 January 2001 10:00:00 +0900", 978310800, 540));
}

static void test_date_obsolete(void)
{
	/* two-digit years: 00-49 are 20xx, 50-99 19xx; three digits + 1900 */
	CHECK(date_is("1 Jun 49 00:00:00 +0000", 2506118400LL, 0));
	CHECK(date_is("1 Jun 50 00:00:00 +0000", -618105600LL, 0));
	CHECK(date_is("1 Jun 050 00:00:00 +0000", -618105600LL, 0));
	CHECK(date_is("Mon, 1 Jan 01 10:00:00 +0900", 978310800, 540));
	/* alphabetic zones */
	CHECK(date_is("Wed, 17 Jul 1996 02:44:25 PDT", 837596665, -420));
	CHECK(date_is("Wed, 17 Jul 1996 04:44:25 CDT", 837596665, -300));
	CHECK(date_is("Wed, 17 Jul 1996 09:44:25 UT", 837596665, 0));
	CHECK(date_is("Wed, 17 Jul 1996 09:44:25 Z", 837596665, 0));
	/* military and unknown zones read as +0000 (RFC 5322 4.3), as does a missing zone */
	CHECK(date_is("Wed, 17 Jul 1996 09:44:25 A", 837596665, 0));
	CHECK(date_is("Wed, 17 Jul 1996 09:44:25 JST", 837596665, 0));
	CHECK(date_is("Wed, 17 Jul 1996 09:44:25", 837596665, 0));
	CHECK(date_is("Wed, 17 Jul 1996 09:44:25 +99999", 837596665, 0));
	/* forms from broken mailers */
	CHECK(date_is("Wed, 17-Jul-1996 02:44:25 -0700", 837596665, -420));
	CHECK(date_is("Wed Jul 17 09:44:25 1996", 837596665, 0));
	CHECK(date_is("Jul 17 02:44:25 1996 -0700", 837596665, -420));
	CHECK(date_is("Wed, 17 Jul 1996 18:44:25 +09:00", 837596665, 540));
}

static void test_date_invalid(void)
{
	CHECK(date_bad(""));
	CHECK(date_bad("garbage"));
	CHECK(date_bad("Mon, 32 Jan 2001 10:00:00 +0000"));
	CHECK(date_bad("Mon, 30 Feb 2001 10:00:00 +0000"));
	CHECK(date_bad("Mon, 29 Feb 2001 10:00:00 +0000"));
	CHECK(date_bad("Mon, 1 Foo 2001 10:00:00 +0000"));
	CHECK(date_bad("Mon, 1 Jan 2001 24:00:00 +0000"));
	CHECK(date_bad("Mon, 1 Jan 2001 10:60:00 +0000"));
	CHECK(date_bad("Mon, 1 Jan 2001"));
	CHECK(date_bad("Mon, 1 Jan"));
	CHECK(date_bad("Mon,"));
	CHECK(date_bad("(unterminated"));
	CHECK(date_bad("1 Jan 2001 10"));
}

static void test_date_imap(void)
{
	char out[MAIL_DATE_IMAP_SIZE];
	time_t t;
	int tz;
	mail_date_format_imap(837596665, -420, out);
	CHECK_STR(out, "17-Jul-1996 02:44:25 -0700");
	mail_date_format_imap(978310800, 540, out);
	CHECK_STR(out, " 1-Jan-2001 10:00:00 +0900");
	mail_date_format_imap(0, 0, out);
	CHECK_STR(out, " 1-Jan-1970 00:00:00 +0000");
	mail_date_format_imap(-1, 0, out);
	CHECK_STR(out, "31-Dec-1969 23:59:59 +0000");
	mail_date_format_imap(0, -30, out);
	CHECK_STR(out, "31-Dec-1969 23:30:00 -0030");

	CHECK(mail_date_parse_imap("17-Jul-1996 02:44:25 -0700", 26, &t, &tz));
	CHECK(t == 837596665 && tz == -420);
	CHECK(mail_date_parse_imap(" 1-Jan-2001 10:00:00 +0900", 26, &t, &tz));
	CHECK(t == 978310800 && tz == 540);
	CHECK(mail_date_parse_imap("1-Jan-2001 10:00:00 +0900", 25, &t, &tz));
	CHECK(t == 978310800 && tz == 540);
	CHECK(mail_date_parse_imap("01-jan-2001 10:00:00 +0900", 26, &t, &tz));
	CHECK(!mail_date_parse_imap("01-Jan-2001 10:00:00 0900", 25, &t, &tz));
	CHECK(!mail_date_parse_imap("01-Jan-2001 10:00:00  +0900", 27, &t, &tz));
	CHECK(!mail_date_parse_imap("01-Foo-2001 10:00:00 +0900", 26, &t, &tz));
	CHECK(!mail_date_parse_imap("31-Apr-2001 10:00:00 +0900", 26, &t, &tz));
	CHECK(!mail_date_parse_imap("01-Jan-2001 10:00:00 +0960", 26, &t, &tz));
	CHECK(!mail_date_parse_imap("01-Jan-2001 1a:00:00 +0900", 26, &t, &tz));
	CHECK(!mail_date_parse_imap("", 0, &t, &tz));

	/* round trip through both formats */
	char r5322[MAIL_DATE_RFC5322_SIZE];
	mail_date_format_rfc5322(837596665, -420, r5322);
	CHECK_STR(r5322, "Wed, 17 Jul 1996 02:44:25 -0700");
	CHECK(date_is(r5322, 837596665, -420));
	mail_date_format_rfc5322(0, 0, r5322);
	CHECK_STR(r5322, "Thu, 1 Jan 1970 00:00:00 +0000");
	for (long long x = -86400LL * 400; x < 86400LL * 365 * 100; x += 86400LL * 37 + 3607) {
		mail_date_format_imap((time_t)x, 330, out);
		CHECK(mail_date_parse_imap(out, 26, &t, &tz) && t == (time_t)x && tz == 330);
		mail_date_format_rfc5322((time_t)x, -90, r5322);
		CHECK(mail_date_parse(r5322, strlen(r5322), &t, &tz) && t == (time_t)x && tz == -90);
	}
}

int main(void)
{
	TEST_RUN(test_date_rfc5322);
	TEST_RUN(test_date_obsolete);
	TEST_RUN(test_date_invalid);
	TEST_RUN(test_date_imap);
	return test_finish();
}
