#ifndef MARAC_CEPOLL_H
#define MARAC_CEPOLL_H

// epoll(7), eventfd(2), accept4(2) and pthread_setname_np(3) for the HTTP server's event loops, behind plain functions: Glibc's
// Swift module does not export <sys/epoll.h>, <sys/eventfd.h>, accept4 or pthread_setname_np, and struct epoll_event is
// packed on x86-64, which Swift cannot lay out. Each function is the one system call it names
// (returning -1 with errno set on failure), so the Swift side checks it with `systemCall`.

#include <stdint.h>
#include <sys/socket.h>

// The event bits, as epoll defines them.
extern const uint32_t shim_EPOLLIN;
extern const uint32_t shim_EPOLLOUT;
extern const uint32_t shim_EPOLLRDHUP;
extern const uint32_t shim_EPOLLERR;
extern const uint32_t shim_EPOLLHUP;
extern const uint32_t shim_EPOLLET;

/// epoll_create1(EPOLL_CLOEXEC).
int shim_epoll_create(void);
/// epoll_ctl(EPOLL_CTL_ADD) of `fd` for `events`, reported with `token`.
int shim_epoll_add(int epoll, int fd, uint32_t events, uint64_t token);
/// epoll_wait for at most `max` (≤ 512) events or `timeout` ms (-1: no limit); fills `tokens`
/// and `events` and returns the count.
int shim_epoll_wait(int epoll, uint64_t *tokens, uint32_t *events, int max, int timeout);
/// eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC).
int shim_eventfd(void);
/// pthread_setname_np(pthread_self(), name) (at most 15 bytes): names the calling loop thread for
/// top, perf and /proc; Glibc's module hides it (it needs _GNU_SOURCE).
int shim_name_this_thread(const char *name);
/// accept4(…, SOCK_NONBLOCK | SOCK_CLOEXEC): Glibc's module hides it (it needs _GNU_SOURCE).
int shim_accept4(int fd, struct sockaddr *address, socklen_t *length);

#endif
