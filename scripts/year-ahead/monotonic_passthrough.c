/*
 * Preloaded before libfaketime when the suite runs "a year ahead" (scripts/year-ahead.sh).
 *
 * libfaketime 0.9.10 shifts absolute deadlines of every clock by the fake offset, even with
 * FAKETIME_DONT_FAKE_MONOTONIC=1, where monotonic time is not shifted: a monotonic timerfd
 * deadline becomes negative (EINVAL, and libdispatch's timers never fire) and Python's
 * time.sleep (clock_nanosleep on CLOCK_MONOTONIC) fails with EINVAL. Monotonic and boot-time
 * deadlines are passed straight to the kernel here; wall-clock ones still go to libfaketime.
 * Test tooling only: the product never loads this.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

enum { tracked_fds = 65536 };
static unsigned char wall_clock_fd[tracked_fds];

static int is_wall_clock(clockid_t clock) {
    return clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_ALARM || clock == CLOCK_TAI;
}

int timerfd_create(clockid_t clock, int flags) {
    int fd = (int)syscall(SYS_timerfd_create, clock, flags);
    if (fd >= 0 && fd < tracked_fds) wall_clock_fd[fd] = (unsigned char)is_wall_clock(clock);
    return fd;
}

int timerfd_settime(int fd, int flags, const struct itimerspec *value, struct itimerspec *old) {
    if (fd >= 0 && fd < tracked_fds && wall_clock_fd[fd]) {
        int (*next)(int, int, const struct itimerspec *, struct itimerspec *) = dlsym(RTLD_NEXT, "timerfd_settime");
        if (next) return next(fd, flags, value, old);
    }
    return (int)syscall(SYS_timerfd_settime, fd, flags, value, old);
}

int clock_nanosleep(clockid_t clock, int flags, const struct timespec *request, struct timespec *remain) {
    if (is_wall_clock(clock)) {
        int (*next)(clockid_t, int, const struct timespec *, struct timespec *) = dlsym(RTLD_NEXT, "clock_nanosleep");
        if (next) return next(clock, flags, request, remain);
    }
    long result = syscall(SYS_clock_nanosleep, clock, flags, request, remain);
    return result == 0 ? 0 : errno;  /* clock_nanosleep returns the error number, not -1 */
}
