/* stats.h: counters and latency histograms per operation, for one process or merged over
 * several, and their text and JSON reports.
 *
 * A histogram is log-linear: exact below 16 us, then 16 buckets per power of two (about 6%
 * relative resolution), up to about 2^40 us. Percentiles are read from it (the middle of the
 * bucket); the maximum and the mean are exact. struct stats is plain data with no pointers,
 * so a worker process sends it to the coordinator as it is (same binary on both sides). */
#ifndef KURA_LOAD_STATS_H
#define KURA_LOAD_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ops.h"

enum stats_err {
	STATS_ERR_NO,       /* a tagged NO the client did not expect */
	STATS_ERR_BAD,      /* a tagged BAD (or an untagged BAD) */
	STATS_ERR_CHECK,    /* a response that is wrong: UID, size, content, model mismatch,
			     * protocol violation */
	STATS_ERR_IO,       /* connect failure, connection closed, TLS failure, unexpected BYE */
	STATS_ERR_TIMEOUT,  /* no answer within --timeout */
	STATS_ERR_COUNT
};

#define STATS_HIST_BUCKETS (16 + 36 * 16)

struct stats_op {
	uint64_t ok;
	uint64_t err[STATS_ERR_COUNT];
	uint64_t items;        /* messages the op handled (appends, fills, fetched messages) */
	uint64_t lat_sum_us;   /* over ok and failed ops alike */
	uint64_t lat_max_us;
	uint32_t hist[STATS_HIST_BUCKETS];
};

struct stats {
	struct stats_op op[OP_COUNT];
	uint64_t bytes_in, bytes_out;
};

void stats_record(struct stats *s, enum op_id op, uint64_t lat_us, uint64_t items, bool ok,
		  enum stats_err err);
void stats_merge(struct stats *into, const struct stats *from);
void stats_op_merge(struct stats_op *into, const struct stats_op *from);

uint64_t stats_op_count(const struct stats_op *o);   /* ok + all errors */
uint64_t stats_op_errors(const struct stats_op *o);
uint64_t stats_errors(const struct stats *s);        /* all ops */
/* Latency at quantile q (0..1) in microseconds; 0 when empty. */
double stats_op_quantile_us(const struct stats_op *o, double q);
/* The mix operations merged into one (for "all ops" lines). */
void stats_total(const struct stats *s, struct stats_op *total_r);

const char *stats_err_name(enum stats_err e);

/* One report line per second: "[  12s] 1234 ops/s ..." and, unless brief, one indented line
 * per op that ran. */
void stats_print_interval(FILE *f, const struct stats *delta, double secs, double t,
			  unsigned conns, bool brief);
/* The end-of-run table: count, rate, errors, p50/p90/p99/max per op, and with total a line
 * for all mix ops together (with_total). */
void stats_print_table(FILE *f, const struct stats *s, double secs, bool with_total);
/* A JSON object {"seconds":..,"ops":{name:{...}},"total":{...}} (no trailing newline). */
void stats_print_json(FILE *f, const struct stats *s, double secs, int indent);
/* A JSON string literal with escapes. */
void stats_json_string(FILE *f, const char *s);

#endif
