/* throttle.h: delays after failed logins, per client IP and per user name.
 *
 * After n recent failures for a key the next answer for it is delayed base_ms * 2^(n-1), capped at
 * max_ms; the delay for an attempt is the larger of its IP's and its user's. A key's failures are
 * forgotten THROTTLE_EXPIRE_MS after its last failure, or at a success for that IP and user.
 *
 * Memory is bounded: at most max_entries keys (IPs and users together) are tracked; when full, the
 * key whose last failure is oldest is dropped, so an attacker cycling through names or addresses
 * cannot grow the table. The hash is keyed with a random secret, so chosen keys cannot force
 * collisions. User names are compared with ASCII case folded (like userdb), so "Bob" and "bob"
 * share a counter; keys longer than THROTTLE_KEY_MAX bytes are truncated.
 *
 * Not thread-safe: use one throttle per thread or serialise the calls. Time is given by the caller
 * in milliseconds from any monotonic clock. */
#ifndef KURA_AUTH_THROTTLE_H
#define KURA_AUTH_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#define THROTTLE_EXPIRE_MS (15u * 60u * 1000u)
#define THROTTLE_KEY_MAX 320

struct throttle;

/* max_entries >= 1 (smaller values are raised to 1); base_ms <= max_ms. */
struct throttle *throttle_create(size_t max_entries, unsigned base_ms, unsigned max_ms);
void throttle_destroy(struct throttle **t);

/* The delay in ms to apply before answering the next attempt from ip for user (either may be
 * NULL when not known yet); 0 when neither has recent failures. */
unsigned throttle_delay_ms(struct throttle *t, const char *ip, const char *user, uint64_t now_ms);
/* Record a failed attempt. */
void throttle_fail(struct throttle *t, const char *ip, const char *user, uint64_t now_ms);
/* Record a success: forget the failures of ip and of user. */
void throttle_success(struct throttle *t, const char *ip, const char *user);

/* Number of keys tracked (for tests and metrics). */
size_t throttle_count(const struct throttle *t);

#endif
