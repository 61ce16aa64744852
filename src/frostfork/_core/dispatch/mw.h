/* dispatch/mw.h — the built-in middleware, around either dispatcher:
 * trusted proxy headers (--forwarded-allow-ips), CORS (preflights answered
 * here, headers added to other responses) and gzip.
 *
 * Configured once from App(cors=..., gzip=...) and the CLI; off (a NULL
 * ff_env.mw) it costs one pointer test per request. The decisions are the
 * pure-C http/cors.c, http/forwarded.c and http/gzip.c; this file applies
 * them to an ff_req and to the response bytes a dispatcher wrote. */
#ifndef FF_DISPATCH_MW_H
#define FF_DISPATCH_MW_H

#include "module.h"
#include "http/cors.h"
#include "http/forwarded.h"
#include "http/gzip.h"
#include "http/response.h"
#include "obj/request.h"
#include "util/buf.h"

typedef struct ff_mw {
    ff_cors *cors;        /* NULL: no CORS */
    ff_trust *trust;      /* NULL: forwarded headers ignored */
    size_t gzip_min;      /* 0: no gzip; else compress bodies at least this long */
    /* per process (a worker after fork, or the in-process engine) */
    ff_gzip gz;
    ff_buf tmp;           /* a response being rewritten */
    char client[64];      /* the current request's forwarded client */
    char scheme[8];       /* ... and scheme */
} ff_mw;

/* Builds the configuration from a dict {"cors": frostfork.CORS | None,
 * "gzip": bool | int (minimum size), "forwarded_allow_ips": str | None}.
 * Returns a new ff_mw, NULL with no exception when nothing is configured, or
 * NULL with a Python exception. */
ff_mw *ff_mw_new(PyObject *config);
void ff_mw_free(ff_mw *m);
/* Releases what one process made for itself (the gzip stream, the rewrite
 * buffer): a worker calls it on its way out; the configuration stays. */
void ff_mw_process_end(ff_mw *m);

/* Before dispatch: applies trusted forwarded headers to r (peer_host,
 * peer_port, scheme) and answers a CORS preflight. Returns 0 to dispatch,
 * the status of a response it wrote, or -1 when out of memory. */
int ff_mw_before(ff_mw *m, ff_req *r, ff_buf *out, const ff_date_cache *date);

/* Whether a body sent in pieces (a StreamingResponse of unknown length, of
 * type ctype) is gzipped on the way: gzip on, a client that takes it, not a
 * HEAD, not an event stream (an SSE reader wants each event as it is). */
int ff_mw_gzip_stream(const ff_mw *m, const ff_req *r, const char *ctype);

/* After dispatch: the response starting `start` bytes into out's used part
 * gets its CORS headers and is gzipped when it qualifies. Returns 0, or -1
 * when out of memory (ff_dispatch_run then drops the response and closes). */
int ff_mw_after(ff_mw *m, const ff_req *r, ff_buf *out, size_t start);

#endif
