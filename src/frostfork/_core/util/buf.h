/* util/buf.h — a growable byte buffer with a read offset.
 *
 * Pure C. Used for connection input and output: data lives in
 * data[off..len); consuming advances off and the space is reclaimed by
 * compacting only when needed, so pipelined requests do not memmove per
 * request. */
#ifndef FF_UTIL_BUF_H
#define FF_UTIL_BUF_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/fault.h"

typedef struct {
    char *data;
    size_t off; /* first unconsumed byte */
    size_t len; /* one past the last byte */
    size_t cap;
} ff_buf;

static inline void ff_buf_free(ff_buf *b)
{
    ff_free(b->data);
    b->data = NULL;
    b->off = b->len = b->cap = 0;
}

static inline size_t ff_buf_used(const ff_buf *b) { return b->len - b->off; }

/* Ensures at least `extra` bytes of room after len, compacting consumed
 * space first and growing geometrically after. Returns 0, or -1 when out of
 * memory (the buffer is left as it was). */
static inline int ff_buf_reserve(ff_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    if (b->off > 0) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->cap - b->len >= extra)
            return 0;
    }
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < need)
        cap *= 2;
    char *p = ff_realloc(b->data, cap);
    if (!p)
        return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

static inline int ff_buf_append(ff_buf *b, const void *src, size_t n)
{
    if (n == 0)
        return 0; /* an empty buffer has no data pointer to copy into */
    if (ff_buf_reserve(b, n) < 0)
        return -1;
    memcpy(b->data + b->len, src, n);
    b->len += n;
    return 0;
}

static inline int ff_buf_puts(ff_buf *b, const char *s) { return ff_buf_append(b, s, strlen(s)); }

/* Writes the decimal digits of v and a NUL into out; returns the digit
 * count. The hot path's replacement for snprintf. */
static inline size_t ff_fmt_u64(char out[21], unsigned long long v)
{
    char tmp[20];
    size_t i = 20, n;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    n = 20 - i;
    memcpy(out, tmp + i, n);
    out[n] = '\0';
    return n;
}

static inline int ff_buf_put_u64(ff_buf *b, unsigned long long v)
{
    char tmp[21];
    return ff_buf_append(b, tmp, ff_fmt_u64(tmp, v));
}

static inline void ff_buf_consume(ff_buf *b, size_t n)
{
    b->off += n;
    if (b->off >= b->len)
        b->off = b->len = 0;
}

#endif
