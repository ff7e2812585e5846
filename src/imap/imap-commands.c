/* imap-commands.c: the command table. Plain data: which handler runs a command, in which states
 * it is valid. Commands of later stages are listed so they get an honest NO, not "unknown". */
#include <strings.h>

#include "imap-command.h"

#define ANY (IMAP_STATE_NOT_AUTH | IMAP_STATE_AUTH | IMAP_STATE_SELECTED)
#define AUTHED (IMAP_STATE_AUTH | IMAP_STATE_SELECTED)
#define SELECTED IMAP_STATE_SELECTED

static const struct imap_command_def imap_commands[] = {
	{"CAPABILITY", cmd_capability, ANY, 0},
	{"NOOP", cmd_noop, ANY, 0},
	{"LOGOUT", cmd_logout, ANY, 0},
	{"ID", cmd_id, ANY, 0},
	{"STARTTLS", cmd_starttls, IMAP_STATE_NOT_AUTH, 0},
	{"LOGIN", cmd_login, IMAP_STATE_NOT_AUTH, 0},
	{"AUTHENTICATE", cmd_authenticate, IMAP_STATE_NOT_AUTH, 0},
	{"ENABLE", cmd_enable, AUTHED, 0},
	/* mailbox access: the store arrives with the next stage (issue 3) */
	{"SELECT", cmd_not_available, AUTHED, 0},
	{"EXAMINE", cmd_not_available, AUTHED, 0},
	{"CREATE", cmd_not_available, AUTHED, 0},
	{"DELETE", cmd_not_available, AUTHED, 0},
	{"RENAME", cmd_not_available, AUTHED, 0},
	{"SUBSCRIBE", cmd_not_available, AUTHED, 0},
	{"UNSUBSCRIBE", cmd_not_available, AUTHED, 0},
	{"LIST", cmd_not_available, AUTHED, 0},
	{"LSUB", cmd_not_available, AUTHED, 0},
	{"NAMESPACE", cmd_not_available, AUTHED, 0},
	{"STATUS", cmd_not_available, AUTHED, 0},
	{"APPEND", cmd_not_available, AUTHED, 0},
	{"IDLE", cmd_not_available, AUTHED, 0},
	{"CHECK", cmd_not_available, SELECTED, 0},
	{"CLOSE", cmd_not_available, SELECTED, 0},
	{"UNSELECT", cmd_not_available, SELECTED, 0},
	{"EXPUNGE", cmd_not_available, SELECTED, IMAP_CMD_FLAG_USES_SEQS},
	{"SEARCH", cmd_not_available, SELECTED, IMAP_CMD_FLAG_USES_SEQS},
	{"FETCH", cmd_not_available, SELECTED, IMAP_CMD_FLAG_USES_SEQS},
	{"STORE", cmd_not_available, SELECTED, IMAP_CMD_FLAG_USES_SEQS},
	{"COPY", cmd_not_available, SELECTED, IMAP_CMD_FLAG_USES_SEQS},
	{"MOVE", cmd_not_available, SELECTED, IMAP_CMD_FLAG_USES_SEQS},
	{"UID", cmd_not_available, SELECTED, 0},
};

const struct imap_command_def *imap_command_find(const char *name)
{
	for (size_t i = 0; i < sizeof(imap_commands) / sizeof(imap_commands[0]); i++) {
		if (strcasecmp(imap_commands[i].name, name) == 0)
			return &imap_commands[i];
	}
	return NULL;
}
