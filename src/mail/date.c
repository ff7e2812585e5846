/* date.c: RFC 5322 / IMAP date parsing and formatting without libc's timezone machinery.
 * Civil-date arithmetic is Howard Hinnant's days_from_civil/civil_from_days, exact over the
 * proleptic Gregorian calendar. Traps: obsolete 2-digit years, alphabetic zones, comments in
 * the middle of a date; a day that does not exist in its month (30 Feb) is refused. */
#include "date.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char date_months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
static const char date_wdays[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };

static int64_t date_days_from_civil(int64_t y, unsigned int m, unsigned int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned int yoe = (unsigned int)(y - era * 400);
	unsigned int doy = (153 * (m + (m > 2 ? (unsigned int)-3 : 9)) + 2) / 5 + d - 1;
	unsigned int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void date_civil_from_days(int64_t z, int64_t *y_r, unsigned int *m_r, unsigned int *d_r)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned int doe = (unsigned int)(z - era * 146097);
	unsigned int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = (int64_t)yoe + era * 400;
	unsigned int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned int mp = (5 * doy + 2) / 153;
	unsigned int d = doy - (153 * mp + 2) / 5 + 1;
	unsigned int m = mp < 10 ? mp + 3 : mp - 9;
	*y_r = y + (m <= 2);
	*m_r = m;
	*d_r = d;
}

static unsigned int date_days_in_month(int64_t y, unsigned int m)
{
	static const unsigned char days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

struct date_parts {
	int64_t year;
	unsigned int month, day, hour, min, sec;
	int tz; /* minutes */
};

static bool date_build(const struct date_parts *p, time_t *time_r, int *tz_r)
{
	if (p->month < 1 || p->month > 12 || p->day < 1 ||
	    p->day > date_days_in_month(p->year, p->month) || p->hour > 23 || p->min > 59 ||
	    p->sec > 60 || p->year < 0 || p->year > 9999)
		return false;
	int64_t days = date_days_from_civil(p->year, p->month, p->day);
	int64_t t = days * 86400 + p->hour * 3600 + p->min * 60 + p->sec - (int64_t)p->tz * 60;
	*time_r = (time_t)t;
	*tz_r = p->tz;
	return true;
}

/* ---- RFC 5322 ---- */

struct date_lex {
	const unsigned char *s;
	size_t len, pos;
};

static void date_skip_cfws(struct date_lex *lx)
{
	while (lx->pos < lx->len) {
		unsigned char c = lx->s[lx->pos];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			lx->pos++;
		} else if (c == '(') {
			size_t depth = 0;
			for (; lx->pos < lx->len; lx->pos++) {
				c = lx->s[lx->pos];
				if (c == '\\') {
					lx->pos++;
				} else if (c == '(') {
					depth++;
				} else if (c == ')' && --depth == 0) {
					lx->pos++;
					break;
				}
			}
		} else {
			break;
		}
	}
}

static bool date_is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A run of letters: its start and length (0 if none). */
static size_t date_word(struct date_lex *lx, const unsigned char **w_r)
{
	date_skip_cfws(lx);
	size_t start = lx->pos;
	while (lx->pos < lx->len && date_is_alpha(lx->s[lx->pos]))
		lx->pos++;
	*w_r = lx->s + start;
	return lx->pos - start;
}

/* A run of at most max digits: its value, -1 if none. *ndigits_r gets the count. */
static int64_t date_number(struct date_lex *lx, size_t max, size_t *ndigits_r)
{
	date_skip_cfws(lx);
	int64_t v = 0;
	size_t n = 0;
	while (lx->pos < lx->len && lx->s[lx->pos] >= '0' && lx->s[lx->pos] <= '9' && n < max) {
		v = v * 10 + (lx->s[lx->pos] - '0');
		lx->pos++;
		n++;
	}
	if (ndigits_r != NULL)
		*ndigits_r = n;
	return n == 0 ? -1 : v;
}

static bool date_punct(struct date_lex *lx, unsigned char c)
{
	date_skip_cfws(lx);
	if (lx->pos < lx->len && lx->s[lx->pos] == c) {
		lx->pos++;
		return true;
	}
	return false;
}

static int date_month_index(const unsigned char *w, size_t n)
{
	if (n < 3)
		return -1;
	for (int m = 0; m < 12; m++) {
		if (strncasecmp((const char *)w, date_months[m], 3) == 0)
			return m + 1;
	}
	return -1;
}

static bool date_is_wday(const unsigned char *w, size_t n)
{
	if (n < 3)
		return false;
	for (int d = 0; d < 7; d++) {
		if (strncasecmp((const char *)w, date_wdays[d], 3) == 0)
			return true;
	}
	return false;
}

static bool date_time(struct date_lex *lx, struct date_parts *p)
{
	int64_t h = date_number(lx, 2, NULL);
	if (h < 0 || !date_punct(lx, ':'))
		return false;
	int64_t m = date_number(lx, 2, NULL);
	if (m < 0)
		return false;
	int64_t s = 0;
	if (date_punct(lx, ':')) {
		s = date_number(lx, 2, NULL);
		if (s < 0)
			return false;
	}
	p->hour = (unsigned int)h;
	p->min = (unsigned int)m;
	p->sec = (unsigned int)s;
	return true;
}

static void date_zone(struct date_lex *lx, struct date_parts *p)
{
	static const struct {
		const char *name;
		int hours;
	} zones[] = {
		{ "UT", 0 },   { "UTC", 0 },  { "GMT", 0 },  { "Z", 0 },    { "EST", -5 },
		{ "EDT", -4 }, { "CST", -6 }, { "CDT", -5 }, { "MST", -7 }, { "MDT", -6 },
		{ "PST", -8 }, { "PDT", -7 },
	};
	p->tz = 0;
	date_skip_cfws(lx);
	if (lx->pos >= lx->len)
		return;
	unsigned char c = lx->s[lx->pos];
	if (c == '+' || c == '-') {
		lx->pos++;
		size_t n;
		struct date_lex save = *lx;
		int64_t v = date_number(lx, 4, &n);
		int64_t hh, mm;
		if (n == 4) {
			hh = v / 100;
			mm = v % 100;
		} else if (n >= 1 && n <= 2 && date_punct(lx, ':')) { /* "+09:00" */
			hh = v;
			mm = date_number(lx, 2, NULL);
		} else {
			*lx = save;
			return;
		}
		if (hh > 23 || mm < 0 || mm > 59)
			return; /* garbage: read as +0000 */
		p->tz = (int)(hh * 60 + mm) * (c == '-' ? -1 : 1);
		return;
	}
	const unsigned char *w;
	size_t n = date_word(lx, &w);
	for (size_t k = 0; k < sizeof(zones) / sizeof(zones[0]); k++) {
		if (strlen(zones[k].name) == n && strncasecmp((const char *)w, zones[k].name, n) == 0) {
			p->tz = zones[k].hours * 60;
			return;
		}
	}
	/* military and unknown zones: RFC 5322 4.3 says to read them as -0000 */
}

static int64_t date_fix_year(int64_t y, size_t ndigits)
{
	if (ndigits <= 2)
		return y < 50 ? 2000 + y : 1900 + y;
	if (ndigits == 3)
		return 1900 + y;
	return y;
}

bool mail_date_parse(const void *s, size_t len, time_t *time_r, int *tz_minutes_r)
{
	struct date_lex lx = { .s = s, .len = len };
	struct date_parts p;
	const unsigned char *w;
	size_t n, ydigits;
	memset(&p, 0, sizeof(p));

	struct date_lex save = lx;
	n = date_word(&lx, &w);
	if (n > 0) {
		if (date_is_wday(w, n)) {
			date_punct(&lx, ',');
			save = lx;
			n = date_word(&lx, &w);
		}
		if (n > 0) {
			/* asctime: "Jan  1 10:00:00 2001" */
			int m = date_month_index(w, n);
			if (m < 0)
				return false;
			p.month = (unsigned int)m;
			int64_t d = date_number(&lx, 2, NULL);
			if (d < 0 || !date_time(&lx, &p))
				return false;
			int64_t y = date_number(&lx, 4, &ydigits);
			if (y < 0)
				return false;
			p.day = (unsigned int)d;
			p.year = date_fix_year(y, ydigits);
			date_zone(&lx, &p);
			return date_build(&p, time_r, tz_minutes_r);
		}
		lx = save;
	} else {
		lx = save;
	}

	int64_t d = date_number(&lx, 2, NULL);
	if (d < 0)
		return false;
	date_punct(&lx, '-');
	n = date_word(&lx, &w);
	int m = date_month_index(w, n);
	if (m < 0)
		return false;
	date_punct(&lx, '-');
	int64_t y = date_number(&lx, 4, &ydigits);
	if (y < 0)
		return false;
	p.day = (unsigned int)d;
	p.month = (unsigned int)m;
	p.year = date_fix_year(y, ydigits);
	if (!date_time(&lx, &p))
		return false;
	date_zone(&lx, &p);
	return date_build(&p, time_r, tz_minutes_r);
}

/* ---- IMAP date-time ---- */

static bool date_digits(const unsigned char *s, size_t n, unsigned int *v_r)
{
	unsigned int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned int)(s[i] - '0');
	}
	*v_r = v;
	return true;
}

bool mail_date_parse_imap(const void *sv, size_t len, time_t *time_r, int *tz_minutes_r)
{
	unsigned char s[26];
	struct date_parts p;
	unsigned int day, year, hh, mm, ss, zh, zm;
	memset(&p, 0, sizeof(p));

	/* date-day-fixed = (SP DIGIT) / 2DIGIT; "7-Jul-..." is accepted as well */
	if (len == 25) {
		s[0] = ' ';
		memcpy(s + 1, sv, 25);
	} else if (len == 26) {
		memcpy(s, sv, 26);
	} else {
		return false;
	}
	if (s[0] == ' ') {
		if (!date_digits(s + 1, 1, &day))
			return false;
	} else if (!date_digits(s, 2, &day)) {
		return false;
	}
	/* from here on: s[2] '-', s[3..6) month, s[6] '-', s[7..11) year, s[11] SP,
	 * s[12..20) time, s[20] SP, s[21] sign, s[22..26) zone */
	if (s[2] != '-' || s[6] != '-' || s[11] != ' ' || s[14] != ':' || s[17] != ':' ||
	    s[20] != ' ' || (s[21] != '+' && s[21] != '-'))
		return false;
	int m = -1;
	for (int k = 0; k < 12; k++) {
		if (strncasecmp((const char *)s + 3, date_months[k], 3) == 0)
			m = k + 1;
	}
	if (m < 0 || !date_digits(s + 7, 4, &year) || !date_digits(s + 12, 2, &hh) ||
	    !date_digits(s + 15, 2, &mm) || !date_digits(s + 18, 2, &ss) ||
	    !date_digits(s + 22, 2, &zh) || !date_digits(s + 24, 2, &zm) || zm > 59)
		return false;
	p.year = year;
	p.month = (unsigned int)m;
	p.day = day;
	p.hour = hh;
	p.min = mm;
	p.sec = ss;
	p.tz = (int)(zh * 60 + zm) * (s[21] == '-' ? -1 : 1);
	return date_build(&p, time_r, tz_minutes_r);
}

static void date_split(time_t t, int tz, int64_t *y, unsigned int *mo, unsigned int *d,
		       unsigned int *h, unsigned int *mi, unsigned int *s, unsigned int *wday)
{
	int64_t local = (int64_t)t + (int64_t)tz * 60;
	int64_t days = local / 86400, secs = local % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	date_civil_from_days(days, y, mo, d);
	*h = (unsigned int)(secs / 3600);
	*mi = (unsigned int)(secs / 60 % 60);
	*s = (unsigned int)(secs % 60);
	/* 1970-01-01 was a Thursday */
	int64_t w = (days + 4) % 7;
	*wday = (unsigned int)(w < 0 ? w + 7 : w);
	if (*y < 0)
		*y = 0;
	if (*y > 9999)
		*y = 9999;
}

static int date_clamp_tz(int tz)
{
	return tz > 23 * 60 + 59 ? 23 * 60 + 59 : tz < -(23 * 60 + 59) ? -(23 * 60 + 59) : tz;
}

/* Values are in range by construction (date_split clamps the year, date_clamp_tz the zone);
 * the snprintf goes through a roomy buffer so no truncation is possible. */
static void date_copy_out(char *out, size_t size, const char *tmp)
{
	size_t n = strlen(tmp);
	if (n >= size)
		n = size - 1;
	memcpy(out, tmp, n);
	out[n] = '\0';
}

void mail_date_format_imap(time_t t, int tz_minutes, char out[MAIL_DATE_IMAP_SIZE])
{
	int64_t y;
	unsigned int mo, d, h, mi, s, wd;
	char tmp[128];
	int tz = date_clamp_tz(tz_minutes);
	int atz = tz < 0 ? -tz : tz;
	date_split(t, tz, &y, &mo, &d, &h, &mi, &s, &wd);
	snprintf(tmp, sizeof(tmp), "%2u-%s-%04u %02u:%02u:%02u %c%02d%02d", d,
		 date_months[mo - 1], (unsigned int)y, h, mi, s, tz < 0 ? '-' : '+', atz / 60,
		 atz % 60);
	date_copy_out(out, MAIL_DATE_IMAP_SIZE, tmp);
}

void mail_date_format_rfc5322(time_t t, int tz_minutes, char out[MAIL_DATE_RFC5322_SIZE])
{
	int64_t y;
	unsigned int mo, d, h, mi, s, wd;
	char tmp[128];
	int tz = date_clamp_tz(tz_minutes);
	int atz = tz < 0 ? -tz : tz;
	date_split(t, tz, &y, &mo, &d, &h, &mi, &s, &wd);
	snprintf(tmp, sizeof(tmp), "%s, %u %s %04u %02u:%02u:%02u %c%02d%02d", date_wdays[wd], d,
		 date_months[mo - 1], (unsigned int)y, h, mi, s, tz < 0 ? '-' : '+', atz / 60,
		 atz % 60);
	date_copy_out(out, MAIL_DATE_RFC5322_SIZE, tmp);
}
