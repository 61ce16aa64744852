/* dispatch/send.h — response bodies that are not built in memory: a range
 * of an open file (sent with sendfile by the worker) or an iterator whose
 * items are written as they are produced (StreamingResponse, WSGI).
 *
 * A dispatcher writes the head into its output buffer and leaves the body
 * in ff_env.src; the worker takes it over and sends it as the socket
 * drains, the in-process engine drains it at once. Whoever holds a source
 * ends it with ff_body_src_clear, which closes the file or calls the
 * iterator's close() (so a generator's finally runs, also when the client
 * went away). */
#ifndef FF_DISPATCH_SEND_H
#define FF_DISPATCH_SEND_H

#include "module.h"
#include "http/gzip.h"
#include "util/buf.h"

#include <stdint.h>

enum { FF_BODY_NONE = 0, FF_BODY_FILE, FF_BODY_ITER, FF_BODY_AITER };

struct ff_Apump; /* an async iterator's items, awaited on the worker's loop (send.c) */

typedef struct {
    int kind;          /* FF_BODY_* */
    int fd;            /* FILE: owned */
    uint64_t off;      /* FILE: next byte to send */
    uint64_t left;     /* FILE: bytes still to send; ITER with a length: bytes promised */
    PyObject *iter;    /* ITER: owned */
    PyObject *close;   /* ITER: close() of the iterable, or NULL */
    int chunked;       /* ITER: frame each item as a chunk, end with the last chunk */
    int sized;         /* ITER: a Content-Length was sent: stop (and truncate) at it */
    ff_gzip_stream *gz; /* ITER, chunked: each item gzipped on the way (owned), or NULL */
    struct ff_Apump *pump; /* AITER: owned (iter and close are unused) */
} ff_body_src;

/* Ends the source: closes the file, or calls close() (an exception from it
 * is reported as unraisable). Safe on an empty source. */
void ff_body_src_clear(ff_body_src *s);

/* Appends the next item of an ITER source to out (framed when chunked).
 * Returns 1 when more may follow, 0 when the source is finished (the last
 * chunk is written, the source cleared), -1 when the iterator raised or an
 * item is not bytes-like (logged by the caller from the pending exception;
 * the source is cleared and the connection must close without completing
 * the body). */
int ff_body_src_pump(ff_body_src *s, ff_buf *out);

/* Appends n bytes as the next piece of an ITER source's body (framed when
 * chunked; counted against a sized one). Returns 0, or -1 when out of
 * memory. */
int ff_body_src_put(ff_body_src *s, ff_buf *out, const void *p, size_t n);

/* An AITER source over the async iterable `aiterable`, its items awaited as
 * Tasks of `loop`. Returns 0, or -1 with a Python exception. */
int ff_body_src_aiter(ff_body_src *s, PyObject *aiterable, PyObject *loop, int chunked);
/* Who is told when an AITER source's next item (or its end) is there:
 * ready(ctx, owner), from the loop; the owner must call ff_body_src_apump. */
void ff_body_src_attach(ff_body_src *s, void (*ready)(void *ctx, void *owner), void *ctx,
                        void *owner);
/* The AITER counterpart of ff_body_src_pump: 1 an item was appended, 0 the
 * source finished (cleared), -1 failed (cleared, exception pending), 2 the
 * next item is being awaited (ready() will say when). */
int ff_body_src_apump(ff_body_src *s, ff_buf *out);

/* Appends up to max bytes of a FILE source to out with pread (the engine's
 * way, and where sendfile is not possible). Returns 1, 0 when finished
 * (cleared), -1 on a read error (cleared, errno set). */
int ff_body_src_read(ff_body_src *s, ff_buf *out, size_t max);

#endif
