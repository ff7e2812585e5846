/* listen.h: opening listening sockets and describing peers. */
#ifndef KURA_NET_LISTEN_H
#define KURA_NET_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Bind and listen on "host:port" ("[::1]:143" for IPv6). Returns the fd (non-blocking,
 * close-on-exec) or -1 with a message in error. */
int listen_open(const char *hostport, char *error, size_t error_size);
/* Bind and listen on a UNIX stream socket at path with the given permission bits. A socket
 * file left behind by an earlier run is replaced; one that still accepts connections (another
 * server) or a path that is not a socket is an error. Returns the fd (non-blocking,
 * close-on-exec) or -1 with a message in error. */
int listen_open_unix(const char *path, unsigned mode, char *error, size_t error_size);
/* Accept one connection from a listening socket: the fd (non-blocking, close-on-exec), or -1
 * with errno (EAGAIN when none is waiting). A TCP connection gets TCP_NODELAY: kura buffers
 * each reply and writes it whole, and with Nagle on, a reply written while an earlier one is
 * unacknowledged waits for the client's delayed ACK (40 ms on Linux), which a client that
 * waits for the reply before sending (LMTP's RCPT before DATA, an IMAP command whose answer
 * comes in two writes) pays every time. */
int listen_accept(int lfd);
/* "1.2.3.4" / "::1" and the port of the peer of fd ("local" and 0 for a UNIX socket). */
int listen_peer_name(int fd, char *ip, size_t ip_size, unsigned *port_r);
/* True if ip is a loopback address (127.0.0.0/8, ::1, ::ffff:127.x). */
bool listen_ip_is_loopback(const char *ip);

#endif
