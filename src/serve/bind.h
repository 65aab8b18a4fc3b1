/* bind.h - turns `kiln serve --host` into the socket address the HTTP
 * front listens on: every interface by default (as TF Serving), or an
 * IPv4 address, an IPv6 address (brackets optional) or a host name. */
#ifndef KILN_SERVE_BIND_H
#define KILN_SERVE_BIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct serve_bind_addr {
  struct sockaddr_storage addr;
  socklen_t len;
  bool ipv6;       /* addr is a sockaddr_in6 */
  bool dual_stack; /* [::] taking IPv4 too (IPV6_V6ONLY off) */
  char text[80];   /* for logs: "[::]:8501", "127.0.0.1:8501" */
} serve_bind_addr;

/* Resolves host ("" for every interface) and port into *out. An empty
 * host gives [::] dual-stack where the system has IPv6, else 0.0.0.0. A
 * name takes its first address this system can open a socket for. On
 * failure writes a message naming the host to err and returns false. */
bool serve_bind_resolve(const char *host, uint16_t port, serve_bind_addr *out,
                        char *err, size_t err_size);

#endif
