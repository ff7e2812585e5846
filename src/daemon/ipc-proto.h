/* ipc-proto.h: the messages kura's processes exchange (see net/ipc.h for the framing).
 * Field order is the wire order; every receiver checks ipc_reader_done() before acting. */
#ifndef KURA_DAEMON_IPC_PROTO_H
#define KURA_DAEMON_IPC_PROTO_H

enum ipc_type {
	/* master -> login: fd = socket to the auth process */
	IPC_PEER_AUTH = 1,
	/* master -> login: u32 mail index; fd = socket to that mail process */
	IPC_PEER_MAIL,
	/* master -> auth/mail: fd = socket to a login process */
	IPC_PEER_LOGIN,
	/* master -> auth: fd = socket to an lmtp process (which gets IPC_PEER_AUTH) */
	IPC_PEER_LMTP,

	/* login -> auth: u32 id, str session, str mech, str remote ip, u32 has_ir, bytes ir */
	IPC_AUTH_BEGIN = 100,
	/* login -> auth: u32 id, bytes response */
	IPC_AUTH_CONTINUE,
	/* login -> auth: u32 id */
	IPC_AUTH_ABORT,
	/* auth -> login: u32 id, bytes challenge */
	IPC_AUTH_CHALLENGE,
	/* auth -> login: u32 id, str user */
	IPC_AUTH_OK,
	/* auth -> login: u32 id, str code, str message */
	IPC_AUTH_FAIL,

	/* login -> mail: str session, str user, str tag (IMAP; "" for POP3), str remote ip,
	 * u32 tls, bytes pipelined input, u32 protocol (enum ipc_protocol); fd = the client
	 * socket, or the relay socket for TLS */
	IPC_HANDOFF = 200,

	/* lmtp -> auth: u32 id, u32 count (1..4), count x str name: which of these names (tried
	 * in order) is a user? */
	IPC_USER_LOOKUP = 300,
	/* auth -> lmtp: u32 id, u32 result (enum ipc_user_result), u32 index of the name that
	 * matched, str canonical user name ("" unless found) */
	IPC_USER_RESULT,
};

/* The protocol of a handed-off session. */
enum ipc_protocol { IPC_PROTO_IMAP = 0, IPC_PROTO_POP3 = 1 };

enum ipc_user_result { IPC_USER_UNKNOWN = 0, IPC_USER_FOUND = 1, IPC_USER_TEMPFAIL = 2 };

#endif
