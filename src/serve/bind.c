/* bind.c - `kiln serve --host` to a listening address (see bind.h).
 * Names go through getaddrinfo, so /etc/hosts and DNS both work and a
 * container's service name can be given. */
#include "serve/bind.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Whether this system can open a socket of the family (an IPv6-less
 * container cannot open AF_INET6 ones). */
static bool family_usable(int family) {
  int fd = socket(family, SOCK_STREAM, 0);
  if (fd < 0) return false;
  close(fd);
  return true;
}

static void describe(serve_bind_addr *out, uint16_t port) {
  char ip[INET6_ADDRSTRLEN] = "?";
  if (out->ipv6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&out->addr;
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
    snprintf(out->text, sizeof out->text, "[%s]:%u", ip, (unsigned)port);
  } else {
    const struct sockaddr_in *a = (const struct sockaddr_in *)&out->addr;
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    snprintf(out->text, sizeof out->text, "%s:%u", ip, (unsigned)port);
  }
}

static void set_any(serve_bind_addr *out, uint16_t port) {
  memset(out, 0, sizeof *out);
  if (family_usable(AF_INET6)) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out->addr;
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_any;
    a->sin6_port = htons(port);
    out->len = sizeof *a;
    out->ipv6 = out->dual_stack = true;
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&out->addr;
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_ANY);
    a->sin_port = htons(port);
    out->len = sizeof *a;
  }
  describe(out, port);
}

bool serve_bind_resolve(const char *host, uint16_t port, serve_bind_addr *out,
                        char *err, size_t err_size) {
  if (!host[0]) {
    set_any(out, port);
    return true;
  }
  /* "[::1]" as in a URL: the brackets are not part of the address. */
  char name[256];
  size_t len = strlen(host);
  if (host[0] == '[' && len >= 2 && host[len - 1] == ']') {
    host++;
    len -= 2;
  }
  if (len == 0 || len >= sizeof name) {
    snprintf(err, err_size, "--host=%s is not an address or host name", host);
    return false;
  }
  memcpy(name, host, len);
  name[len] = '\0';
  memset(out, 0, sizeof *out);
  struct addrinfo hints, *found = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  int rc = getaddrinfo(name, NULL, &hints, &found);
  if (rc != 0) {
    snprintf(err, err_size, "--host=%s does not resolve to an address (%s)",
             name, gai_strerror(rc));
    return false;
  }
  bool ok = false;
  for (const struct addrinfo *a = found; a && !ok; a = a->ai_next) {
    if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
        a->ai_addrlen > sizeof out->addr || !family_usable(a->ai_family))
      continue;
    memcpy(&out->addr, a->ai_addr, a->ai_addrlen);
    out->len = a->ai_addrlen;
    out->ipv6 = a->ai_family == AF_INET6;
    if (out->ipv6) {
      struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&out->addr;
      in6->sin6_port = htons(port);
      /* "::" given by hand means every interface, as the default does. */
      out->dual_stack = IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
    } else {
      ((struct sockaddr_in *)&out->addr)->sin_port = htons(port);
    }
    ok = true;
  }
  freeaddrinfo(found);
  if (!ok) {
    snprintf(err, err_size,
             "--host=%s has no address this system can listen on", name);
    return false;
  }
  describe(out, port);
  return true;
}
