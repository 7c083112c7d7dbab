#include "CBenchEpoll.h"
#include <sys/epoll.h>
#include <unistd.h>

int bench_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int bench_epoll_control(int epoll, int op, int fd, uint32_t events) {
    struct epoll_event event = { .events = events, .data = { .fd = fd } };
    return epoll_ctl(epoll, op == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &event);
}

int bench_epoll_wait(int epoll, int32_t *fds, uint32_t *events, int max, int timeout) {
    struct epoll_event ready[256];
    if (max > 256) max = 256;
    int count = epoll_wait(epoll, ready, max, timeout);
    for (int i = 0; i < count; i++) {
        fds[i] = ready[i].data.fd;
        events[i] = ready[i].events;
    }
    return count;
}
