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
    FF_C_TASK,   /* its request's async handler suspended: a Task runs it (server/aio.c) */
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
    size_t req_end;       /* bytes of the input the request being answered uses */
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
    struct ff_Step *task; /* FF_C_TASK: the suspended request (server/aio.c) */
    int gone;             /* the client left while the task ran: close when it ends */
    struct ff_Ws *ws;     /* a WebSocket session's connection (its Step owns it), or NULL */
    int ws_open;          /* ... past the 101: the input is frames, read by ws_readable */
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
    /* async (server/aio.c): the event loop made after fork, or NULL */
    PyObject *aio_loop;
    PyObject *aio_task_type; /* asyncio.Task */
    PyObject *aio_cancelled; /* asyncio.CancelledError */
    PyObject *aio_ctx;       /* the worker's own context, copied for each request's end */
    PyObject *aio_tick;      /* the loop's reader callback: one turn of this worker */
    ff_tlist tasks;          /* connections whose handler runs as a Task (--timeout) */
    ff_tlist ws;             /* open WebSockets; the timeout is --ws-ping (idle ping) */
    int ntasks;
    unsigned long steps_made; /* requests suspended so far */
    struct ff_Step *steps;   /* every Step still alive, to let go of at exit */
    int timerfd;             /* wakes the loop at the next deadline */
    int64_t timer_at;
    int aio_stop;
    PyObject *aio_lifespan;  /* an ASGI app's lifespan (frostfork.asgi), or NULL */
    int exit_code;           /* non-zero: the worker's exit status (FF_EXIT_*) */
    ff_conn *running;        /* the connection whose request is being dispatched */
    char tag_timer;
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

/* One turn of the worker: clock, heartbeat, expiry, log flush; then n ready
 * events. Returns 1 when the worker should stop. */
int ff_worker_turn_begin(ff_worker *w);
int ff_worker_turn_events(ff_worker *w, int n);
int ff_worker_next_wait_ms(ff_worker *w);

/* aio.c: the worker's event loop (when the app has async handlers) */
int ff_aio_start(ff_worker *w);     /* after fork: the loop, the timer; -1 with an exception */
int ff_aio_run(ff_worker *w);       /* runs the loop until the worker stops */
void ff_aio_stop(ff_worker *w);     /* cancels what runs, lets it end, closes the loop */
void ff_aio_detach(ff_worker *w, ff_conn *c); /* the connection closes: cancel its task */
void ff_aio_cancel(ff_worker *w, ff_conn *c, int timed_out);
void ff_aio_client_gone(ff_worker *w, ff_conn *c); /* cancel, or tell the ASGI app */
void ff_aio_flushed(ff_worker *w, ff_conn *c);     /* output went out: backpressure eases */
/* A WebSocket's session ended while its handler may still run (the close
 * handshake finished, a protocol error, a ping timeout): it is logged and let
 * go of, and the connection closes once its output is written. */
void ff_aio_ws_end(ff_worker *w, ff_conn *c);
/* Frames already in c->in (sent with the handshake, or read): handed to the
 * session. Returns 1 when that ended it (ff_aio_ws_end ran). */
int ff_conn_ws_input(ff_worker *w, ff_conn *c);
/* An async iterator's item for the connection's body arrived (send.h's ready). */
void ff_conn_src_ready(void *ctx, void *owner);
int ff_aio_suspend(ff_env *e, const ff_req *r, PyObject *coro, PyObject *yielded, PyObject *ctx,
                   const char *label, struct ff_Finalizer *mark, struct ff_Asgi *asgi,
                   const ff_route *rt, struct ff_Ws *ws);

/* conn.c: the request cycle of one connection */
/* The end of one request (now, or when its task ended): counted, logged,
 * the quota checked. */
void ff_conn_request_done(ff_worker *w, ff_conn *c, const ff_req *r, int status, size_t bytes_out,
                          int64_t us);
/* The task of the connection's current request wrote its response: the
 * request's bytes are let go, the next ones (pipelined) are answered. */
void ff_conn_task_done(ff_worker *w, ff_conn *c, size_t req_end);
/* Where the current request ends in the input buffer (set while it runs). */
size_t ff_conn_req_end(const ff_conn *c);
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
