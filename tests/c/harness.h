/* tests/c/harness.h — a tiny shared harness for the pure-C unit tests.
 *
 * Checks count failures instead of aborting, so one run reports every broken
 * vector; th_summary() prints the totals and gives the exit status. The guard
 * buffer places test input so that it ends exactly where a PROT_NONE page
 * begins: reading even one byte past the input faults at once, rather than
 * passing silently as it would in an ordinary allocation.
 */
#ifndef FF_TESTS_HARNESS_H
#define FF_TESTS_HARNESS_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Printing stops after this many failures; counting does not. */
#ifndef TH_MAX_REPORTS
#define TH_MAX_REPORTS 60
#endif

static struct {
    unsigned long checks;
    unsigned long failures;
} th_counts;

static inline void th_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline void th_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    if (++th_counts.failures > TH_MAX_REPORTS)
        return;
    fprintf(stderr, "%s:%d: FAIL: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* CHECK(cond, fmt, ...): counts a check; on failure prints the condition and
 * the formatted context. */
#define CHECK(cond, ...)                                                         \
    do {                                                                         \
        th_counts.checks++;                                                      \
        if (!(cond)) {                                                           \
            th_fail(__FILE__, __LINE__, "%s", #cond);                            \
            if (th_counts.failures <= TH_MAX_REPORTS) {                          \
                fprintf(stderr, "    ");                                         \
                fprintf(stderr, __VA_ARGS__);                                    \
                fputc('\n', stderr);                                             \
            }                                                                    \
        }                                                                        \
    } while (0)

#define CHECK_EQ_LL(a, b, ctx)                                                   \
    CHECK((long long)(a) == (long long)(b), "%s: %s = %lld, expected %lld", (ctx), \
          #a, (long long)(a), (long long)(b))

/* Prints the totals; returns the process exit status. */
static inline int th_summary(const char *suite)
{
    printf("%s: %lu checks, %lu failures\n", suite, th_counts.checks, th_counts.failures);
    return th_counts.failures ? 1 : 0;
}

/* A region of writable pages followed by one PROT_NONE page. */
typedef struct {
    char *map;
    size_t map_len;
    char *guard; /* first byte of the PROT_NONE page */
    size_t cap;  /* bytes usable before the guard */
} th_guard;

/* Maps room for at least cap bytes before a guard page. Exits on failure:
 * without the guard the over-read tests would mean nothing. */
static inline void th_guard_init(th_guard *g, size_t cap)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data_pages = (cap + page - 1) / page + 1;

    g->map_len = (data_pages + 1) * page;
    g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->map == MAP_FAILED) {
        perror("mmap");
        exit(2);
    }
    g->guard = g->map + data_pages * page;
    g->cap = data_pages * page;
    if (mprotect(g->guard, page, PROT_NONE) != 0) {
        perror("mprotect");
        exit(2);
    }
}

/* Copies src[0..n) so that it ends exactly at the guard page and returns
 * where it starts. */
static inline char *th_guard_place(th_guard *g, const void *src, size_t n)
{
    char *dst;

    if (n > g->cap) {
        fprintf(stderr, "th_guard_place: %zu bytes do not fit in %zu\n", n, g->cap);
        exit(2);
    }
    dst = g->guard - n;
    if (n)
        memcpy(dst, src, n);
    return dst;
}

static inline void th_guard_free(th_guard *g)
{
    munmap(g->map, g->map_len);
    g->map = NULL;
}

/* A fixed-seed xorshift64* generator: the "random" splits are the same on
 * every run, so a failure can be reproduced. */
static inline uint64_t th_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

/* Fills cuts[0..k) with sorted distinct split points in [1, n) and returns
 * k, which is between 1 and max_cuts (fewer when n is too small). */
static inline size_t th_random_cuts(uint64_t *seed, size_t n, size_t *cuts, size_t max_cuts)
{
    size_t k, i, j, c, want;

    if (n < 2)
        return 0;
    want = 1 + (size_t)(th_rand(seed) % max_cuts);
    if (want > n - 1)
        want = n - 1;
    for (k = 0; k < want;) {
        c = 1 + (size_t)(th_rand(seed) % (n - 1));
        for (i = 0; i < k && cuts[i] != c; i++)
            ;
        if (i < k)
            continue;
        for (j = k; j > 0 && cuts[j - 1] > c; j--)
            cuts[j] = cuts[j - 1];
        cuts[j] = c;
        k++;
    }
    return k;
}

/* Calls fn(ctx, cuts, k, mode) once for each way an input of n bytes is fed
 * in the codec tests: whole, one byte at a time, and `rounds` random splits
 * of up to six cuts. cuts must have room for n entries. */
typedef void (*th_split_fn)(const void *ctx, const size_t *cuts, size_t k, const char *mode);

static inline void th_each_split(size_t n, uint64_t *seed, size_t *cuts, int rounds,
                                 th_split_fn fn, const void *ctx)
{
    size_t j;

    fn(ctx, cuts, 0, "whole");
    for (j = 1; j < n; j++)
        cuts[j - 1] = j;
    fn(ctx, cuts, n ? n - 1 : 0, "bytewise");
    for (j = 0; j < (size_t)rounds; j++)
        fn(ctx, cuts, th_random_cuts(seed, n, cuts, 6), "split");
}

#endif
