/* main.c: kura-load, the load generator of kura's benchmarks (bench/README.md). Parses the
 * options, loads the messages APPEND uses (before forking, so the workers share them), and
 * hands over to the coordinator. */
#include <signal.h>
#include <stdio.h>

#include "coord.h"
#include "load-opts.h"
#include "mbox.h"

#define LOAD_MBOX_MAX_MESSAGE (64u * 1024 * 1024)
#define LOAD_SYNTHETIC_MESSAGES 200

int main(int argc, char **argv)
{
	struct load_opts o;
	struct mbox mbox;
	const char *err;

	int r = load_opts_parse(&o, argc, argv);
	if (r <= 0)
		return r == 0 ? 0 : 2;
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (o.mbox_path != NULL) {
		size_t skipped;
		if (mbox_load(&mbox, o.mbox_path, LOAD_MBOX_MAX_MESSAGE, &skipped, &err) < 0) {
			fprintf(stderr, "kura-load: %s\n", err);
			return 2;
		}
		if (skipped > 0)
			fprintf(stderr, "kura-load: %zu messages over %u MiB skipped\n", skipped,
				LOAD_MBOX_MAX_MESSAGE >> 20);
	} else {
		mbox_synthetic(&mbox, LOAD_SYNTHETIC_MESSAGES, o.seed);
	}
	r = coord_run(&o, &mbox);
	mbox_free(&mbox);
	return r;
}
