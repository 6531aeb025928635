/*
 * loopback-bind: a library preloaded into a server (LD_PRELOAD) that keeps its listening sockets on loopback.
 *
 * Orthanc 1.10 (Debian 12) has no setting for the address it listens on: its HTTP server (CivetWeb) and its
 * DICOM server (DCMTK) bind the wildcard address, that is every interface. With this library preloaded:
 *   - a TCP bind() to a wildcard address (0.0.0.0, ::, ::ffff:0.0.0.0) on a fixed port binds loopback instead
 *     (127.0.0.1, ::1, ::ffff:127.0.0.1);
 *   - a TCP bind() to any other non-loopback address on a fixed port fails with EADDRNOTAVAIL;
 *   - listen() on a socket that is not on loopback (bound to port 0, or not bound at all) fails with EACCES,
 *     after binding an unbound socket to loopback.
 * Client sockets (bound to port 0 and never listening) and other socket types are left alone.
 * LOOPBACK_BIND_EXCEPT="PORT=IPV4[,PORT=IPV4…]" binds each such port to that IPv4 address instead: for a DICOM
 * port that modalities must reach, the address of the one interface that faces them.
 * Each rewrite or refusal is logged on stderr.
 *
 * Build: cc -shared -fPIC -O2 -Wall -o loopback-bind.so loopback-bind.c
 * Use:   LD_PRELOAD=/usr/local/lib/neuronova/loopback-bind.so Orthanc orthanc.json
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int is_tcp(int fd)
{
	int type = 0;
	socklen_t n = sizeof type;
	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &n) == 0 && type == SOCK_STREAM;
}

/* except_for returns 1 and sets *out when LOOPBACK_BIND_EXCEPT names port. */
static int except_for(unsigned port, struct in_addr *out)
{
	const char *s = getenv("LOOPBACK_BIND_EXCEPT");
	char buf[512], *save = NULL;
	if (s == NULL || strlen(s) >= sizeof buf)
		return 0;
	strcpy(buf, s);
	for (char *item = strtok_r(buf, ", ", &save); item != NULL; item = strtok_r(NULL, ", ", &save)) {
		char *eq = strchr(item, '=');
		if (eq == NULL)
			continue;
		*eq = '\0';
		if ((unsigned)strtoul(item, NULL, 10) == port && inet_pton(AF_INET, eq + 1, out) == 1)
			return 1;
	}
	return 0;
}

static int loopback4(const struct in_addr *a) { return (ntohl(a->s_addr) >> 24) == 127; }

static int loopback6(const struct in6_addr *a)
{
	if (IN6_IS_ADDR_V4MAPPED(a))
		return a->s6_addr[12] == 127;
	return IN6_IS_ADDR_LOOPBACK(a);
}

static void say(const char *what, unsigned port)
{
	fprintf(stderr, "loopback-bind: port %u: %s\n", port, what);
}

static long sys_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	return syscall(SYS_bind, fd, addr, len);
}

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	if (addr == NULL || !is_tcp(fd))
		return sys_bind(fd, addr, len);
	if (addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		struct sockaddr_in a;
		memcpy(&a, addr, sizeof a);
		unsigned port = ntohs(a.sin_port);
		struct in_addr ex;
		if (port == 0 || loopback4(&a.sin_addr))
			return sys_bind(fd, addr, len);
		if (except_for(port, &ex)) {
			a.sin_addr = ex;
			say("bound to the address LOOPBACK_BIND_EXCEPT gives", port);
		} else if (a.sin_addr.s_addr == htonl(INADDR_ANY)) {
			a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			say("0.0.0.0 replaced by 127.0.0.1", port);
		} else {
			say("bind to a non-loopback address refused", port);
			errno = EADDRNOTAVAIL;
			return -1;
		}
		return sys_bind(fd, (struct sockaddr *)&a, sizeof a);
	}
	if (addr->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		struct sockaddr_in6 a;
		memcpy(&a, addr, sizeof a);
		unsigned port = ntohs(a.sin6_port);
		if (port == 0 || loopback6(&a.sin6_addr))
			return sys_bind(fd, addr, len);
		if (IN6_IS_ADDR_UNSPECIFIED(&a.sin6_addr)) {
			a.sin6_addr = in6addr_loopback;
			say(":: replaced by ::1", port);
		} else if (IN6_IS_ADDR_V4MAPPED(&a.sin6_addr) && memcmp(&a.sin6_addr.s6_addr[12], "\0\0\0\0", 4) == 0) {
			memcpy(&a.sin6_addr.s6_addr[12], "\x7f\0\0\x01", 4);
			say("::ffff:0.0.0.0 replaced by ::ffff:127.0.0.1", port);
		} else {
			say("bind to a non-loopback address refused", port);
			errno = EADDRNOTAVAIL;
			return -1;
		}
		return sys_bind(fd, (struct sockaddr *)&a, sizeof a);
	}
	return sys_bind(fd, addr, len);
}

int listen(int fd, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t n = sizeof ss;
	if (!is_tcp(fd) || getsockname(fd, (struct sockaddr *)&ss, &n) != 0)
		return syscall(SYS_listen, fd, backlog);
	unsigned port = 0;
	int local = 1;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		struct in_addr ex;
		port = ntohs(a->sin_port);
		if (port == 0 && a->sin_addr.s_addr == htonl(INADDR_ANY)) { /* not bound yet */
			a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			if (sys_bind(fd, (struct sockaddr *)a, sizeof *a) != 0)
				return -1;
		} else {
			local = loopback4(&a->sin_addr) || (except_for(port, &ex) && ex.s_addr == a->sin_addr.s_addr);
		}
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		port = ntohs(a->sin6_port);
		if (port == 0 && IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr)) {
			a->sin6_addr = in6addr_loopback;
			if (sys_bind(fd, (struct sockaddr *)a, sizeof *a) != 0)
				return -1;
		} else {
			local = loopback6(&a->sin6_addr);
		}
	}
	if (!local) {
		say("listen on a non-loopback address refused", port);
		errno = EACCES;
		return -1;
	}
	return syscall(SYS_listen, fd, backlog);
}
