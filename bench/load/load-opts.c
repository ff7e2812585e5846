/* load-opts.c: command-line parsing and validation for kura-load. Numbers go through strtoull
 * with full checks (no atoi); the mix and source-address syntaxes are documented in the usage
 * text below, which bench/README.md repeats. */
#include "load-opts.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

void load_opts_usage(FILE *f)
{
	fputs("usage: kura-load [options]\n"
	      "\n"
	      "target:\n"
	      "  --host H               server address (127.0.0.1)\n"
	      "  --port N               port (143, or 993 with --tls; lmtp: 2424)\n"
	      "  --tls | --starttls     implicit TLS, or STARTTLS after the greeting\n"
	      "clients:\n"
	      "  -c, --clients N        simulated clients (10)\n"
	      "  -P, --procs N          worker processes, each with its own event loop (1)\n"
	      "  --users N              distinct users (= clients); fewer users than clients\n"
	      "                         share mailboxes and relax the checks that need exclusivity\n"
	      "  --user-first N         number of the first user (1): PREFIX1, PREFIX2, ...\n"
	      "  --user-prefix S        (bench)      --password S (benchpw)\n"
	      "  --source-ips LIST      source addresses, e.g. 127.0.0.1-127.0.0.8,127.0.1.1\n"
	      "  --connect-rate N       new connections per second in total (1000)\n"
	      "what to do:\n"
	      "  --mode M               mix (default), idle, fill, lmtp\n"
	      "  -d, --duration S       seconds of the measured phase (30; fill: until done)\n"
	      "  --mix SPEC             default | basic | name=weight,... ; a preset may be\n"
	      "                         followed by overrides: basic,search=5 (see --list-ops)\n"
	      "  --think MS             pause between one client's operations (0)\n"
	      "  --idle-secs S          how long the idle op stays in IDLE (2)\n"
	      "  --prefill N            mix: fill each INBOX to N messages before measuring (0)\n"
	      "  --fill N               fill mode: fill each INBOX to N messages\n"
	      "  --fill-batch N         messages per MULTIAPPEND (50; 1 without MULTIAPPEND)\n"
	      "  --fill-window N        APPEND commands in flight per client (2)\n"
	      "  --mailbox NAME         the mailbox worked on (INBOX)\n"
	      "  --archive NAME         COPY/MOVE target, created if missing (Archive)\n"
	      "  --mbox FILE            messages for APPEND/DATA (default: small synthetic ones)\n"
	      "lmtp mode:\n"
	      "  --rcpts K              recipients per transaction, distinct users (1)\n"
	      "  --rcpt-domain D        RCPT TO:<PREFIXn@D> (bench.test; '' for no domain)\n"
	      "  --sender A             MAIL FROM:<A> (load@bench.test)\n"
	      "  --no-pipelining        one command per round trip even with PIPELINING\n"
	      "  --seed N               random seed (1)\n"
	      "  --timeout S            answer timeout per command (60)\n"
	      "  --setup-timeout S      time allowed for all clients to log in and prepare (600)\n"
	      "measuring:\n"
	      "  --server-pid PID       report RSS/PSS of this process tree (idle mode: per\n"
	      "                         connection, before and after)\n"
	      "  --settle S             wait before the 'after' memory reading (2)\n"
	      "  --json FILE            write the results as JSON ('-' for stdout)\n"
	      "  -q, --brief            one line per second instead of one per op\n"
	      "  --errors N             error lines printed per worker (20)\n"
	      "  --list-ops             list the operations and the preset weights\n"
	      "\n"
	      "Exit status: 0 no errors, 1 errors were counted, 2 bad usage or setup failure.\n",
	      f);
}

const char *load_mode_name(enum load_mode mode)
{
	switch (mode) {
	case LOAD_MODE_MIX: return "mix";
	case LOAD_MODE_IDLE: return "idle";
	case LOAD_MODE_FILL: return "fill";
	case LOAD_MODE_LMTP: return "lmtp";
	}
	return "?";
}

static int load_opts_uint(const char *opt, const char *s, unsigned long long min,
			  unsigned long long max, unsigned long long *v_r)
{
	char *end;
	errno = 0;
	if (s[0] == '-' || s[0] == '\0') {
		fprintf(stderr, "kura-load: %s: not a number: %s\n", opt, s);
		return -1;
	}
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "kura-load: %s: expected a number from %llu to %llu, got %s\n", opt,
			min, max, s);
		return -1;
	}
	*v_r = v;
	return 0;
}

static int load_opts_u(const char *opt, const char *s, unsigned min, unsigned max, unsigned *v_r)
{
	unsigned long long v;
	if (load_opts_uint(opt, s, min, max, &v) < 0)
		return -1;
	*v_r = (unsigned)v;
	return 0;
}

static int load_opts_mix(struct load_opts *o, const char *spec)
{
	char *copy = strdup(spec);
	char *save = NULL;
	bool first = true;
	int ret = 0;
	if (copy == NULL)
		return -1;
	memset(o->weights, 0, sizeof(o->weights));
	for (char *item = strtok_r(copy, ",", &save); item != NULL && ret == 0;
	     item = strtok_r(NULL, ",", &save), first = false) {
		if (strcmp(item, "default") == 0 || strcmp(item, "basic") == 0) {
			if (!first) {
				fprintf(stderr, "kura-load: --mix: a preset must come first: %s\n", item);
				ret = -1;
				break;
			}
			enum op_mix_preset p = item[0] == 'd' ? OP_MIX_DEFAULT : OP_MIX_BASIC;
			for (int op = 0; op < OP_COUNT; op++)
				o->weights[op] = op_preset_weight(p, (enum op_id)op);
			continue;
		}
		char *eq = strchr(item, '=');
		if (eq == NULL) {
			fprintf(stderr, "kura-load: --mix: expected name=weight, got %s\n", item);
			ret = -1;
			break;
		}
		*eq = '\0';
		int op = op_lookup(item);
		if (op < 0 || !op_in_mix((enum op_id)op)) {
			fprintf(stderr, "kura-load: --mix: unknown operation %s (see --list-ops)\n",
				item);
			ret = -1;
			break;
		}
		ret = load_opts_u("--mix", eq + 1, 0, 1000000, &o->weights[op]);
	}
	free(copy);
	if (ret == 0) {
		unsigned total = 0;
		for (int op = 0; op < OP_COUNT; op++)
			total += o->weights[op];
		if (total == 0) {
			fprintf(stderr, "kura-load: --mix: all weights are 0\n");
			ret = -1;
		}
	}
	return ret;
}

static int load_opts_add_source(struct load_opts *o, const struct sockaddr_storage *ss,
				socklen_t len)
{
	if (o->src_count == LOAD_MAX_SOURCES) {
		fprintf(stderr, "kura-load: --source-ips: more than %d addresses\n", LOAD_MAX_SOURCES);
		return -1;
	}
	o->src[o->src_count] = *ss;
	o->src_len[o->src_count] = len;
	o->src_count++;
	return 0;
}

static int load_opts_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len_r)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, s, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		*len_r = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		*len_r = sizeof(*in6);
		return 0;
	}
	return -1;
}

/* "A-B" (IPv4 range) or "A", comma separated. */
static int load_opts_sources(struct load_opts *o, const char *spec)
{
	char *copy = strdup(spec);
	char *save = NULL;
	int ret = 0;
	if (copy == NULL)
		return -1;
	for (char *item = strtok_r(copy, ",", &save); item != NULL && ret == 0;
	     item = strtok_r(NULL, ",", &save)) {
		struct sockaddr_storage a, b;
		socklen_t alen, blen;
		char *dash = strchr(item, '-');
		if (dash != NULL)
			*dash = '\0';
		if (load_opts_parse_addr(item, &a, &alen) < 0 ||
		    (dash != NULL && (load_opts_parse_addr(dash + 1, &b, &blen) < 0 ||
				      a.ss_family != AF_INET || b.ss_family != AF_INET))) {
			fprintf(stderr, "kura-load: --source-ips: bad address or range: %s%s%s\n", item,
				dash ? "-" : "", dash ? dash + 1 : "");
			ret = -1;
			break;
		}
		if (dash == NULL) {
			ret = load_opts_add_source(o, &a, alen);
			continue;
		}
		uint32_t lo = ntohl(((struct sockaddr_in *)&a)->sin_addr.s_addr);
		uint32_t hi = ntohl(((struct sockaddr_in *)&b)->sin_addr.s_addr);
		if (lo > hi || hi - lo >= LOAD_MAX_SOURCES) {
			fprintf(stderr, "kura-load: --source-ips: bad range (at most %d addresses)\n",
				LOAD_MAX_SOURCES);
			ret = -1;
			break;
		}
		for (uint32_t ip = lo; ret == 0; ip++) {
			struct sockaddr_in *in4 = (struct sockaddr_in *)&a;
			in4->sin_addr.s_addr = htonl(ip);
			ret = load_opts_add_source(o, &a, alen);
			if (ip == hi)
				break;
		}
	}
	free(copy);
	return ret;
}

static int load_opts_resolve(struct load_opts *o)
{
	char port[16];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	snprintf(port, sizeof(port), "%u", o->port);
	int e = getaddrinfo(o->host, port, &hints, &res);
	if (e != 0 || res == NULL) {
		fprintf(stderr, "kura-load: cannot resolve %s: %s\n", o->host, gai_strerror(e));
		return -1;
	}
	memcpy(&o->addr, res->ai_addr, res->ai_addrlen);
	o->addr_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void load_opts_list_ops(void)
{
	printf("%-14s %8s %8s  %s\n", "op", "default", "basic", "needs");
	for (int op = 0; op < OP_COUNT; op++) {
		if (!op_in_mix((enum op_id)op))
			continue;
		unsigned caps = op_required_caps((enum op_id)op);
		printf("%-14s %8u %8u  %s\n", op_name((enum op_id)op),
		       op_preset_weight(OP_MIX_DEFAULT, (enum op_id)op),
		       op_preset_weight(OP_MIX_BASIC, (enum op_id)op),
		       caps ? op_cap_name(caps) : "-");
	}
	printf("(internal, measured but not in the mix: connect login create fill sync;\n"
	       " lmtp mode: lhlo deliver quit)\n");
}

enum {
	OPT_HOST = 256, OPT_PORT, OPT_TLS, OPT_STARTTLS, OPT_USERS, OPT_USER_FIRST, OPT_USER_PREFIX,
	OPT_PASSWORD, OPT_SOURCES, OPT_CONNECT_RATE, OPT_MODE, OPT_MIX, OPT_THINK, OPT_IDLE_SECS,
	OPT_PREFILL, OPT_FILL, OPT_FILL_BATCH, OPT_FILL_WINDOW, OPT_MAILBOX, OPT_ARCHIVE, OPT_MBOX,
	OPT_SEED, OPT_TIMEOUT, OPT_SETUP_TIMEOUT, OPT_SERVER_PID, OPT_SETTLE, OPT_JSON, OPT_ERRORS,
	OPT_LIST_OPS, OPT_RCPTS, OPT_RCPT_DOMAIN, OPT_SENDER, OPT_NO_PIPELINING,
};

static const struct option load_long_opts[] = {
	{"host", required_argument, NULL, OPT_HOST},
	{"port", required_argument, NULL, OPT_PORT},
	{"tls", no_argument, NULL, OPT_TLS},
	{"starttls", no_argument, NULL, OPT_STARTTLS},
	{"clients", required_argument, NULL, 'c'},
	{"procs", required_argument, NULL, 'P'},
	{"users", required_argument, NULL, OPT_USERS},
	{"user-first", required_argument, NULL, OPT_USER_FIRST},
	{"user-prefix", required_argument, NULL, OPT_USER_PREFIX},
	{"password", required_argument, NULL, OPT_PASSWORD},
	{"source-ips", required_argument, NULL, OPT_SOURCES},
	{"connect-rate", required_argument, NULL, OPT_CONNECT_RATE},
	{"mode", required_argument, NULL, OPT_MODE},
	{"duration", required_argument, NULL, 'd'},
	{"mix", required_argument, NULL, OPT_MIX},
	{"think", required_argument, NULL, OPT_THINK},
	{"idle-secs", required_argument, NULL, OPT_IDLE_SECS},
	{"prefill", required_argument, NULL, OPT_PREFILL},
	{"fill", required_argument, NULL, OPT_FILL},
	{"fill-batch", required_argument, NULL, OPT_FILL_BATCH},
	{"fill-window", required_argument, NULL, OPT_FILL_WINDOW},
	{"mailbox", required_argument, NULL, OPT_MAILBOX},
	{"archive", required_argument, NULL, OPT_ARCHIVE},
	{"mbox", required_argument, NULL, OPT_MBOX},
	{"seed", required_argument, NULL, OPT_SEED},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"setup-timeout", required_argument, NULL, OPT_SETUP_TIMEOUT},
	{"server-pid", required_argument, NULL, OPT_SERVER_PID},
	{"settle", required_argument, NULL, OPT_SETTLE},
	{"json", required_argument, NULL, OPT_JSON},
	{"brief", no_argument, NULL, 'q'},
	{"errors", required_argument, NULL, OPT_ERRORS},
	{"list-ops", no_argument, NULL, OPT_LIST_OPS},
	{"rcpts", required_argument, NULL, OPT_RCPTS},
	{"rcpt-domain", required_argument, NULL, OPT_RCPT_DOMAIN},
	{"sender", required_argument, NULL, OPT_SENDER},
	{"no-pipelining", no_argument, NULL, OPT_NO_PIPELINING},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

int load_opts_parse(struct load_opts *o, int argc, char **argv)
{
	unsigned long long v;
	bool users_set = false, duration_set = false;
	const char *sources = NULL;
	int c, r = 0;

	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->clients = 10;
	o->procs = 1;
	o->user_first = 1;
	o->user_prefix = "bench";
	o->password = "benchpw";
	o->duration = 30;
	o->timeout_s = 60;
	o->setup_timeout_s = 600;
	o->idle_ms = 2000;
	o->connect_rate = 1000;
	o->fill_batch = 50;
	o->fill_window = 2;
	o->mailbox = "INBOX";
	o->archive = "Archive";
	o->seed = 1;
	o->settle_s = 2;
	o->max_error_lines = 20;
	o->mix_spec = "default";
	o->rcpts = 1;
	o->rcpt_domain = "bench.test";
	o->sender = "load@bench.test";
	o->lmtp_pipelining = true;

	while (r == 0 && (c = getopt_long(argc, argv, "c:P:d:qh", load_long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOST: o->host = optarg; break;
		case OPT_PORT: r = load_opts_u("--port", optarg, 1, 65535, &o->port); break;
		case OPT_TLS: o->tls = true; break;
		case OPT_STARTTLS: o->starttls = true; break;
		case 'c': r = load_opts_u("--clients", optarg, 1, 10000000, &o->clients); break;
		case 'P': r = load_opts_u("--procs", optarg, 1, LOAD_MAX_PROCS, &o->procs); break;
		case OPT_USERS:
			r = load_opts_u("--users", optarg, 1, 100000000, &o->users);
			users_set = true;
			break;
		case OPT_USER_FIRST:
			r = load_opts_u("--user-first", optarg, 0, 100000000, &o->user_first);
			break;
		case OPT_USER_PREFIX: o->user_prefix = optarg; break;
		case OPT_PASSWORD: o->password = optarg; break;
		case OPT_SOURCES: sources = optarg; break;
		case OPT_CONNECT_RATE:
			r = load_opts_u("--connect-rate", optarg, 1, 1000000, &o->connect_rate);
			break;
		case OPT_MODE:
			if (strcmp(optarg, "mix") == 0) {
				o->mode = LOAD_MODE_MIX;
			} else if (strcmp(optarg, "idle") == 0) {
				o->mode = LOAD_MODE_IDLE;
			} else if (strcmp(optarg, "fill") == 0) {
				o->mode = LOAD_MODE_FILL;
			} else if (strcmp(optarg, "lmtp") == 0) {
				o->mode = LOAD_MODE_LMTP;
			} else {
				fprintf(stderr, "kura-load: --mode: mix, idle, fill or lmtp\n");
				r = -1;
			}
			break;
		case 'd':
			r = load_opts_uint("--duration", optarg, 0, 10000000, &v);
			o->duration = (double)v;
			duration_set = true;
			break;
		case OPT_MIX: o->mix_spec = optarg; break;
		case OPT_THINK: r = load_opts_u("--think", optarg, 0, 3600000, &o->think_ms); break;
		case OPT_IDLE_SECS:
			r = load_opts_u("--idle-secs", optarg, 0, 86400, &o->idle_ms);
			o->idle_ms *= 1000;
			break;
		case OPT_PREFILL: r = load_opts_u("--prefill", optarg, 0, 10000000, &o->prefill); break;
		case OPT_FILL: r = load_opts_u("--fill", optarg, 1, 100000000, &o->fill); break;
		case OPT_FILL_BATCH:
			r = load_opts_u("--fill-batch", optarg, 1, 1000, &o->fill_batch);
			break;
		case OPT_FILL_WINDOW:
			r = load_opts_u("--fill-window", optarg, 1, 6, &o->fill_window);
			break;
		case OPT_MAILBOX: o->mailbox = optarg; break;
		case OPT_ARCHIVE: o->archive = optarg; break;
		case OPT_MBOX: o->mbox_path = optarg; break;
		case OPT_SEED:
			r = load_opts_uint("--seed", optarg, 0, UINT64_MAX, &v);
			o->seed = v;
			break;
		case OPT_TIMEOUT: r = load_opts_u("--timeout", optarg, 1, 86400, &o->timeout_s); break;
		case OPT_SETUP_TIMEOUT:
			r = load_opts_u("--setup-timeout", optarg, 1, 86400, &o->setup_timeout_s);
			break;
		case OPT_SERVER_PID:
			r = load_opts_uint("--server-pid", optarg, 1, 4194304, &v);
			o->server_pid = (int)v;
			break;
		case OPT_SETTLE: r = load_opts_u("--settle", optarg, 0, 3600, &o->settle_s); break;
		case OPT_JSON: o->json_path = optarg; break;
		case 'q': o->brief = true; break;
		case OPT_ERRORS: r = load_opts_u("--errors", optarg, 0, 1000000, &o->max_error_lines); break;
		case OPT_LIST_OPS: load_opts_list_ops(); return 0;
		case OPT_RCPTS: r = load_opts_u("--rcpts", optarg, 1, 1000, &o->rcpts); break;
		case OPT_RCPT_DOMAIN: o->rcpt_domain = optarg; break;
		case OPT_SENDER: o->sender = optarg; break;
		case OPT_NO_PIPELINING: o->lmtp_pipelining = false; break;
		case 'h': load_opts_usage(stdout); return 0;
		default: load_opts_usage(stderr); return -1;
		}
	}
	if (r < 0)
		return -1;
	if (optind < argc) {
		fprintf(stderr, "kura-load: unexpected argument %s\n", argv[optind]);
		return -1;
	}
	if (o->tls && o->starttls) {
		fprintf(stderr, "kura-load: --tls and --starttls exclude each other\n");
		return -1;
	}
	if (o->mode == LOAD_MODE_LMTP && (o->tls || o->starttls)) {
		fprintf(stderr, "kura-load: --mode lmtp speaks plain LMTP (no --tls, --starttls)\n");
		return -1;
	}
	if (o->port == 0)
		o->port = o->mode == LOAD_MODE_LMTP ? 2424 : o->tls ? 993 : 143;
	if (o->procs > o->clients)
		o->procs = o->clients;
	if (!users_set)
		o->users = o->mode == LOAD_MODE_LMTP && o->rcpts > o->clients ? o->rcpts : o->clients;
	o->shared = o->users < o->clients;
	if (o->mode == LOAD_MODE_LMTP && o->rcpts > o->users) {
		fprintf(stderr, "kura-load: --rcpts %u needs at least as many --users (%u)\n",
			o->rcpts, o->users);
		return -1;
	}
	if (strpbrk(o->rcpt_domain, "<>@ \r\n") != NULL || strpbrk(o->sender, "<> \r\n") != NULL) {
		fprintf(stderr, "kura-load: --rcpt-domain and --sender: no spaces, <, > or line ends\n");
		return -1;
	}
	if (o->mode == LOAD_MODE_FILL) {
		if (o->fill == 0) {
			fprintf(stderr, "kura-load: --mode fill needs --fill N\n");
			return -1;
		}
		if (!duration_set)
			o->duration = 0;
	}
	if (o->mode == LOAD_MODE_MIX && load_opts_mix(o, o->mix_spec) < 0)
		return -1;
	if (sources != NULL && load_opts_sources(o, sources) < 0)
		return -1;
	if (load_opts_resolve(o) < 0)
		return -1;
	for (unsigned i = 0; i < o->src_count; i++) {
		if (o->src[i].ss_family != o->addr.ss_family) {
			fprintf(stderr, "kura-load: --source-ips: address family differs from %s\n",
				o->host);
			return -1;
		}
	}
	return 1;
}
