/* main.c: the kura command. `kura serve` runs the daemon; the other subcommands are the
 * operator's tools (users, configuration). Options before the subcommand: -c FILE. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <termios.h>
#include <unistd.h>

#include "auth/userdb.h"
#include "daemon/privdrop.h"
#include "daemon/roles.h"
#include "daemon/settings.h"
#include "lib/fdutil.h"
#include "lib/log.h"
#include "lib/pool.h"
#include "lib/secure.h"
#include "lmtp/lmtp-data.h"
#include "lmtp/lmtp-delivery.h"
#include "lmtp/lmtp-parser.h"
#include "lib/spool.h"
#include "store/store.h"
#include "store/store-search.h"

#define KURA_VERSION "0.1.0"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kura [-c FILE] COMMAND ...\n"
		"\n"
		"  serve                      run the server in the foreground (no -c: embedded default,\n"
		"                             data in ./kura-data, IMAP 127.0.0.1:1143, IMAPS :1993)\n"
		"  user add NAME              add a user; the password is read from stdin\n"
		"  user passwd NAME           change a user's password (read from stdin)\n"
		"  user del NAME              delete a user\n"
		"  user list                  list users\n"
		"  user import FILE           import a Dovecot passwd-file (keeps the hashes)\n"
		"  check USER [--repair]      verify a user's mail store (and repair what can be)\n"
		"  check USER --reindex       rebuild the user's search index\n"
		"  deliver -u USER [-m MAILBOX] [-f SENDER] [-a ADDRESS]\n"
		"                             deliver one message read from stdin (exit codes from\n"
		"                             sysexits.h: 0 delivered, 67 no such user, 75 try later)\n"
		"  config check FILE          validate a configuration file\n"
		"  version                    print the version\n"
		"\n"
		"  -c FILE                    read settings from FILE (see docs/kura.conf.md)\n");
}

static int load_settings(struct settings *set, const char *path)
{
	char error[1200];
	settings_defaults(set);
	if (path != NULL && settings_load(set, path, error, sizeof(error)) < 0) {
		fprintf(stderr, "kura: %s\n", error);
		return -1;
	}
	if (settings_finish(set, error, sizeof(error)) < 0) {
		fprintf(stderr, "kura: %s%s%s\n", path ? path : "", path ? ": " : "", error);
		return -1;
	}
	return 0;
}

/* Read a password: prompt twice on a terminal, else one line from stdin. */
static int read_password(char *pw, size_t size)
{
	bool tty = isatty(STDIN_FILENO);
	struct termios old, noecho;
	if (tty) {
		tcgetattr(STDIN_FILENO, &old);
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho);
		fprintf(stderr, "Password: ");
	}
	int ret = -1;
	if (fgets(pw, (int)size, stdin) != NULL) {
		size_t n = strlen(pw);
		if (n > 0 && pw[n - 1] == '\n')
			pw[--n] = '\0';
		if (n > 0 && pw[n - 1] == '\r')
			pw[--n] = '\0';
		ret = 0;
		if (tty) {
			char again[1024];
			fprintf(stderr, "\nAgain: ");
			if (fgets(again, sizeof(again), stdin) == NULL)
				ret = -1;
			else {
				again[strcspn(again, "\r\n")] = '\0';
				if (strcmp(again, pw) != 0) {
					fprintf(stderr, "\nkura: the passwords differ");
					ret = -1;
				}
			}
			secure_zero(again, sizeof(again));
		}
	}
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	if (ret == 0 && pw[0] == '\0') {
		fprintf(stderr, "kura: empty password\n");
		ret = -1;
	}
	return ret;
}

/* The running server's auth process opens users.db as the configured user. */
static void fix_db_owner(const struct settings *set)
{
	if (!privdrop_is_root())
		return;
	uid_t uid;
	gid_t gid;
	char error[300], path[1100];
	if (privdrop_lookup(set->user, &uid, &gid, error, sizeof(error)) < 0)
		return;
	static const char *const files[] = {"", "users.db", "users.db-wal", "users.db-shm"};
	for (size_t i = 0; i < 4; i++) {
		if (i == 0)
			snprintf(path, sizeof(path), "%s", set->data_dir);
		else
			settings_path(set, files[i], path, sizeof(path));
		if (chown(path, uid, gid) < 0 && errno != ENOENT)
			fprintf(stderr, "kura: chown %s: %s\n", path, strerror(errno));
	}
}

/* Run as root with no users.db yet: create it empty, owned by the configured user, under a
 * temporary name and link it into place, so users.db is never visible owned by root. A server
 * starting meanwhile opens users.db in its auth process as that user: a root-owned 0600 file
 * there made it exit ("Permission denied") and the logins of the next 200 ms fail. */
static void create_db_owned(const struct settings *set, const char *path)
{
	if (!privdrop_is_root() || access(path, F_OK) == 0)
		return;
	uid_t uid;
	gid_t gid;
	char error[300], tmp[1100];
	if (privdrop_lookup(set->user, &uid, &gid, error, sizeof(error)) < 0)
		return;
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return;
	int fd = mkstemp(tmp);
	if (fd < 0)
		return; /* userdb_open creates it and reports what is wrong */
	if (fchown(fd, uid, gid) < 0) /* mkstemp made it 0600 */
		fprintf(stderr, "kura: chown %s: %s\n", tmp, strerror(errno));
	else if (link(tmp, path) < 0 && errno != EEXIST)
		fprintf(stderr, "kura: cannot create %s: %s\n", path, strerror(errno));
	close(fd);
	unlink(tmp);
}

static int print_user(const char *name, void *ctx)
{
	printf("%s\n", name);
	return 0;
}

static int cmd_user(const struct settings *set, int argc, char **argv)
{
	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	char path[1100];
	settings_path(set, "users.db", path, sizeof(path));
	if (dir_create(set->data_dir, 0750) < 0) {
		fprintf(stderr, "kura: cannot create %s: %s\n", set->data_dir, strerror(errno));
		return 1;
	}
	create_db_owned(set, path);
	struct userdb *db;
	const char *err = NULL;
	if (userdb_open(path, true, &db, &err) < 0) {
		fprintf(stderr, "kura: %s: %s\n", path, err != NULL ? err : "cannot open");
		return 1;
	}
	fix_db_owner(set);
	int ret = 0;
	const char *sub = argv[0];
	if ((strcmp(sub, "add") == 0 || strcmp(sub, "passwd") == 0) && argc == 2) {
		char pw[1024];
		if (userdb_name_valid(argv[1], &err) <= 0) {
			fprintf(stderr, "kura: invalid user name: %s\n", err ? err : "?");
			ret = 1;
		} else if (read_password(pw, sizeof(pw)) < 0) {
			ret = 1;
		} else if ((strcmp(sub, "add") == 0 ? userdb_user_add(db, argv[1], pw, &err)
						     : userdb_user_passwd(db, argv[1], pw, &err)) < 0) {
			fprintf(stderr, "kura: %s\n", err != NULL ? err : "failed");
			ret = 1;
		} else {
			printf("%s %s\n", strcmp(sub, "add") == 0 ? "added user" : "changed password of",
			       argv[1]);
		}
		secure_zero(pw, sizeof(pw));
	} else if (strcmp(sub, "del") == 0 && argc == 2) {
		if (userdb_user_del(db, argv[1], &err) < 0) {
			fprintf(stderr, "kura: %s\n", err != NULL ? err : "failed");
			ret = 1;
		} else {
			printf("deleted user %s\n", argv[1]);
		}
	} else if (strcmp(sub, "list") == 0 && argc == 1) {
		if (userdb_user_list(db, print_user, NULL, &err) < 0) {
			fprintf(stderr, "kura: %s\n", err != NULL ? err : "failed");
			ret = 1;
		}
	} else if (strcmp(sub, "import") == 0 && argc == 2) {
		int n = 0;
		if (userdb_import_passwd_file(db, argv[1], false, &n, &err) < 0) {
			fprintf(stderr, "kura: %s\n", err != NULL ? err : "import failed");
			ret = 1;
		} else {
			printf("imported %d users from %s\n", n, argv[1]);
		}
	} else {
		usage(stderr);
		ret = 2;
	}
	userdb_close(&db);
	fix_db_owner(set);
	return ret;
}

static void check_report(void *ctx, const char *line)
{
	printf("%s\n", line);
}

static int cmd_check(const struct settings *set, int argc, char **argv)
{
	bool repair = argc == 2 && strcmp(argv[1], "--repair") == 0;
	bool reindex = argc == 2 && strcmp(argv[1], "--reindex") == 0;
	if (argc < 1 || argc > 2 || (argc == 2 && !repair && !reindex)) {
		usage(stderr);
		return 2;
	}
	const char *err = NULL;
	if (userdb_name_valid(argv[0], &err) <= 0) {
		fprintf(stderr, "kura: invalid user name: %s\n", err ? err : "?");
		return 1;
	}
	char canon[USERDB_NAME_MAX + 1], root[1100];
	if (userdb_name_canonical(argv[0], canon, &err) < 0) {
		fprintf(stderr, "kura: invalid user name: %s\n", err ? err : "?");
		return 1;
	}
	settings_path(set, "users", root, sizeof(root));
	/* the store belongs to the mail processes' user: never create root-owned files in it */
	char perr[512];
	if (privdrop_apply(set->user, NULL, perr, sizeof(perr)) < 0) {
		fprintf(stderr, "kura: %s\n", perr);
		return 1;
	}
	struct store *store;
	if (store_open(root, canon, &store, &err) < 0) {
		fprintf(stderr, "kura: cannot open the store of %s: %s\n", canon, err ? err : "?");
		return 1;
	}
	if (reindex) {
		unsigned count = 0;
		int r = store_search_reindex(store, check_report, NULL, &count, &err);
		store_close(&store);
		if (r < 0) {
			fprintf(stderr, "kura: reindex failed: %s\n", err ? err : "?");
			return 1;
		}
		printf("%s: search index rebuilt (%u message%s)\n", canon, count,
		       count == 1 ? "" : "s");
		return 0;
	}
	unsigned problems = 0;
	int ret = store_check(store, repair, check_report, NULL, &problems, &err);
	store_close(&store);
	if (ret < 0) {
		fprintf(stderr, "kura: check failed: %s\n", err ? err : "?");
		return 1;
	}
	printf("%s: %u problem%s%s\n", canon, problems, problems == 1 ? "" : "s",
	       repair && problems > 0 ? " (repaired what could be)" : "");
	return problems == 0 || repair ? 0 : 1;
}

/* --- deliver --- */

/* Read stdin into the spool: LF line ends become CRLF (lmtp-data.h raw mode), a leading mbox
 * "From " separator line is dropped, and more than max bytes is refused. 0, 1 too big, -1. */
static int deliver_read(struct spool *spool, uint64_t max, const char **error_r)
{
	static unsigned char in[65536], out[2 * 65536];
	struct lmtp_data dec;
	lmtp_data_init(&dec, true);
	uint64_t total = 0;
	size_t have = 0;
	bool first = true, skipping = false, eof = false;
	while (!eof) {
		ssize_t n = read(STDIN_FILENO, in + have, sizeof(in) - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = strerror(errno);
			return -1;
		}
		eof = n == 0;
		have += (size_t)n;
		if (first && have < 5 && !eof)
			continue; /* enough to tell whether the message starts with "From " */
		size_t start = 0;
		if (first) {
			first = false;
			skipping = have >= 5 && memcmp(in, "From ", 5) == 0;
		}
		if (skipping) {
			const unsigned char *lf = memchr(in, '\n', have);
			if (lf == NULL) {
				have = 0;
				continue;
			}
			skipping = false;
			start = (size_t)(lf - in) + 1;
		}
		size_t pos = start;
		while (pos < have) {
			size_t used, out_len;
			lmtp_data_decode(&dec, in + pos, have - pos, &used, out, sizeof(out), &out_len);
			pos += used;
			total += out_len;
			if (max > 0 && total > max)
				return 1;
			if (out_len > 0 && spool_write(spool, out, out_len, error_r) < 0)
				return -1;
		}
		have = 0;
	}
	size_t tail = lmtp_data_finish(&dec, out);
	if (tail > 0 && spool_write(spool, out, tail, error_r) < 0)
		return -1;
	return max > 0 && total + tail > max ? 1 : 0;
}

/* kura deliver: a local delivery agent for an MTA's mailbox_command or pipe transport. Exit
 * codes follow sysexits.h as MTAs read them: 0 delivered (on stable storage), EX_NOUSER no such
 * user, EX_DATAERR too big, EX_USAGE bad arguments, EX_TEMPFAIL for everything that may pass
 * (store, database, disk, configuration): the MTA keeps the message and tries again. */
static int cmd_deliver(const struct settings *set, int argc, char **argv)
{
	const char *user = NULL, *mailbox = NULL, *sender = NULL, *address = NULL;
	for (int i = 0; i < argc; i++) {
		const char **opt = NULL;
		if (strcmp(argv[i], "-u") == 0)
			opt = &user;
		else if (strcmp(argv[i], "-m") == 0)
			opt = &mailbox;
		else if (strcmp(argv[i], "-f") == 0)
			opt = &sender;
		else if (strcmp(argv[i], "-a") == 0)
			opt = &address;
		if (opt == NULL || i + 1 >= argc) {
			usage(stderr);
			return EX_USAGE;
		}
		*opt = argv[++i];
	}
	if (user == NULL) {
		fprintf(stderr, "kura deliver: -u USER is required\n");
		return EX_USAGE;
	}
	for (const char *p = sender != NULL ? sender : ""; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			fprintf(stderr, "kura deliver: invalid sender address\n");
			return EX_USAGE;
		}
	}
	for (const char *p = address != NULL ? address : ""; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			fprintf(stderr, "kura deliver: invalid recipient address\n");
			return EX_USAGE;
		}
	}
	/* "<x>" as MTAs pass ${sender} sometimes: keep the address only */
	char sender_buf[1024];
	if (sender != NULL) {
		size_t n = strlen(sender);
		if (n >= 2 && sender[0] == '<' && sender[n - 1] == '>') {
			snprintf(sender_buf, sizeof(sender_buf), "%.*s", (int)(n - 2), sender + 1);
			sender = sender_buf;
		}
		if (strlen(sender) > 512) {
			fprintf(stderr, "kura deliver: sender address too long\n");
			return EX_USAGE;
		}
	}
	if (address != NULL && strlen(address) > 512) {
		fprintf(stderr, "kura deliver: recipient address too long\n");
		return EX_USAGE;
	}
	const char *err = NULL;
	char canon[USERDB_NAME_MAX + 1], perr[512], path[1100];
	if (userdb_name_canonical(user, canon, &err) < 0) {
		fprintf(stderr, "kura deliver: no such user: %s\n", user);
		return EX_NOUSER;
	}
	/* the store and the spool belong to the mail user: never create root-owned files */
	bool was_root = privdrop_is_root();
	if (privdrop_apply(set->user, NULL, perr, sizeof(perr)) < 0) {
		fprintf(stderr, "kura deliver: %s\n", perr);
		return EX_TEMPFAIL;
	}
	/* Started by someone else (Postfix's mailbox_command runs as the recipient's uid): a
	 * store created now would belong to that uid and be unreadable to the server. Refuse
	 * with a clear message; the MTA keeps the message. */
	struct stat dst;
	if (!was_root && stat(set->data_dir, &dst) == 0 && dst.st_uid != getuid()) {
		fprintf(stderr, "kura deliver: %s belongs to uid %ld, not to uid %ld running this: "
			"run kura deliver as that user (or as root), or deliver over LMTP\n",
			set->data_dir, (long)dst.st_uid, (long)getuid());
		return EX_TEMPFAIL;
	}
	settings_path(set, "users.db", path, sizeof(path));
	struct userdb *db;
	struct userdb_user u;
	memset(&u, 0, sizeof(u));
	if (userdb_open(path, false, &db, &err) < 0) {
		fprintf(stderr, "kura deliver: %s: %s\n", path, err != NULL ? err : "cannot open");
		return EX_TEMPFAIL;
	}
	int found = userdb_lookup(db, canon, &u, &err);
	userdb_user_clear(&u);
	userdb_close(&db);
	if (found < 0) {
		fprintf(stderr, "kura deliver: user lookup failed: %s\n", err != NULL ? err : "?");
		return EX_TEMPFAIL;
	}
	if (found == 0) {
		fprintf(stderr, "kura deliver: no such user: %s\n", canon);
		return EX_NOUSER;
	}
	settings_path(set, "spool", path, sizeof(path));
	struct spool *spool;
	if (dir_create(path, 0700) < 0 || spool_create(path, &spool, &err) < 0) {
		fprintf(stderr, "kura deliver: %s\n", err != NULL ? err : strerror(errno));
		return EX_TEMPFAIL;
	}
	int r = deliver_read(spool, set->append_limit, &err);
	if (r != 0) {
		spool_destroy(&spool);
		if (r > 0) {
			fprintf(stderr, "kura deliver: message larger than append_limit (%llu bytes)\n",
				(unsigned long long)set->append_limit);
			return EX_DATAERR;
		}
		fprintf(stderr, "kura deliver: reading the message: %s\n", err);
		return EX_TEMPFAIL;
	}
	settings_path(set, "users", path, sizeof(path));
	struct store *store;
	if (dir_create(path, 0700) < 0 || store_open(path, canon, &store, &err) < 0) {
		fprintf(stderr, "kura deliver: cannot open the store of %s: %s\n", canon,
			err != NULL ? err : strerror(errno));
		spool_destroy(&spool);
		return EX_TEMPFAIL;
	}
	/* no -m: the detail of the -a address, as over LMTP (user+lists@ -> "lists") */
	struct pool *pool = pool_create(1024);
	if (mailbox == NULL && address != NULL && set->lmtp_detail_mailbox) {
		struct lmtp_path rcpt;
		struct lmtp_error rerr;
		struct lmtp_rcpt_names names;
		if (lmtp_parse_rcpt(pool, pool_printf(pool, "TO:<%s>", address), &rcpt, &rerr) == 0) {
			lmtp_rcpt_names(pool, &rcpt, set->recipient_delimiter, &names);
			mailbox = names.detail;
		}
	}
	struct lmtp_delivery d = {
		.return_path = sender,
		/* as Dovecot's LDA: the original recipient when the MTA passes it, else the user */
		.delivered_to = address != NULL ? address : canon,
		.mailbox = mailbox,
		.max_size = set->append_limit,
	};
	struct lmtp_delivery_result res;
	int ret = lmtp_deliver(store, spool, &d, &res);
	store_close(&store);
	spool_destroy(&spool);
	pool_destroy(&pool);
	if (ret == 0)
		return EX_OK;
	fprintf(stderr, "kura deliver: delivery to %s failed: %s\n", canon,
		res.error != NULL ? res.error : "?");
	switch (res.status) {
	case LMTP_DELIVERY_TOOBIG:
		return EX_DATAERR;
	case LMTP_DELIVERY_OVERQUOTA:
		return EX_CANTCREAT;
	default:
		return EX_TEMPFAIL;
	}
}

int main(int argc, char **argv)
{
	const char *config = NULL;
	int i = 1;
	log_set_role("kura");
	store_library_init();
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			config = argv[i + 1];
			i += 2;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[i++];
	struct settings set;
	if (strcmp(cmd, "version") == 0) {
		printf("kura %s\n", KURA_VERSION);
		return 0;
	}
	if (strcmp(cmd, "config") == 0) {
		if (i + 2 != argc || strcmp(argv[i], "check") != 0) {
			usage(stderr);
			return 2;
		}
		if (load_settings(&set, argv[i + 1]) < 0)
			return 1;
		printf("%s: ok\n", argv[i + 1]);
		return 0;
	}
	if (load_settings(&set, config) < 0)
		return strcmp(cmd, "deliver") == 0 ? EX_TEMPFAIL : 1;
	if (strcmp(cmd, "serve") == 0 && i == argc)
		return master_main(&set);
	if (strcmp(cmd, "user") == 0)
		return cmd_user(&set, argc - i, argv + i);
	if (strcmp(cmd, "check") == 0)
		return cmd_check(&set, argc - i, argv + i);
	if (strcmp(cmd, "deliver") == 0) {
		log_set_role("deliver");
		return cmd_deliver(&set, argc - i, argv + i);
	}
	usage(stderr);
	return 2;
}
