/* coord.h: the coordinator, kura-load's first process. It checks the file limit, forks the
 * workers (clients split evenly), drives the phases (setup until every client is ready, the
 * measured run, teardown), merges the workers' stats, prints a report every second and at the
 * end, measures the server's memory when asked, and writes the JSON file.
 * Returns the exit status: 0 no errors, 1 errors counted, 2 the run could not be done. */
#ifndef KURA_LOAD_COORD_H
#define KURA_LOAD_COORD_H

#include "load-opts.h"

struct mbox;

int coord_run(const struct load_opts *o, const struct mbox *mbox);

#endif
