/* main.c: the kura command. `kura serve` runs the daemon; the other subcommands are the
 * operator's tools (users, configuration). Options before the subcommand: -c FILE. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth/userdb.h"
#include "daemon/privdrop.h"
#include "daemon/roles.h"
#include "daemon/settings.h"
#include "lib/fdutil.h"
#include "lib/log.h"
#include "lib/secure.h"
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

int main(int argc, char **argv)
{
	const char *config = NULL;
	int i = 1;
	log_set_role("kura");
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
		return 1;
	if (strcmp(cmd, "serve") == 0 && i == argc)
		return master_main(&set);
	if (strcmp(cmd, "user") == 0)
		return cmd_user(&set, argc - i, argv + i);
	if (strcmp(cmd, "check") == 0)
		return cmd_check(&set, argc - i, argv + i);
	usage(stderr);
	return 2;
}
