/* test-throttle.c: unit tests for failed-login throttling: exponential delays, the max of IP
 * and user, caps, expiry, success reset, and the bound on the table. */
#include "auth/throttle.h"

#include <stdio.h>
#include <string.h>

#include "lib/test.h"

static void test_exponential(void)
{
	struct throttle *t = throttle_create(100, 100, 5000);
	uint64_t now = 1000000;
	CHECK(throttle_delay_ms(t, "10.0.0.1", "alice", now) == 0);
	throttle_fail(t, "10.0.0.1", "alice", now);
	CHECK(throttle_delay_ms(t, "10.0.0.1", "alice", now) == 100);
	throttle_fail(t, "10.0.0.1", "alice", now + 1);
	CHECK(throttle_delay_ms(t, "10.0.0.1", "alice", now) == 200);
	throttle_fail(t, "10.0.0.1", "alice", now + 2);
	CHECK(throttle_delay_ms(t, "10.0.0.1", "alice", now) == 400);
	for (int i = 0; i < 100; i++)
		throttle_fail(t, "10.0.0.1", "alice", now + 3);
	CHECK(throttle_delay_ms(t, "10.0.0.1", "alice", now + 3) == 5000); /* capped */
	CHECK(throttle_delay_ms(t, NULL, NULL, now) == 0);
	CHECK(throttle_count(t) == 2);
	throttle_destroy(&t);
	CHECK(t == NULL);
	throttle_destroy(&t);
}

static void test_ip_and_user(void)
{
	struct throttle *t = throttle_create(100, 10, 100000);
	uint64_t now = 5;
	/* one IP guessing many users: the IP's count grows */
	throttle_fail(t, "192.0.2.7", "u1", now);
	throttle_fail(t, "192.0.2.7", "u2", now);
	throttle_fail(t, "192.0.2.7", "u3", now);
	CHECK(throttle_delay_ms(t, "192.0.2.7", "u4", now) == 40);
	CHECK(throttle_delay_ms(t, "192.0.2.8", "u4", now) == 0);
	CHECK(throttle_delay_ms(t, "192.0.2.8", "u1", now) == 10);
	/* many IPs guessing one user: the user's count grows, whatever its case */
	throttle_fail(t, "198.51.100.1", "Bob", now);
	throttle_fail(t, "198.51.100.2", "bob", now);
	throttle_fail(t, "198.51.100.3", "BOB", now);
	throttle_fail(t, "198.51.100.4", "bob", now);
	CHECK(throttle_delay_ms(t, "198.51.100.5", "bob", now) == 80);
	CHECK(throttle_delay_ms(t, "198.51.100.5", NULL, now) == 0);
	CHECK(throttle_delay_ms(t, NULL, "bOb", now) == 80);
	/* an IP is not a user of the same spelling */
	throttle_fail(t, "x", NULL, now);
	CHECK(throttle_delay_ms(t, NULL, "x", now) == 0);
	CHECK(throttle_delay_ms(t, "x", NULL, now) == 10);

	/* success forgets both */
	throttle_success(t, "192.0.2.7", "bob");
	CHECK(throttle_delay_ms(t, "192.0.2.7", "bob", now) == 0);
	CHECK(throttle_delay_ms(t, "192.0.2.8", "u1", now) == 10);
	throttle_success(t, NULL, NULL);
	throttle_destroy(&t);
}

static void test_expiry(void)
{
	struct throttle *t = throttle_create(100, 100, 5000);
	uint64_t now = 1;
	throttle_fail(t, "ip", "user", now);
	throttle_fail(t, "ip", "user", now + 1000);
	CHECK(throttle_delay_ms(t, "ip", "user", now + THROTTLE_EXPIRE_MS) == 200);
	CHECK(throttle_delay_ms(t, "ip", "user", now + 1000 + THROTTLE_EXPIRE_MS - 1) == 200);
	CHECK(throttle_delay_ms(t, "ip", "user", now + 1000 + THROTTLE_EXPIRE_MS) == 0);
	CHECK(throttle_count(t) == 0); /* removed when found expired */
	/* a new failure after expiry starts from one */
	throttle_fail(t, "ip", "user", now + 2 * THROTTLE_EXPIRE_MS);
	CHECK(throttle_delay_ms(t, "ip", "user", now + 2 * THROTTLE_EXPIRE_MS) == 100);
	/* expired entries are purged by later failures of other keys */
	throttle_fail(t, "other", NULL, now + 4 * THROTTLE_EXPIRE_MS);
	CHECK(throttle_count(t) == 1);
	throttle_destroy(&t);
}

static void test_bounded(void)
{
	struct throttle *t = throttle_create(1000, 100, 5000);
	char name[64];
	/* the user under attack fails first, then an attacker floods with fresh names */
	throttle_fail(t, NULL, "victim", 0);
	throttle_fail(t, NULL, "victim", 0);
	for (int i = 0; i < 100000; i++) {
		snprintf(name, sizeof(name), "user%d", i);
		throttle_fail(t, "203.0.113.9", name, 1 + (uint64_t)i / 1000);
		CHECK(throttle_count(t) <= 1000);
	}
	CHECK(throttle_count(t) == 1000);
	/* the flooding IP stays tracked (it keeps failing, so it is never the oldest) */
	CHECK(throttle_delay_ms(t, "203.0.113.9", NULL, 200) == 5000);
	/* the oldest went first */
	CHECK(throttle_delay_ms(t, NULL, "victim", 200) == 0);
	CHECK(throttle_delay_ms(t, NULL, "user0", 200) == 0);
	CHECK(throttle_delay_ms(t, NULL, "user99999", 200) == 100);
	throttle_destroy(&t);

	/* a table of one still works */
	t = throttle_create(0, 100, 50);
	throttle_fail(t, "a", "b", 0);
	CHECK(throttle_count(t) == 1);
	CHECK(throttle_delay_ms(t, "a", "b", 0) == 100); /* max_ms below base is raised to base */
	throttle_destroy(&t);
}

static void test_long_keys(void)
{
	struct throttle *t = throttle_create(10, 1, 1000);
	char a[1000], b[1000];
	memset(a, 'a', sizeof(a) - 1);
	a[sizeof(a) - 1] = '\0';
	memcpy(b, a, sizeof(b));
	b[900] = 'b'; /* differs only past THROTTLE_KEY_MAX: same key */
	throttle_fail(t, NULL, a, 0);
	CHECK(throttle_delay_ms(t, NULL, b, 0) == 1);
	CHECK(throttle_delay_ms(t, NULL, "", 0) == 0);
	throttle_fail(t, NULL, "", 0);
	CHECK(throttle_delay_ms(t, NULL, "", 0) == 1);
	throttle_destroy(&t);
}

int main(void)
{
	TEST_RUN(test_exponential);
	TEST_RUN(test_ip_and_user);
	TEST_RUN(test_expiry);
	TEST_RUN(test_bounded);
	TEST_RUN(test_long_keys);
	return test_finish();
}
