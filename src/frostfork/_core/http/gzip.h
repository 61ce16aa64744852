/* http/gzip.h — gzip response bodies (RFC 9110 8.4.1.3) with zlib.
 *
 * Pure C. One deflate stream per worker, reset per response, so compressing
 * does not pay zlib's setup (a few hundred KiB of tables) every time. */
#ifndef FF_HTTP_GZIP_H
#define FF_HTTP_GZIP_H

#include <stddef.h>

#include "util/buf.h"

/* Bodies shorter than this are sent as they are: the gzip header and trailer
 * (18 bytes) and the CPU outweigh what is saved (Starlette's default too). */
#define FF_GZIP_MIN_SIZE 500

typedef struct {
    void *z;   /* z_stream, made on first use */
    int level;
} ff_gzip;

/* Whether an Accept-Encoding value admits gzip: a "gzip" (or "x-gzip") coding,
 * or "*", with a q-value above 0 (RFC 9110 12.5.3); "gzip;q=0" refuses it. */
int ff_gzip_accepted(const char *v, size_t n);

/* Appends the gzip form of data[0..n) to out. 0, or -1 (out of memory or a
 * zlib failure; out is then as it was). */
int ff_gzip_compress(ff_gzip *g, ff_buf *out, const char *data, size_t n);

void ff_gzip_free(ff_gzip *g);

/* A gzip stream of its own, for a body sent in pieces (a StreamingResponse):
 * several can be in flight in one worker, so each has its zlib state. A
 * 12-bit window and memLevel 5 keep it near 40 KiB (the window a reader
 * needs is in the stream's header; any reader accepts a smaller one). */
typedef struct ff_gzip_stream ff_gzip_stream;

/* NULL when out of memory. */
ff_gzip_stream *ff_gzip_stream_new(int level);
/* Appends the compressed form of p[0..n) to out, flushed (Z_SYNC_FLUSH) so
 * the client can decode everything so far; with finish, the gzip trailer
 * too. 0, or -1 (out is then as it was). */
int ff_gzip_stream_put(ff_gzip_stream *s, ff_buf *out, const char *p, size_t n, int finish);
void ff_gzip_stream_free(ff_gzip_stream *s);

#endif
