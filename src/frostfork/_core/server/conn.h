/* server/conn.h — a worker's connections, its timeout lists, and the view of
 * one complete request that the dispatchers (native.c, wsgi.c) answer. */
#ifndef FF_SERVER_CONN_H
#define FF_SERVER_CONN_H

#include "server/strcache.h"
#include "server/worker.h"

/* An intrusive list of connections ordered by deadline. Every connection on
 * one list got the same timeout when it was appended, so appending keeps the
 * list sorted and expiry only ever looks at the head. */
typedef struct ff_conn ff_conn;
typedef struct {
    ff_conn *head, *tail;
    int64_t timeout_ms;
} ff_tlist;

enum ff_conn_state {
    FF_C_IDLE,   /* keep-alive, waiting for the first byte of a request */
    FF_C_HEAD,   /* part of a request head has arrived */
    FF_C_BODY,   /* head complete, body arriving */
    FF_C_WRITE,  /* response bytes waiting for the socket to drain */
    FF_C_LINGER, /* response sent before close: read and discard until EOF */
};

struct ff_conn {
    int fd;
    enum ff_conn_state state;
    ff_conn *prev, *next; /* timeout list links */
    ff_tlist *list;
    int64_t deadline;
    ff_buf in;            /* in.data + in.off is the start of the current request */
    ff_buf out;
    size_t prev_len;      /* bytes the head parser saw on its last -2 */
    size_t head_len;      /* 0 while the head is incomplete */
    size_t body_len;      /* body bytes available (decoded, for chunked) */
    int64_t content_length;
    unsigned flags;       /* FF_HTTP_F_* of the current request */
    ff_http_chunked chunked;
    int closing;          /* close once out is flushed */
    int internal;         /* accepted on --metrics-bind: only /_frostfork/ paths */
    int spool_fd;         /* the body goes to a file (large Content-Length), or -1 */
    uint64_t spooled;     /* body bytes written to it */
    char *spool_path;
    unsigned watching;    /* FF_READ / FF_WRITE currently registered */
    struct sockaddr_storage peer;
    socklen_t peer_len;
    char host[48];        /* the peer's address as text, made on first use */
};

typedef struct ff_worker {
    ff_server *srv;
    ff_slot *slot;
    ff_loop loop;
    int sigfd;
    int listening;        /* listen fd registered with the loop */
    int draining;
    int64_t drain_deadline;
    int64_t now;
    long max_requests;
    uint64_t served;
    unsigned long long req_seq;
    pid_t pid;
    int nconns;
    ff_tlist idle, head, body, write, linger;
    ff_date_cache date;
    ff_http_header *headers; /* parse scratch: limits.max_headers entries */
    ff_buf scratch;          /* response body scratch (JSON encoding) */
    PyObject *environ_base;  /* WSGI constant keys, copied per request */
    ff_strcache strings;     /* WSGI keys and short values */
    struct ff_logs *logs;    /* access log and audit buffers */
    char tag_listen, tag_metrics, tag_signal; /* addresses used as loop pointers */
} ff_worker;

typedef struct ff_req_s {
    const ff_http_request *http;
    const char *body;      /* for a spooled body, the spool file mapped read-only */
    size_t body_len;
    PyObject *spool;       /* the spooled body's Spool (server/body.h), or NULL */
    enum ff_method method;
    int keep_alive;
    int head_only;
    int http10;
    const ff_conn *conn;
} ff_req;

/* Dispatchers append one complete response to out and return its status
 * code (the worker counts and logs it without reading the bytes back): any
 * Python error becomes a logged 500. They return -1 only when out of memory
 * for the response itself; out may then hold part of it, which the caller
 * cuts off before closing the connection. */
int ff_native_dispatch(ff_worker *w, const ff_req *r, ff_buf *out);
int ff_wsgi_dispatch(ff_worker *w, const ff_req *r, ff_buf *out);
int ff_wsgi_worker_init(ff_worker *w);

/* The current request's id: its X-Request-Id when that is a sane token,
 * else "<pid hex>-<counter hex>"; made on first use. */
const char *ff_request_id(ff_worker *w, const ff_req *r);

/* Logs the pending Python exception with a fresh request id and writes the
 * 500 response that carries the same id. Returns 500, or -1 with none of
 * the response left in out when out of memory for it. */
int ff_fail_500(ff_worker *w, const ff_req *r, ff_buf *out, const char *what);

/* User-supplied response headers (a dict or an iterable of (name, value)
 * str pairs), validated against response splitting and appended to out.
 * Content-Length, Transfer-Encoding and Connection are ours to write: they
 * are dropped, but a Content-Length value is remembered (HEAD answers). */
typedef struct {
    int content_type;       /* the user set Content-Type */
    long long content_length; /* the user's Content-Length, -1 when none */
} ff_headers_seen;
int ff_put_headers(ff_buf *out, PyObject *headers, ff_headers_seen *seen);

/* The Request object a handler asks for; path_params is borrowed. */
PyObject *ff_request_new(ff_worker *w, const ff_req *r, PyObject *path_params);

/* The peer's address as text, formatted once per connection. */
const char *ff_conn_host(const ff_conn *c);

/* "a.b.c.d" / "::1" and the port of the peer, for logs and WSGI. */
void ff_conn_peer(const ff_conn *c, char *host, size_t hostlen, int *port);

#endif
