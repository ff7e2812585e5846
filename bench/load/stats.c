/* stats.c: latency histograms, counters and their reports. Trap: bucket arithmetic must stay
 * in 64 bits (a stuck connection reports hours in microseconds). */
#include "stats.h"

#include <string.h>

static unsigned stats_bucket(uint64_t v)
{
	if (v < 16)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - 4;
	unsigned idx = 16 + shift * 16 + (unsigned)((v >> shift) & 15);
	return idx < STATS_HIST_BUCKETS ? idx : STATS_HIST_BUCKETS - 1;
}

/* The middle of bucket idx, in microseconds. */
static double stats_bucket_value(unsigned idx)
{
	if (idx < 16)
		return idx;
	unsigned shift = (idx - 16) / 16;
	unsigned sub = (idx - 16) % 16;
	double lower = (double)((uint64_t)(16 + sub) << shift);
	double width = (double)((uint64_t)1 << shift);
	return lower + (width - 1) / 2;
}

void stats_record(struct stats *s, enum op_id op, uint64_t lat_us, uint64_t items, bool ok,
		  enum stats_err err)
{
	struct stats_op *o = &s->op[op];
	if (ok)
		o->ok++;
	else
		o->err[err]++;
	o->items += items;
	o->lat_sum_us += lat_us;
	if (lat_us > o->lat_max_us)
		o->lat_max_us = lat_us;
	o->hist[stats_bucket(lat_us)]++;
}

void stats_op_merge(struct stats_op *into, const struct stats_op *from)
{
	into->ok += from->ok;
	for (int e = 0; e < STATS_ERR_COUNT; e++)
		into->err[e] += from->err[e];
	into->items += from->items;
	into->lat_sum_us += from->lat_sum_us;
	if (from->lat_max_us > into->lat_max_us)
		into->lat_max_us = from->lat_max_us;
	for (unsigned i = 0; i < STATS_HIST_BUCKETS; i++)
		into->hist[i] += from->hist[i];
}

void stats_merge(struct stats *into, const struct stats *from)
{
	for (int op = 0; op < OP_COUNT; op++)
		stats_op_merge(&into->op[op], &from->op[op]);
	into->bytes_in += from->bytes_in;
	into->bytes_out += from->bytes_out;
}

uint64_t stats_op_errors(const struct stats_op *o)
{
	uint64_t n = 0;
	for (int e = 0; e < STATS_ERR_COUNT; e++)
		n += o->err[e];
	return n;
}

uint64_t stats_op_count(const struct stats_op *o)
{
	return o->ok + stats_op_errors(o);
}

uint64_t stats_errors(const struct stats *s)
{
	uint64_t n = 0;
	for (int op = 0; op < OP_COUNT; op++)
		n += stats_op_errors(&s->op[op]);
	return n;
}

double stats_op_quantile_us(const struct stats_op *o, double q)
{
	uint64_t total = 0;
	for (unsigned i = 0; i < STATS_HIST_BUCKETS; i++)
		total += o->hist[i];
	if (total == 0)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)total);
	if (rank >= total)
		rank = total - 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < STATS_HIST_BUCKETS; i++) {
		seen += o->hist[i];
		if (seen > rank) {
			double v = stats_bucket_value(i);
			return v > (double)o->lat_max_us ? (double)o->lat_max_us : v;
		}
	}
	return (double)o->lat_max_us;
}

void stats_total(const struct stats *s, struct stats_op *total_r)
{
	memset(total_r, 0, sizeof(*total_r));
	for (int op = 0; op < OP_COUNT; op++) {
		if (op_in_mix((enum op_id)op) || op == OP_FILL || op == OP_DELIVER)
			stats_op_merge(total_r, &s->op[op]);
	}
}

const char *stats_err_name(enum stats_err e)
{
	static const char *const names[STATS_ERR_COUNT] = {"no", "bad", "check", "io", "timeout"};
	return (unsigned)e < STATS_ERR_COUNT ? names[e] : "?";
}

static void stats_print_errors(FILE *f, const struct stats_op *o)
{
	bool first = true;
	for (int e = 0; e < STATS_ERR_COUNT; e++) {
		if (o->err[e] == 0)
			continue;
		fprintf(f, "%s%llu %s", first ? " (" : ", ", (unsigned long long)o->err[e],
			stats_err_name((enum stats_err)e));
		first = false;
	}
	if (!first)
		fputs(")", f);
}

void stats_print_interval(FILE *f, const struct stats *delta, double secs, double t,
			  unsigned conns, bool brief)
{
	struct stats_op total;
	stats_total(delta, &total);
	uint64_t all_errors = stats_errors(delta);
	if (secs <= 0)
		secs = 1;
	fprintf(f, "[%5.0fs] %8.0f ops/s  errors %-4llu p50 %7.2f ms  p99 %7.2f ms  conns %u", t,
		(double)stats_op_count(&total) / secs, (unsigned long long)all_errors,
		stats_op_quantile_us(&total, 0.50) / 1000, stats_op_quantile_us(&total, 0.99) / 1000,
		conns);
	/* lmtp mode: an op is a transaction; what counts is recipients delivered */
	if (stats_op_count(&delta->op[OP_DELIVER]) > 0)
		fprintf(f, "  %8.0f deliveries/s", (double)delta->op[OP_DELIVER].items / secs);
	fputc('\n', f);
	if (brief)
		return;
	for (int op = 0; op < OP_COUNT; op++) {
		const struct stats_op *o = &delta->op[op];
		uint64_t n = stats_op_count(o);
		if (n == 0)
			continue;
		fprintf(f, "         %-14s %8.1f/s  p50 %7.2f ms  p99 %7.2f ms", op_name((enum op_id)op),
			(double)n / secs, stats_op_quantile_us(o, 0.50) / 1000,
			stats_op_quantile_us(o, 0.99) / 1000);
		if (o->items > 0 && o->items != o->ok)
			fprintf(f, "  %8.1f msgs/s", (double)o->items / secs);
		stats_print_errors(f, o);
		fputc('\n', f);
	}
}

static void stats_print_row(FILE *f, const char *name, const struct stats_op *o, double secs)
{
	uint64_t n = stats_op_count(o);
	fprintf(f, "  %-14s %9llu %9.1f %7llu %8.2f %8.2f %8.2f %9.2f", name, (unsigned long long)n,
		secs > 0 ? (double)n / secs : 0.0, (unsigned long long)stats_op_errors(o),
		stats_op_quantile_us(o, 0.50) / 1000, stats_op_quantile_us(o, 0.90) / 1000,
		stats_op_quantile_us(o, 0.99) / 1000, (double)o->lat_max_us / 1000);
	if (o->items > 0 && o->items != o->ok)
		fprintf(f, "  %llu msgs", (unsigned long long)o->items);
	stats_print_errors(f, o);
	fputc('\n', f);
}

void stats_print_table(FILE *f, const struct stats *s, double secs, bool with_total)
{
	fprintf(f, "  %-14s %9s %9s %7s %8s %8s %8s %9s\n", "op", "count", "rate/s", "errors",
		"p50 ms", "p90 ms", "p99 ms", "max ms");
	for (int op = 0; op < OP_COUNT; op++) {
		if (stats_op_count(&s->op[op]) > 0)
			stats_print_row(f, op_name((enum op_id)op), &s->op[op], secs);
	}
	if (!with_total)
		return;
	struct stats_op total;
	stats_total(s, &total);
	stats_print_row(f, "all mix ops", &total, secs);
}

void stats_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void stats_json_op(FILE *f, const struct stats_op *o, double secs)
{
	uint64_t n = stats_op_count(o);
	fprintf(f, "{\"count\": %llu, \"ok\": %llu, \"rate\": %.2f, \"items\": %llu, \"errors\": {",
		(unsigned long long)n, (unsigned long long)o->ok, secs > 0 ? (double)n / secs : 0.0,
		(unsigned long long)o->items);
	for (int e = 0; e < STATS_ERR_COUNT; e++)
		fprintf(f, "%s\"%s\": %llu", e ? ", " : "", stats_err_name((enum stats_err)e),
			(unsigned long long)o->err[e]);
	fprintf(f,
		"}, \"latency_ms\": {\"mean\": %.3f, \"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, "
		"\"p999\": %.3f, \"max\": %.3f}}",
		n ? (double)o->lat_sum_us / (double)n / 1000 : 0.0,
		stats_op_quantile_us(o, 0.50) / 1000, stats_op_quantile_us(o, 0.90) / 1000,
		stats_op_quantile_us(o, 0.99) / 1000, stats_op_quantile_us(o, 0.999) / 1000,
		(double)o->lat_max_us / 1000);
}

void stats_print_json(FILE *f, const struct stats *s, double secs, int indent)
{
	fprintf(f, "{\n%*s\"seconds\": %.3f,\n%*s\"bytes_in\": %llu,\n%*s\"bytes_out\": %llu,\n",
		indent + 2, "", secs, indent + 2, "", (unsigned long long)s->bytes_in, indent + 2, "",
		(unsigned long long)s->bytes_out);
	fprintf(f, "%*s\"ops\": {", indent + 2, "");
	bool first = true;
	for (int op = 0; op < OP_COUNT; op++) {
		if (stats_op_count(&s->op[op]) == 0)
			continue;
		fprintf(f, "%s\n%*s\"%s\": ", first ? "" : ",", indent + 4, "",
			op_name((enum op_id)op));
		stats_json_op(f, &s->op[op], secs);
		first = false;
	}
	fprintf(f, "\n%*s},\n%*s\"total\": ", indent + 2, "", indent + 2, "");
	struct stats_op total;
	stats_total(s, &total);
	stats_json_op(f, &total, secs);
	fprintf(f, ",\n%*s\"errors\": %llu\n%*s}", indent + 2, "",
		(unsigned long long)stats_errors(s), indent, "");
}
