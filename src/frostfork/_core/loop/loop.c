/* loop/loop.c — epoll backend for ff_loop. */
#include "loop/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

int ff_loop_init(ff_loop *l, int max_events)
{
    l->max_events = max_events;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->raw = calloc((size_t)max_events, sizeof(struct epoll_event));
    l->ready = calloc((size_t)max_events, sizeof(ff_event));
    if (l->epfd < 0 || !l->raw || !l->ready) {
        ff_loop_close(l);
        return -1;
    }
    return 0;
}

void ff_loop_close(ff_loop *l)
{
    if (l->epfd >= 0)
        close(l->epfd);
    l->epfd = -1;
    free(l->raw);
    free(l->ready);
    l->raw = NULL;
    l->ready = NULL;
}

static uint32_t to_epoll(unsigned events)
{
    uint32_t e = 0;
    if (events & FF_READ)
        e |= (events & FF_EXCLUSIVE) ? EPOLLIN : EPOLLIN | EPOLLRDHUP; /* EXCLUSIVE allows no RDHUP */
    if (events & FF_WRITE)
        e |= EPOLLOUT;
    if (events & FF_EXCLUSIVE)
        e |= EPOLLEXCLUSIVE;
    return e;
}

int ff_loop_add(ff_loop *l, int fd, unsigned events, void *ptr)
{
    struct epoll_event ev = {.events = to_epoll(events), .data.ptr = ptr};
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int ff_loop_mod(ff_loop *l, int fd, unsigned events, void *ptr)
{
    struct epoll_event ev = {.events = to_epoll(events), .data.ptr = ptr};
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev);
}

int ff_loop_del(ff_loop *l, int fd)
{
    struct epoll_event ev = {0};
    return epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, &ev);
}

int ff_loop_wait(ff_loop *l, int timeout_ms)
{
    struct epoll_event *raw = l->raw;
    int n = epoll_wait(l->epfd, raw, l->max_events, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        unsigned e = 0;
        if (raw[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            e |= FF_READ;
        if (raw[i].events & EPOLLOUT)
            e |= FF_WRITE;
        l->ready[i].ptr = raw[i].data.ptr;
        l->ready[i].events = e;
    }
    return n;
}

int64_t ff_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
