/* util/fault.h — the allocation calls of the request path, and the
 * fault-injection hook behind them.
 *
 * Pure C. In a normal build ff_malloc and friends are the libc functions
 * themselves (macros, no wrapper, no cost). Built with -Dfault_inject=true
 * (FF_FAULT_INJECT), each allocation first asks ff_fault_hit() whether it is
 * the one to fail, so a test can make the Nth allocation of a request return
 * NULL and sweep N over every allocation the request makes
 * (tests/hardening/test_alloc_faults.py). */
#ifndef FF_UTIL_FAULT_H
#define FF_UTIL_FAULT_H

#include <stdlib.h>
#include <string.h>

#ifdef FF_FAULT_INJECT

/* The counter (util/fault.c). Only fault-injection builds have this state:
 * the pure-C allocation sites have no module state to reach, and the
 * counter must see every one of them. */
typedef struct {
    long at;         /* the allocation to fail, counted from 1; 0: count only */
    long count;      /* allocations since the counter was armed */
    long live;       /* Python's blocks allocated minus freed, since the hooks went in */
    long live_c;     /* the same for the C core's own allocations */
    int armed;
    int sticky;      /* fail every allocation from `at` on, not just that one */
    int fired;       /* an allocation was failed since arming */
    int by_request;  /* armed by a request's header: disarmed when it ends */
    long last_count; /* count and fired of the last request armed by a header */
    int last_fired;
} ff_fault_state;

extern ff_fault_state ff_fault;

/* Counts one allocation; 1 when it must fail. `c_core` says the caller is
 * the C core's own allocation: only those keep failing after `at` in sticky
 * mode. Python's allocations fail once: under allocation failure that never
 * ends, the stdlib's traceback formatting can loop forever (seen on 3.11),
 * which would test CPython, not frostfork. */
static inline int ff_fault_hit_from(int c_core)
{
    if (!ff_fault.armed)
        return 0;
    ff_fault.count++;
    if (ff_fault.at <= 0 || ff_fault.count < ff_fault.at ||
        (ff_fault.count > ff_fault.at && !(ff_fault.sticky && c_core)))
        return 0;
    ff_fault.fired = 1;
    return 1;
}

static inline int ff_fault_hit(void) { return ff_fault_hit_from(1); }

void ff_fault_arm(long at, int sticky);
/* Stops counting; records count and fired as the last request's. */
void ff_fault_disarm(void);

static inline void *ff_malloc(size_t n)
{
    void *p = ff_fault_hit() ? NULL : malloc(n);
    ff_fault.live_c += p != NULL;
    return p;
}

static inline void *ff_calloc(size_t n, size_t size)
{
    void *p = ff_fault_hit() ? NULL : calloc(n, size);
    ff_fault.live_c += p != NULL;
    return p;
}

static inline void *ff_realloc(void *old, size_t n)
{
    void *p = ff_fault_hit() ? NULL : realloc(old, n);
    ff_fault.live_c += p != NULL && old == NULL;
    return p;
}

static inline char *ff_strdup(const char *s)
{
    char *p = ff_fault_hit() ? NULL : strdup(s);
    ff_fault.live_c += p != NULL;
    return p;
}

static inline void ff_free(void *p)
{
    ff_fault.live_c -= p != NULL;
    free(p);
}

#else

#define ff_malloc malloc
#define ff_calloc calloc
#define ff_realloc realloc
#define ff_strdup strdup
#define ff_free free

#endif

#endif
