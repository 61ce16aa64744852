/* server/conn.c — the request cycle of one connection: read, parse the
 * head, collect the body (in memory, or spooled to a file), answer through
 * ff_dispatch_run, write, and settle into the state the buffers call for.
 *
 * A request is read completely into the connection's buffer before anything
 * runs in Python, so a slow client costs a buffer, never the worker. */
#include "server/conn.h"
#include "dispatch/ws.h"
#include "obj/body.h"
#include "life/finalize.h"
#include "life/spool.h"
#include "util/fd.h"
#include "util/fault.h"
#include "server/fault.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK 16384
#define BODY_CHUNK 65536
#define OUT_HIGH_WATER (256 * 1024)
#define DRAIN_IDLE_GRACE_MS 200
#define IDLE_BUF_MAX (4 * BODY_CHUNK) /* an idle connection keeps buffers up to this */

/* ---- refusing ---- */

/* A last response before the close. Out of memory for it, the connection
 * closes without one (ff_response_error leaves nothing half-written). */
void ff_conn_error_close(ff_worker *w, ff_conn *c, int status, const char *msg)
{
    ff_response_error(&c->out, status, msg, &w->date, 0, 0, 0);
    c->closing = 1;
}

/* Answers a request the parser refused, and closes. When a configured limit
 * was exceeded the detail names the limit, its value and its flag, so the
 * client sees why and the operator sees what to change. */
static void http_error(ff_worker *w, ff_conn *c, enum ff_http_error err)
{
    const ff_http_limits *lim = &w->srv->cfg.limits;
    char msg[128];
    const char *text = msg;
    switch (err) {
    case FF_HTTP_E_URI_TOO_LONG:
        snprintf(msg, sizeof msg, "request line longer than %zu bytes (--max-request-line)",
                 lim->max_request_line);
        break;
    case FF_HTTP_E_HEADERS_TOO_LARGE:
        snprintf(msg, sizeof msg, "header section larger than %zu bytes (--max-header-bytes)",
                 lim->max_header_bytes);
        break;
    case FF_HTTP_E_TOO_MANY_HEADERS:
        snprintf(msg, sizeof msg, "more than %zu header fields (--max-headers)", lim->max_headers);
        break;
    case FF_HTTP_E_BODY_TOO_LARGE:
        snprintf(msg, sizeof msg, "body larger than %llu bytes (--max-body)",
                 (unsigned long long)lim->max_body);
        break;
    default:
        text = ff_http_error_text(err);
    }
    ff_conn_error_close(w, c, ff_http_error_status(err), text);
}

/* ---- answering ---- */

void ff_conn_request_done(ff_worker *w, ff_conn *c, const ff_req *r, int status, size_t bytes_out,
                          int64_t us)
{
    ff_slot_count(w->slot, status, us);
    if (w->logs.sink[FF_LOG_ACCESS]) {
        ff_access a = {.http = r->http, .peer_host = r->peer_host, /* a trusted proxy's client */
                       .bytes_in = r->body_len,
                       .bytes_out = bytes_out, .status = status,
                       .duration_us = us, .request_id = ff_request_id(&w->env, r)};
        ff_logs_access(&w->logs, &a, w->now);
    }
    ff_dispatch_end(&w->env);
    if (!r->keep_alive)
        c->closing = 1;
    w->served++;
    __atomic_store_n(&w->slot->requests, w->served, __ATOMIC_RELAXED);
    if (w->max_requests > 0 && w->served >= (uint64_t)w->max_requests)
        ff_worker_begin_drain(w);
}

size_t ff_conn_req_end(const ff_conn *c)
{
    return c->req_end;
}

/* Answers one complete request: the internal paths, else the app through
 * ff_dispatch_run; then counts it, logs it, and starts the drain when the
 * worker has served its quota. Returns FF_STATUS_PENDING when an async
 * handler suspended: its task finishes the request (ff_conn_task_done). */
static int run_request(ff_worker *w, ff_conn *c, ff_http_request *http, const char *body,
                        size_t body_len, PyObject *spool)
{
    ff_req r;
#ifdef FF_FAULT_INJECT
    ff_fault_request_begin(http);
#endif
    if (http->flags & FF_HTTP_F_ABSOLUTE_FORM)
        ff_http_use_target_host(http);
    size_t mark = ff_buf_used(&c->out);
    int status;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    r.http = http;
    r.body = body;
    r.body_len = body_len;
    r.spool = spool;
    r.method = ff_method_from(http->method, http->method_len);
    r.http10 = http->version_minor == 0;
    r.keep_alive = (http->flags & FF_HTTP_F_KEEP_ALIVE) && !w->draining;
    r.head_only = r.method == FF_M_HEAD;
    r.peer_host = c->peer_host;
    r.peer_port = c->peer_port;
    r.scheme = NULL;
    /* what the master reports if this worker dies inside the handler */
    size_t ml = http->method_len < 16 ? http->method_len : 16;
    size_t pl = http->path_len < sizeof w->slot->current - ml - 2 ? http->path_len
                                                                  : sizeof w->slot->current - ml - 2;
    memcpy(w->slot->current, http->method, ml);
    w->slot->current[ml] = ' ';
    memcpy(w->slot->current + ml + 1, http->path, pl);
    w->slot->current[ml + 1 + pl] = '\0';
    if (w->logs.sink[FF_LOG_ACCESS] || w->logs.sink[FF_LOG_AUDIT])
        ff_request_id(&w->env, &r); /* logs and audit records carry it */
    w->running = c;
    if ((status = ff_serve_internal(w, c, &r, &c->out)) == 0) {
        status = ff_dispatch_run(&w->env, &r, &c->out);
        c->src = w->env.src; /* a file or stream body: sent by conn_flush as the socket drains */
        c->src_close = w->env.src_close;
        ff_body_src_attach(&c->src, ff_conn_src_ready, w, c);
        w->env.src = (ff_body_src){.fd = -1};
        w->env.src_close = 0;
    }
    else if (status < 0) {
        c->out.len = c->out.off + mark; /* out of memory: nothing partial is sent */
        r.keep_alive = 0;
        status = 0;
    }
    w->running = NULL;
    w->slot->current[0] = '\0';
    if (status == FF_STATUS_PENDING) {
        ff_dispatch_end(&w->env);
        return status;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t us = (t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
    ff_conn_request_done(w, c, &r, status, ff_buf_used(&c->out) - mark, us);
    return status;
}

/* An async body's next item (or its end) arrived: it is written, and the
 * next asked for once the socket took it. */
void ff_conn_src_ready(void *ctx, void *owner)
{
    ff_worker *w = ctx;
    ff_conn *c = owner;
    w->now = ff_now_ms();
    ff_conn_process(w, c);
}

/* A file or stream body is finished: the connection goes on with the next
 * request, or closes when the body ran to the close (HTTP/1.0 stream). */
static void src_done(ff_conn *c)
{
    if (c->src_close)
        c->closing = 1;
    c->src_close = 0;
}

/* The body source failed half-way: the response cannot be completed, so the
 * connection closes and the client sees a short body, never a wrong one. */
static int src_failed(ff_worker *w, ff_conn *c)
{
    if (PyErr_Occurred()) {
        fprintf(stderr, "[frostfork] worker %d: response body failed, connection closed:\n",
                (int)w->pid);
        PyErr_Print();
    }
    ff_conn_close(w, c);
    return -1;
}

/* Writes as much pending output as the socket takes, then the body left in
 * c->src: a file range with sendfile(2), or a stream one item at a time,
 * each item sent before the next is asked for, so a slow client pauses the
 * generator and never grows a buffer. Progress renews the write timeout: a
 * long download is not cut off while it moves. Returns -1 when the
 * connection was closed because the peer is gone. */
static int conn_flush(ff_worker *w, ff_conn *c)
{
    for (;;) {
        /* a head with a file to follow: MSG_MORE lets them share packets, as nginx's tcp_nopush */
        int more = c->src.kind == FF_BODY_FILE ? MSG_MORE : 0;
        while (ff_buf_used(&c->out) > 0) {
            ssize_t n = send(c->fd, c->out.data + c->out.off, ff_buf_used(&c->out),
                             MSG_NOSIGNAL | more);
            if (n > 0) {
                ff_buf_consume(&c->out, (size_t)n);
                if (c->state == FF_C_WRITE)
                    ff_tl_push(&w->write, c, w->now);
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return 0;
            ff_conn_close(w, c);
            return -1;
        }
        if (c->src.kind == FF_BODY_NONE)
            return 0;
        if (c->src.kind == FF_BODY_ITER) {
            int rc = ff_body_src_pump(&c->src, &c->out);
            if (rc < 0)
                return src_failed(w, c);
            if (rc == 0)
                src_done(c);
            continue;
        }
        if (c->src.kind == FF_BODY_AITER) {
            int rc = ff_body_src_apump(&c->src, &c->out);
            if (rc < 0)
                return src_failed(w, c);
            if (rc == 0)
                src_done(c);
            if (rc == 2)
                return 0; /* the next item is awaited: its arrival processes c again */
            continue;
        }
        off_t off = (off_t)c->src.off;
        size_t want = c->src.left < (1u << 21) ? (size_t)c->src.left : (1u << 21);
        ssize_t n = sendfile(c->fd, c->src.fd, &off, want);
        if (n > 0) {
            c->src.off += (uint64_t)n;
            c->src.left -= (uint64_t)n;
            if (c->state == FF_C_WRITE)
                ff_tl_push(&w->write, c, w->now);
            if (c->src.left == 0) {
                ff_body_src_clear(&c->src);
                src_done(c);
            }
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        ff_body_src_clear(&c->src); /* the peer is gone, or the file shrank */
        return src_failed(w, c);
    }
}

/* Runs the finalizers of the requests just answered (request-scoped
 * dependencies, request.defer(), temp files): their responses are written,
 * or handed to the kernel, by now. */
static void run_cleanup(ff_worker *w)
{
    if (w->srv->st->request_fins.head)
        ff_fin_run_list(&w->srv->st->request_fins);
}

/* ---- spooling large bodies ---- */

void ff_conn_spool_end(ff_conn *c)
{
    if (c->spool_fd < 0)
        return;
    close(c->spool_fd);
    unlink(c->spool_path);
    ff_free(c->spool_path);
    c->spool_path = NULL;
    c->spool_fd = -1;
    c->spooled = 0;
}

/* Spool paths grow by a fixed suffix at each level ("/w<pid>", then
 * "/body-XXXXXX"): each buffer holds the one above plus its suffix, which
 * is why --spool-dir alone is length-checked (FF_SPOOL_ROOT_MAX). */
_Static_assert(sizeof(((ff_state *)0)->spool_dir) >= sizeof(((ff_server *)0)->spool) + 12,
               "a worker's spool directory must fit ff_state.spool_dir");

/* The connection's spool file, created on first use in the worker's spool
 * directory. */
static int spool_open(ff_worker *w, ff_conn *c)
{
    if (c->spool_fd >= 0)
        return 0;
    char path[sizeof w->srv->st->spool_dir + 16]; /* + "/body-XXXXXX" */
    int fd = ff_spool_open(w->srv->st->spool_dir, path, sizeof path);
    if (fd < 0 || !(c->spool_path = ff_strdup(path))) {
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        return -1;
    }
    c->spool_fd = fd;
    return 0;
}

/* Large bodies (Content-Length above --spool-threshold) go to a file in the
 * worker's spool directory as they arrive, so an upload costs page cache,
 * not heap. Returns 1 when the body is complete, 0 when more is needed, -1
 * on a write error. Bytes after the body (a pipelined request) stay in the
 * buffer right after the head. */
static int spool_body(ff_worker *w, ff_conn *c, char *base, size_t avail)
{
    uint64_t cl = (uint64_t)c->content_length;
    if (spool_open(w, c) < 0)
        return -1;
    size_t have = avail - c->head_len;
    size_t take = have < cl - c->spooled ? have : (size_t)(cl - c->spooled);
    if (ff_write_all(c->spool_fd, base + c->head_len, take) < 0)
        return -1;
    c->spooled += take;
    memmove(base + c->head_len, base + c->head_len + take, have - take);
    c->in.len -= take;
    return c->spooled == cl;
}

/* Hands the complete spool file to a Spool object, whose close() becomes a
 * finalizer of the request about to run (so the file goes when the request's
 * cleanup runs, also after an exception), and maps it read-only for the
 * binding plan's JSON decoder, which then decodes a typed body without a
 * copy. Returns the Spool and the mapping in *map, or NULL with the file
 * removed. */
static PyObject *spool_adopt(ff_worker *w, ff_conn *c, void **map)
{
    ff_state *st = w->srv->st;
    PyObject *spool = ff_spool_new(st, c->spool_fd, c->spool_path, c->spooled);
    if (!spool) {
        PyErr_Clear();
        ff_conn_spool_end(c);
        return NULL;
    }
    c->spool_fd = -1; /* the Spool owns the fd and the path now */
    c->spool_path = NULL;
    PyObject *close = PyObject_GetAttr(spool, st->str_close);
    st->in_request = 1; /* the finalizer belongs to the request about to run */
    int rc = close ? ff_defer(st, close, st->empty_tuple) : -1;
    st->in_request = 0;
    Py_XDECREF(close);
    *map = rc < 0 ? MAP_FAILED
                  : mmap(NULL, c->spooled, PROT_READ, MAP_PRIVATE, ff_spool_fd(spool), 0);
    if (*map == MAP_FAILED) {
        PyErr_Clear();
        *map = NULL;
        ff_spool_close(spool); /* a registered close() later does nothing */
        Py_DECREF(spool);
        return NULL;
    }
    return spool;
}

/* A chunked body has no size up front: its decoded bytes collect after the
 * head, and once they pass --spool-threshold they move to a spool file, as do
 * the ones decoded after them; `tail` bytes (a pipelined request) follow the
 * decoded ones and stay in the buffer. */
static int spool_decoded(ff_worker *w, ff_conn *c, char *base, size_t tail)
{
    if (spool_open(w, c) < 0 || ff_write_all(c->spool_fd, base + c->head_len, c->body_len) < 0)
        return -1;
    c->spooled += c->body_len;
    memmove(base + c->head_len, base + c->head_len + c->body_len, tail);
    c->in.len -= c->body_len;
    c->body_len = 0;
    return 0;
}

/* ---- the steps of one request ---- */

/* Step 1: the head. Returns 1 when a new head was parsed into *req, 0 when
 * the head is incomplete (or was parsed on an earlier read), -1 when the
 * request was refused (answered, closing). */
static int take_head(ff_worker *w, ff_conn *c, ff_http_request *req, char *base, size_t avail)
{
    enum ff_http_error err = FF_HTTP_OK;
    ssize_t r = ff_http_parse_request(base, avail, c->prev_len, &w->srv->cfg.limits, req,
                                      w->headers, &err);
    if (r == -2) {
        c->prev_len = avail;
        return 0;
    }
    if (r < 0) {
        http_error(w, c, err);
        return -1;
    }
    c->head_len = (size_t)r;
    c->prev_len = 0;
    c->content_length = req->content_length;
    c->flags = req->flags;
    c->body_len = 0;
    if (c->flags & FF_HTTP_F_CHUNKED)
        ff_http_chunked_init(&c->chunked);
    int need_body = (c->flags & FF_HTTP_F_CHUNKED) ||
                    (c->content_length > 0 && avail < c->head_len + (size_t)c->content_length);
    if ((c->flags & FF_HTTP_F_EXPECT_CONTINUE) && need_body && req->version_minor == 1 &&
        ff_buf_append(&c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0) {
        c->closing = 1; /* out of memory: the client hears a close, not a hang */
        return -1;
    }
    return 1;
}

/* Whether a body with a Content-Length goes to a spool file rather than
 * memory: one over --spool-threshold, when the worker has a spool directory. */
static int spools_by_length(ff_worker *w, const ff_conn *c)
{
    return w->srv->st->spool_dir[0] != '\0' && c->content_length > 0 &&
           (uint64_t)c->content_length > w->srv->cfg.spool_threshold;
}

/* Where the body of the request being read is, once it is whole. */
typedef struct {
    const char *data;
    size_t len;
    size_t req_end;  /* bytes of the input buffer this request used */
    PyObject *spool; /* a spooled body's Spool, and its mapping */
    void *map;
} ff_body;

/* Step 2: the body, in memory or spooled, plain or chunked. Returns 1 when
 * it is whole (described in *b), 0 when more must arrive, -1 when the
 * request was refused (answered, closing). */
static int take_body(ff_worker *w, ff_conn *c, char *base, size_t avail, ff_body *b)
{
    const ff_http_limits *lim = &w->srv->cfg.limits;
    int chunked = (c->flags & FF_HTTP_F_CHUNKED) != 0;
    int spool_ok = w->srv->st->spool_dir[0] != '\0';
    int spooling = 0, done = 1;
    memset(b, 0, sizeof *b);
    b->data = base + c->head_len;
    if (chunked) {
        enum ff_http_error err = FF_HTTP_OK;
        size_t raw_start = c->head_len + c->body_len;
        size_t len = avail - raw_start;
        ssize_t r = ff_http_chunked_decode(&c->chunked, lim, base + raw_start, &len, &err);
        if (r == -1) {
            http_error(w, c, err);
            return -1;
        }
        c->body_len += len;
        size_t tail = r > 0 ? (size_t)r : 0;
        c->in.len = c->in.off + c->head_len + c->body_len + tail;
        done = r != -2;
        spooling = spool_ok && (c->spool_fd >= 0 || c->body_len > w->srv->cfg.spool_threshold);
        if (spooling && spool_decoded(w, c, base, tail) < 0)
            done = -1;
    } else if (c->spool_fd >= 0 || spools_by_length(w, c)) {
        spooling = 1;
        done = spool_body(w, c, base, avail);
    }
    if (done < 0) {
        ff_conn_spool_end(c);
        ff_conn_error_close(w, c, 500, "cannot spool the request body");
        return -1;
    }
    if (!done)
        return 0;
    if (spooling) {
        if (!(b->spool = spool_adopt(w, c, &b->map))) {
            c->spooled = 0;
            ff_conn_error_close(w, c, 500, "cannot map the request body");
            return -1;
        }
        b->data = b->map;
        c->body_len = c->spooled;
        c->spooled = 0;
        b->req_end = c->head_len;
    } else if (chunked) {
        b->req_end = c->head_len + c->body_len;
    } else {
        size_t cl = c->content_length > 0 ? (size_t)c->content_length : 0;
        if (avail < c->head_len + cl)
            return 0;
        c->body_len = cl;
        b->req_end = c->head_len + cl;
    }
    b->len = c->body_len;
    return 1;
}

/* The mapping goes after the request; the spool file itself when the
 * request cleanup runs spool.close(), after the response is written. */
static void body_release(ff_body *b)
{
    if (!b->map)
        return;
    munmap(b->map, b->len);
    Py_DECREF(b->spool);
}

/* Step 4: after the buffered requests are answered and written, the state
 * the buffers call for: writing, lingering before close, waiting for a
 * body or a head, or idle. */
static void settle(ff_worker *w, ff_conn *c)
{
    if (ff_buf_used(&c->out) == 0 && c->src.kind == FF_BODY_AITER) {
        /* waiting for the app's next item: no write timeout (an event stream may
         * be quiet for long), and the socket watched only to see the client leave */
        c->state = FF_C_WRITE;
        ff_tl_remove(c);
        ff_conn_watch(w, c, FF_READ);
        return;
    }
    if (ff_buf_used(&c->out) > 0 || c->src.kind != FF_BODY_NONE) {
        if (c->state != FF_C_WRITE) {
            c->state = FF_C_WRITE;
            ff_tl_push(&w->write, c, w->now);
        }
        ff_conn_watch(w, c, FF_WRITE);
        return;
    }
    ff_conn_watch(w, c, FF_READ);
    if (c->closing) {
        if (c->state != FF_C_LINGER) {
            /* Half-close and drain what the client still sends, so our
             * error response is not destroyed by a reset. */
            shutdown(c->fd, SHUT_WR);
            c->state = FF_C_LINGER;
            ff_tl_push(&w->linger, c, w->now);
            /* answered and closing: it no longer counts against --max-connections
             * (a client that never closes cannot hold the cap), and is closed for
             * good after the linger timeout at most */
            w->nconns--;
            if (w->nconns < w->srv->cfg.max_connections)
                ff_worker_listen_on(w);
        }
    } else if (c->head_len > 0) {
        if (c->state != FF_C_BODY) {
            c->state = FF_C_BODY;
            ff_tl_push(&w->body, c, w->now);
        }
    } else if (ff_buf_used(&c->in) > 0) {
        if (c->state != FF_C_HEAD) {
            c->state = FF_C_HEAD;
            ff_tl_push(&w->head, c, w->now);
        }
    } else if (c->state != FF_C_IDLE) {
        /* Waiting for the next request, the connection lets go of buffers a
         * large body or answer grew: otherwise one 2 MiB upload would pin
         * 2 MiB for as long as its client keeps the connection open. */
        if (c->in.cap > IDLE_BUF_MAX)
            ff_buf_free(&c->in);
        if (c->out.cap > IDLE_BUF_MAX)
            ff_buf_free(&c->out);
        c->state = FF_C_IDLE;
        ff_tl_push(&w->idle, c, w->now);
        if (w->draining && c->deadline > w->now + DRAIN_IDLE_GRACE_MS)
            c->deadline = w->now + DRAIN_IDLE_GRACE_MS;
    }
}

/* Answers every complete request in the input buffer (HTTP/1.1 pipelining)
 * until the output passes its high-water mark: step 1 the head, step 2 the
 * body, step 3 the answer; then writes, runs the requests' cleanup, and
 * settles (step 4). */
void ff_conn_process(ff_worker *w, ff_conn *c)
{
    ff_http_request req;
    if (c->task) {
        /* a task runs this connection's request: only earlier answers go out */
        if (conn_flush(w, c) == 0) {
            if (c->ws_open && ff_buf_used(&c->out) == 0)
                ff_buf_free(&c->out);
            if (ff_buf_used(&c->out))
                ff_conn_watch(w, c, FF_WRITE);
            else if (!c->ws_open || ff_wsobj_can_read(c->ws))
                ff_conn_watch(w, c, FF_READ);
            else if (c->watching && ff_loop_del(&w->loop, c->fd) == 0)
                c->watching = 0; /* the session's queue is full: read again once it drains */
            ff_aio_flushed(w, c);
        }
        return;
    }
again:
    while (!c->closing && c->src.kind == FF_BODY_NONE && ff_buf_used(&c->out) < OUT_HIGH_WATER) {
        size_t avail = ff_buf_used(&c->in);
        char *base = c->in.data + c->in.off;
        int fresh = 0;
        if (c->head_len == 0) {
            if (avail == 0 || (fresh = take_head(w, c, &req, base, avail)) <= 0)
                break;
        }
        ff_body b;
        if (take_body(w, c, base, avail, &b) <= 0)
            break;
        if (!fresh) {
            /* The head was parsed on an earlier read; its pointers may be
             * stale after the buffer grew, so parse it again in place. */
            enum ff_http_error err = FF_HTTP_OK;
            if (ff_http_parse_request(base, c->head_len, 0, &w->srv->cfg.limits, &req, w->headers,
                                      &err) < 0) {
                body_release(&b); /* a spool's close() runs with the request cleanup */
                http_error(w, c, err);
                break;
            }
        }
        c->req_end = b.req_end;
        int pending = run_request(w, c, &req, b.data, b.len, b.spool) == FF_STATUS_PENDING;
        body_release(&b);
        if (pending)
            break; /* the request's bytes stay until its task has answered */
        ff_buf_consume(&c->in, b.req_end);
        c->head_len = 0;
        c->prev_len = 0;
    }

    int gone = conn_flush(w, c) < 0;
    run_cleanup(w);
#ifdef FF_FAULT_INJECT
    ff_fault_request_end();
#endif
    if (gone)
        return;
    if (c->task) {
        c->state = FF_C_TASK;
        ff_tl_push(&w->tasks, c, w->now);
        ff_conn_watch(w, c, ff_buf_used(&c->out) ? FF_WRITE : FF_READ);
        ff_aio_flushed(w, c); /* an ASGI send() may wait on this output */
        return;
    }
    if (ff_buf_used(&c->out) == 0 && c->src.kind == FF_BODY_NONE && !c->closing &&
        c->head_len == 0 && c->prev_len == 0 && ff_buf_used(&c->in) > 0)
        goto again; /* stopped at the high-water mark with whole requests left */
    settle(w, c);
}

void ff_conn_task_done(ff_worker *w, ff_conn *c, size_t req_end)
{
    ff_buf_consume(&c->in, req_end);
    c->head_len = 0;
    c->prev_len = 0;
    ff_conn_process(w, c);
}

/* While a task runs the connection's request, its input buffer holds that
 * request (its head is read in place) and is not touched: readable means
 * the client left (then the task is cancelled), or sent more (pipelined; it
 * is read once the task has answered). Either way the socket is not watched
 * until then. */
static void task_readable(ff_worker *w, ff_conn *c)
{
    char b;
    ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (ff_loop_del(&w->loop, c->fd) == 0)
        c->watching = 0;
    if (n <= 0) {
        c->gone = 1;
        ff_aio_client_gone(w, c);
    }
}

/* ---- WebSockets ---- */

int ff_conn_ws_input(ff_worker *w, ff_conn *c)
{
    size_t used = 0;
    int rc = ff_wsobj_feed(c->ws, c->in.data + c->in.off, ff_buf_used(&c->in), &used);
    ff_buf_consume(&c->in, used);
    if (rc == 0) {
        if (ff_buf_used(&c->in) == 0)
            ff_buf_free(&c->in); /* an idle WebSocket holds no buffer: thousands of them stay cheap */
        ff_tl_push(&w->ws, c, w->now); /* the idle ping counts from the last frame */
        return 0;
    }
    if (rc < 0) /* out of memory in the session: it ends, abruptly */
        PyErr_Clear();
    ff_aio_ws_end(w, c);
    return 1;
}

/* An open WebSocket's socket is readable: frames are read and handed to the
 * session, a bounded number of reads per turn, until its receive queue is
 * over its mark (then the socket is not watched until the handler takes
 * messages: a client cannot fill the worker's memory faster than the
 * handler reads). */
static void ws_readable(ff_worker *w, ff_conn *c)
{
    for (int i = 0; i < 8; i++) {
        if (!ff_wsobj_can_read(c->ws)) {
            ff_wsobj_pause(c->ws);
            break;
        }
        if (ff_buf_reserve(&c->in, READ_CHUNK) < 0) {
            ff_conn_close(w, c);
            return;
        }
        size_t room = c->in.cap - c->in.len;
        ssize_t n = recv(c->fd, c->in.data + c->in.len, room, 0);
        if (n == 0) {
            ff_conn_close(w, c); /* no close frame: the handler sees 1006 */
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                break;
            ff_conn_close(w, c);
            return;
        }
        c->in.len += (size_t)n;
        if (ff_conn_ws_input(w, c))
            return;
        if ((size_t)n < room)
            break; /* the socket had less than the room: nothing more for now */
    }
    ff_conn_process(w, c); /* pongs and close answers go out */
}

/* The room to read the rest of a body into. A body that will stay in
 * memory gets all of its room at once: growing by doubling would copy it
 * over and over, and untouched room costs no resident memory. */
static size_t body_room(ff_worker *w, ff_conn *c)
{
    if ((c->flags & FF_HTTP_F_CHUNKED) || c->spool_fd >= 0 || c->content_length <= 0 ||
        spools_by_length(w, c))
        return BODY_CHUNK;
    size_t end = c->head_len + (size_t)c->content_length, used = ff_buf_used(&c->in);
    return end > used + BODY_CHUNK ? end - used : BODY_CHUNK;
}

void ff_conn_readable(ff_worker *w, ff_conn *c)
{
    if (c->ws_open) {
        ws_readable(w, c);
        return;
    }
    if (c->task) {
        task_readable(w, c);
        return;
    }
    if (c->state == FF_C_LINGER) {
        char sink[4096];
        for (int i = 0; i < 16; i++) {
            ssize_t n = recv(c->fd, sink, sizeof sink, 0);
            if (n > 0)
                continue;
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                ff_conn_close(w, c);
            return;
        }
        return;
    }
    size_t want = c->head_len ? body_room(w, c) : READ_CHUNK;
    if (ff_buf_reserve(&c->in, want) < 0) {
        ff_conn_close(w, c);
        return;
    }
    ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
    if (n == 0) {
        ff_conn_close(w, c);
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            ff_conn_close(w, c);
        return;
    }
    c->in.len += (size_t)n;
    if (c->state == FF_C_IDLE) {
        c->state = FF_C_HEAD;
        ff_tl_push(&w->head, c, w->now);
    } else if (c->state == FF_C_BODY) {
        ff_tl_push(&w->body, c, w->now); /* body timeout counts from the last progress */
    }
    ff_conn_process(w, c);
}
