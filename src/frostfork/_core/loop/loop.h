/* loop/loop.h — a small epoll event loop (think redis ae.c, fewer features).
 *
 * Pure C. Every watched fd carries a pointer the caller chooses; the loop
 * hands it back with the ready events. Timers are not kept here: callers
 * compute the wait from their own deadline lists (see server/timeouts.h). */
#ifndef FF_LOOP_H
#define FF_LOOP_H

#include <stdint.h>

enum { FF_READ = 1, FF_WRITE = 2, FF_EXCLUSIVE = 4 };

typedef struct {
    void *ptr;
    unsigned events; /* FF_READ | FF_WRITE; errors and hangups report as FF_READ */
} ff_event;

typedef struct {
    int epfd;
    int max_events;
    void *raw; /* struct epoll_event[max_events] */
    ff_event *ready;
} ff_loop;

int ff_loop_init(ff_loop *l, int max_events);
void ff_loop_close(ff_loop *l);
int ff_loop_add(ff_loop *l, int fd, unsigned events, void *ptr);
int ff_loop_mod(ff_loop *l, int fd, unsigned events, void *ptr);
int ff_loop_del(ff_loop *l, int fd);
/* Waits up to timeout_ms (-1 forever) and returns the number of ready
 * entries in l->ready, 0 on timeout or EINTR, -1 on other errors. */
int ff_loop_wait(ff_loop *l, int timeout_ms);
/* Monotonic milliseconds: comparable across processes on one machine, which
 * is what lets the master read worker heartbeats. */
int64_t ff_now_ms(void);

#endif
