/* server/conn.h — a worker: its connections, its timeout lists, and the
 * calls between the loop (worker.c), the request cycle of one connection
 * (conn.c) and the internal /_frostfork/ paths (internal.c). */
#ifndef FF_SERVER_CONN_H
#define FF_SERVER_CONN_H

#include "server/worker.h"
#include "life/logs.h"
#include "loop/loop.h"
#include "dispatch/send.h"

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
    ff_body_src src;      /* a file or stream body still being sent after out */
    int src_close;        /* close the connection once src is sent */
    int peer_port;
    char peer_host[48];   /* the peer's address as text ("" for a unix socket) */
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
    pid_t pid;
    int nconns;
    ff_tlist idle, head, body, write, linger;
    ff_date_cache date;
    ff_http_header *headers; /* parse scratch: limits.max_headers + 1 entries */
    ff_env env;              /* what the dispatchers see */
    ff_logs logs;            /* access log and audit buffers */
    char tag_listen, tag_metrics, tag_signal; /* addresses used as loop pointers */
} ff_worker;

/* ---- timeout lists ---- */

static inline void ff_tl_remove(ff_conn *c)
{
    ff_tlist *l = c->list;
    if (!l)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        l->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        l->tail = c->prev;
    c->prev = c->next = NULL;
    c->list = NULL;
}

static inline void ff_tl_push(ff_tlist *l, ff_conn *c, int64_t now)
{
    ff_tl_remove(c);
    c->deadline = now + l->timeout_ms;
    c->list = l;
    c->prev = l->tail;
    c->next = NULL;
    if (l->tail)
        l->tail->next = c;
    else
        l->head = c;
    l->tail = c;
}

/* worker.c */
void ff_worker_listen_on(ff_worker *w);
void ff_worker_begin_drain(ff_worker *w);
void ff_conn_close(ff_worker *w, ff_conn *c);
void ff_conn_watch(ff_worker *w, ff_conn *c, unsigned ev);

/* conn.c: the request cycle of one connection */
void ff_conn_readable(ff_worker *w, ff_conn *c);
/* Parses and answers every complete request buffered, writes what the
 * socket takes, and settles the connection's state and timeout list. */
void ff_conn_process(ff_worker *w, ff_conn *c);
/* A last response before the close. */
void ff_conn_error_close(ff_worker *w, ff_conn *c, int status, const char *msg);
/* Drops a partly received spooled body (its file is removed). */
void ff_conn_spool_end(ff_conn *c);

/* internal.c: /_frostfork/... Returns the status answered, 0 when the path
 * is not ours, or -1 when out of memory for the answer. */
int ff_serve_internal(ff_worker *w, const ff_conn *c, const ff_req *r, ff_buf *out);

#endif
