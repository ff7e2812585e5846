/* date.h: RFC 5322 dates (Date:, Received:) and IMAP date-time strings (INTERNALDATE, APPEND).
 *
 * Times are time_t in UTC plus the zone offset the text carried, in minutes east of UTC (so
 * "+0900" is 540); local wall-clock time = t + tz_minutes * 60. No function here looks at the
 * process's TZ or locale. */
#ifndef KURA_MAIL_DATE_H
#define KURA_MAIL_DATE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* "17-Jul-1996 02:44:25 -0700" plus NUL */
#define MAIL_DATE_IMAP_SIZE 27
/* "Wed, 17 Jul 1996 02:44:25 -0700" plus NUL (years above 9999 are clamped) */
#define MAIL_DATE_RFC5322_SIZE 32

/* Parse an RFC 5322 date-time (section 3.3) including the obsolete forms of section 4.3:
 * optional day name, CFWS and comments anywhere, two- and three-digit years (00-49 = 20xx,
 * 50-99 = 19xx, 3 digits + 1900), missing seconds, alphabetic zones (UT, GMT, EST..PDT; military
 * and unknown names read as +0000, RFC 5322 4.3), a missing zone (+0000); also the
 * "01-Jan-2001" dash form and asctime's "Mon Jan  1 10:00:00 2001" seen from broken mailers.
 * Trailing text after the zone is ignored. Returns false if no date can be read (out-params
 * untouched). */
bool mail_date_parse(const void *s, size_t len, time_t *time_r, int *tz_minutes_r);

/* RFC 9051 date-time without the DQUOTEs: "dd-Mon-yyyy hh:mm:ss +zzzz" where dd is 2DIGIT or
 * SP DIGIT (a single digit is also accepted). Strict otherwise. */
bool mail_date_parse_imap(const void *s, size_t len, time_t *time_r, int *tz_minutes_r);

/* Write the IMAP date-time (without DQUOTEs; date-day-fixed with a leading space for days
 * 1-9) of t as seen in zone tz_minutes (clamped to -23:59..+23:59). */
void mail_date_format_imap(time_t t, int tz_minutes, char out[MAIL_DATE_IMAP_SIZE]);
/* Write "Wed, 17 Jul 1996 02:44:25 -0700" (RFC 5322 3.3). */
void mail_date_format_rfc5322(time_t t, int tz_minutes, char out[MAIL_DATE_RFC5322_SIZE]);

#endif
