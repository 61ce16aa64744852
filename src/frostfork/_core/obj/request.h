/* obj/request.h — one complete request as every layer above the parser
 * sees it: the parsed head, the body (in memory or a mapped spool file), and
 * the peer as text. The worker fills it from a connection, the in-process
 * engine from bytes; bind, the dispatchers and the access log read it and
 * never see a connection or a worker. */
#ifndef FF_OBJ_REQUEST_H
#define FF_OBJ_REQUEST_H

#include "module.h"
#include "http/parse.h"
#include "http/router.h"

typedef struct ff_req_s {
    const ff_http_request *http;
    const char *body;      /* for a spooled body, the spool file mapped read-only */
    size_t body_len;
    PyObject *spool;       /* the spooled body's Spool (obj/body.h), or NULL */
    enum ff_method method;
    int keep_alive;
    int head_only;
    int http10;
    const char *peer_host; /* "a.b.c.d", "::1", or "" when unknown (a unix socket) */
    int peer_port;
    const char *scheme;    /* "https" etc. from a trusted proxy, or NULL: the listener's */
} ff_req;

/* The Request object a handler asks for; path_params is borrowed. */
PyObject *ff_request_new(ff_state *st, const ff_req *r, PyObject *path_params);

#endif
