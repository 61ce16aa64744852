/* tests/c/loop/test_loop.c — unit tests of loop/loop.c (the epoll backend),
 * on pipes: readiness is reported with the caller's pointer, modify switches
 * the watched direction, delete stops reports, and a wait with nothing ready
 * returns 0 after its timeout (measured with ff_now_ms, generously bounded). */
#define _GNU_SOURCE
#include "harness.h"

#include "loop/loop.h"

#include <fcntl.h>

int main(void)
{
    ff_loop l;
    int p[2], q[2];
    char tag_p, tag_q;
    CHECK(ff_loop_init(&l, 8) == 0, "init");
    CHECK(pipe2(p, O_NONBLOCK) == 0 && pipe2(q, O_NONBLOCK) == 0, "pipes");

    CHECK(ff_loop_add(&l, p[0], FF_READ, &tag_p) == 0, "add read end");
    CHECK(ff_loop_add(&l, q[1], FF_WRITE, &tag_q) == 0, "add write end");
    CHECK(ff_loop_add(&l, p[0], FF_READ, &tag_p) < 0, "adding twice is refused");

    /* only the write end of q is ready: p has no data */
    int n = ff_loop_wait(&l, 0);
    CHECK_EQ_LL(n, 1, "one ready");
    CHECK(n == 1 && l.ready[0].ptr == &tag_q && (l.ready[0].events & FF_WRITE), "q writable");

    /* data in p: both ready, each with its own pointer */
    CHECK(write(p[1], "x", 1) == 1, "write");
    n = ff_loop_wait(&l, 100);
    CHECK_EQ_LL(n, 2, "two ready");
    int saw_p = 0;
    for (int i = 0; i < n; i++)
        if (l.ready[i].ptr == &tag_p)
            saw_p = (l.ready[i].events & FF_READ) != 0;
    CHECK(saw_p, "p readable with its pointer");

    /* modify q to read: nothing to read, so only p is ready */
    CHECK(ff_loop_mod(&l, q[1], FF_READ, &tag_q) == 0, "mod");
    n = ff_loop_wait(&l, 0);
    CHECK(n == 1 && l.ready[0].ptr == &tag_p, "after mod only p: n=%d", n);

    /* delete p: no more reports though it still has data */
    CHECK(ff_loop_del(&l, p[0]) == 0, "del");
    CHECK(ff_loop_del(&l, p[0]) < 0, "deleting twice is refused");
    int64_t t0 = ff_now_ms();
    n = ff_loop_wait(&l, 50);
    int64_t waited = ff_now_ms() - t0;
    CHECK_EQ_LL(n, 0, "nothing ready");
    CHECK(waited >= 40 && waited < 5000, "the wait lasted about its timeout: %lld ms",
          (long long)waited);

    /* a hangup reports as readable */
    CHECK(ff_loop_mod(&l, q[1], FF_WRITE, &tag_q) == 0, "mod back");
    close(q[0]);
    n = ff_loop_wait(&l, 100);
    CHECK(n == 1 && (l.ready[0].events & FF_READ), "a closed peer reads as ready");

    /* ff_now_ms is monotonic */
    int64_t a = ff_now_ms(), b = ff_now_ms();
    CHECK(b >= a && a > 0, "monotonic clock");

    ff_loop_close(&l);
    close(p[0]);
    close(p[1]);
    close(q[1]);
    return th_summary("test_loop");
}
