// epoll(7) for marac-bench's load generator, behind plain functions: Glibc's Swift module
// does not export <sys/epoll.h>, and struct epoll_event is packed on x86-64.
#pragma once
#include <stdint.h>

int bench_epoll_create(void);
/// Adds (op 0) or changes (op 1) `fd` with `events` (1 = readable, 4 = writable, as EPOLLIN/EPOLLOUT).
int bench_epoll_control(int epoll, int op, int fd, uint32_t events);
/// Waits up to `timeout` ms; fills `fds` and `events` (EPOLLIN|EPOLLOUT|EPOLLERR|EPOLLHUP bits) and returns the count.
int bench_epoll_wait(int epoll, int32_t *fds, uint32_t *events, int max, int timeout);
