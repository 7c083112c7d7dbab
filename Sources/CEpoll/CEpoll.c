#define _GNU_SOURCE
#include "CEpoll.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <pthread.h>

const uint32_t shim_EPOLLIN = EPOLLIN;
const uint32_t shim_EPOLLOUT = EPOLLOUT;
const uint32_t shim_EPOLLRDHUP = EPOLLRDHUP;
const uint32_t shim_EPOLLERR = EPOLLERR;
const uint32_t shim_EPOLLHUP = EPOLLHUP;
const uint32_t shim_EPOLLET = EPOLLET;

int shim_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int shim_epoll_add(int epoll, int fd, uint32_t events, uint64_t token) {
    struct epoll_event event = { .events = events, .data = { .u64 = token } };
    return epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event);
}

int shim_epoll_wait(int epoll, uint64_t *tokens, uint32_t *events, int max, int timeout) {
    struct epoll_event ready[512];
    if (max > 512) max = 512;
    int count = epoll_wait(epoll, ready, max, timeout);
    for (int i = 0; i < count; i++) {
        tokens[i] = ready[i].data.u64;
        events[i] = ready[i].events;
    }
    return count;
}

int shim_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int shim_accept4(int fd, struct sockaddr *address, socklen_t *length) {
    return accept4(fd, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int shim_name_this_thread(const char *name) {
    // pthread_setname_np returns an error number instead of setting errno.
    int error = pthread_setname_np(pthread_self(), name);
    if (error != 0) { errno = error; return -1; }
    return 0;
}
