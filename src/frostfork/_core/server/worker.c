/* server/worker.c — one worker: the epoll loop, connections, timeouts.
 *
 * A request is read completely into the connection's buffer before anything
 * runs in Python, so a slow client costs a buffer, never the worker. Each
 * connection is always on exactly one timeout list; the lists are FIFO by
 * deadline, so expiry is O(expired). */
#include "server/conn.h"
#include "server/body.h"
#include "life/finalize.h"
#include "life/spool.h"
#include "life/logs.h"
#include "life/sinks.h"
#include "util/fd.h"
#include "util/fault.h"
#include "server/fault.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK 16384
#define BODY_CHUNK 65536
#define OUT_HIGH_WATER (256 * 1024)
#define LINGER_MS 2000
#define DRAIN_IDLE_GRACE_MS 200
#define ACCEPT_BATCH 64
#define EXPIRE_BATCH 64

/* ---- timeout lists ---- */

static void tl_remove(ff_conn *c)
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

static void tl_push(ff_tlist *l, ff_conn *c, int64_t now)
{
    tl_remove(c);
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

/* ---- accepting ---- */

/* Watches the listening socket(s): the app's, and --metrics-bind's. */
static void listen_on(ff_worker *w)
{
    if (w->listening || w->draining)
        return;
    if (ff_loop_add(&w->loop, w->srv->cfg.listen_fd, FF_READ | FF_EXCLUSIVE, &w->tag_listen) < 0)
        return;
    if (w->srv->cfg.metrics_fd >= 0)
        ff_loop_add(&w->loop, w->srv->cfg.metrics_fd, FF_READ | FF_EXCLUSIVE, &w->tag_metrics);
    w->listening = 1;
}

static void listen_off(ff_worker *w)
{
    if (!w->listening)
        return;
    ff_loop_del(&w->loop, w->srv->cfg.listen_fd);
    if (w->srv->cfg.metrics_fd >= 0)
        ff_loop_del(&w->loop, w->srv->cfg.metrics_fd);
    w->listening = 0;
}

static void set_watch(ff_worker *w, ff_conn *c, unsigned ev)
{
    if (c->watching != ev && ff_loop_mod(&w->loop, c->fd, ev, c) == 0)
        c->watching = ev;
}

static void spool_end(ff_conn *c);

static void conn_close(ff_worker *w, ff_conn *c)
{
    int counted = c->state != FF_C_LINGER; /* lingering ones left the count already */
    spool_end(c);
    tl_remove(c);
    close(c->fd);
    ff_buf_free(&c->in);
    ff_buf_free(&c->out);
    ff_free(c);
    if (counted)
        w->nconns--;
    if (w->nconns < w->srv->cfg.max_connections)
        listen_on(w);
}

/* With EPOLLEXCLUSIVE the kernel wakes the first idle worker in the
 * listening socket's wait queue, and that order is registration order: one
 * worker would take every connection that arrives while it is idle, and keep
 * those keep-alive clients when load rises while the others sit idle (4
 * workers under wrk -c50: one served all 200,000 requests). Registering again
 * moves this worker to the back of the queue, so idle workers take new
 * connections in turn. Alone (the master's current target, which TTIN and
 * TTOU change), a worker skips the two calls. */
static void requeue_listen(ff_worker *w, int lfd, void *tag)
{
    if (ff_loop_del(&w->loop, lfd) == 0 &&
        ff_loop_add(&w->loop, lfd, FF_READ | FF_EXCLUSIVE, tag) < 0)
        listen_off(w); /* not watched any more; listen_on retries when a connection closes */
}

/* Accepts a bounded batch so one busy listener cannot starve the
 * connections already open; the listener stays level-triggered. Returns
 * how many were accepted. */
static int accept_ready(ff_worker *w, int lfd, int internal)
{
    int i;
    for (i = 0; i < ACCEPT_BATCH && w->listening; i++) {
        if (w->nconns >= w->srv->cfg.max_connections) {
            listen_off(w);
            break;
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            break; /* EAGAIN: another worker took it; EMFILE: retried next wakeup */
        int one = 1;
        if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ff_conn *c = ff_calloc(1, sizeof *c);
        if (!c || ff_loop_add(&w->loop, fd, FF_READ, c) < 0) {
            ff_free(c);
            close(fd);
            continue;
        }
        c->fd = fd;
        c->spool_fd = -1;
        c->internal = internal;
        c->peer = ss;
        c->peer_len = sl;
        c->watching = FF_READ;
        c->state = FF_C_HEAD;
        c->content_length = -1;
        tl_push(&w->head, c, w->now);
        w->nconns++;
    }
    if (i > 0 && w->listening &&
        __atomic_load_n(&w->srv->shared->hdr.workers_target, __ATOMIC_RELAXED) > 1)
        requeue_listen(w, lfd, internal ? &w->tag_metrics : &w->tag_listen);
    return i;
}

void ff_conn_peer(const ff_conn *c, char *host, size_t hostlen, int *port)
{
    host[0] = '\0';
    *port = 0;
    if (c->peer.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&c->peer;
        inet_ntop(AF_INET, &a->sin_addr, host, (socklen_t)hostlen);
        *port = ntohs(a->sin_port);
    } else if (c->peer.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&c->peer;
        inet_ntop(AF_INET6, &a->sin6_addr, host, (socklen_t)hostlen);
        *port = ntohs(a->sin6_port);
    }
}

const char *ff_conn_host(const ff_conn *c)
{
    ff_conn *m = (ff_conn *)c; /* a cache: formatting does not change the connection */
    if (!m->host[0]) {
        int port;
        ff_conn_peer(c, m->host, sizeof m->host, &port);
        if (!m->host[0])
            strcpy(m->host, "-");
    }
    return m->host;
}

/* ---- draining ---- */

/* Stops accepting and lets open connections finish: every later response
 * says Connection: close, and connections idle right now get a short grace
 * to deliver a request already in flight before they are closed. */
static void begin_drain(ff_worker *w)
{
    if (w->draining)
        return;
    /* Take what already waits in the listen queue (it is served, with
     * Connection: close), then let go of the listening sockets. Once the
     * master and every worker have, new connections are refused at once
     * instead of queueing where nobody accepts them and being reset when the
     * last process exits. A socket systemd passed in stays open in systemd. */
    for (int i = 0; i < 16 && accept_ready(w, w->srv->cfg.listen_fd, 0) == ACCEPT_BATCH; i++)
        ;
    listen_off(w);
    ff_fd_release(w->srv->cfg.listen_fd);
    ff_fd_release(w->srv->cfg.metrics_fd);
    w->draining = 1;
    w->drain_deadline = w->now + w->srv->cfg.graceful_ms;
    __atomic_store_n(&w->slot->retiring, 1, __ATOMIC_RELAXED);
    for (ff_conn *c = w->idle.head; c; c = c->next)
        if (c->deadline > w->now + DRAIN_IDLE_GRACE_MS)
            c->deadline = w->now + DRAIN_IDLE_GRACE_MS;
}

/* ---- requests ---- */

/* A last response before the close. Out of memory for it, the connection
 * closes without one (ff_response_error leaves nothing half-written). */
static void error_close(ff_worker *w, ff_conn *c, int status, const char *msg)
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
    error_close(w, c, ff_http_error_status(err), text);
}

static int path_is(const ff_http_request *h, const char *lit)
{
    size_t n = strlen(lit);
    return h->path_len == n && memcmp(h->path, lit, n) == 0;
}

/* Returns the status, or -1 when out of memory (out may then hold part of
 * the response). */
static int answer(ff_worker *w, const ff_req *r, ff_buf *out, int status, const char *ctype,
                  const char *body, size_t len)
{
    if (ff_response_begin(out, status, NULL, 0, &w->date) < 0 ||
        ff_buf_puts(out, "Cache-Control: no-store\r\n") < 0 ||
        ff_response_finish_head(out, ctype, len, r->keep_alive, r->http10) < 0 ||
        (!r->head_only && ff_buf_append(out, body, len) < 0))
        return -1;
    return status;
}

/* /_frostfork/...: liveness and readiness always; metrics, the status page
 * and its JSON when --metrics is on (on the main bind, or only on
 * --metrics-bind when that is given). Returns the status answered, 0 when
 * the path is not ours, or -1 when out of memory for the answer. */
static int serve_internal(ff_worker *w, ff_conn *c, const ff_req *r, ff_buf *out)
{
    const ff_http_request *h = r->http;
    const ff_config *cfg = &w->srv->cfg;
    if (!c->internal && (h->path_len < 12 || memcmp(h->path, "/_frostfork/", 12) != 0))
        return 0;
    int metrics = cfg->metrics && (c->internal || cfg->metrics_fd < 0);
    if (path_is(h, "/_frostfork/health"))
        return answer(w, r, out, 200, "text/plain", "ok", 2);
    if (path_is(h, "/_frostfork/ready"))
        return w->draining ? answer(w, r, out, 503, "text/plain", "draining", 8)
                           : answer(w, r, out, 200, "text/plain", "ready", 5);
    if (metrics && path_is(h, "/_frostfork/metrics")) {
        ff_buf *b = &w->scratch;
        b->off = b->len = 0;
        if (ff_stats_prometheus(b, w->srv->shared, w->now) < 0)
            return -1;
        return answer(w, r, out, 200, "text/plain; version=0.0.4", b->data, b->len);
    }
    if (metrics && path_is(h, "/_frostfork/stats.json")) {
        ff_buf *b = &w->scratch;
        b->off = b->len = 0;
        if (ff_stats_json(b, w->srv->shared, w->now) < 0)
            return -1;
        return answer(w, r, out, 200, "application/json", b->data, b->len);
    }
    if (metrics && path_is(h, "/_frostfork/status"))
        return answer(w, r, out, 200, "text/html; charset=utf-8", ff_status_html,
                      strlen(ff_status_html));
#ifdef FF_FAULT_INJECT
    if (path_is(h, "/_frostfork/fault")) {
        /* the last request armed by its header: allocations, fired; then the
         * live block counts, Python's after a collection (cyclic garbage,
         * such as a traceback's, is not a leak) and the C core's, and whether
         * FROSTFORK_FAIL_ALLOC_AT has fired */
        PyGC_Collect();
        char text[128];
        int n = snprintf(text, sizeof text, "%ld %d %ld %ld %d\n", ff_fault.last_count,
                         ff_fault.last_fired, ff_fault.live, ff_fault.live_c,
                         !ff_fault.by_request && ff_fault.fired);
        return answer(w, r, out, 200, "text/plain", text, (size_t)n);
    }
#endif
    if (ff_response_error(out, 404, "Not Found", &w->date, r->keep_alive, r->http10,
                          r->head_only) < 0)
        return -1;
    return 404;
}

/* An absolute-form target replaces Host (RFC 9112 3.2.2): the Host field the
 * handler, its Header() parameters and a WSGI app's HTTP_HOST see is the
 * target's authority. The parser reports fields as sent, so the field list
 * (the worker's scratch, one entry longer than the parser's limit) is edited
 * here: the Host entry's value is pointed at the authority, or an entry is
 * added when an HTTP/1.0 request came without one. */
static void use_target_host(ff_http_request *http)
{
    for (size_t i = 0; i < http->num_headers; i++) {
        ff_http_header *f = &http->headers[i];
        if (f->name_len == 4 && strncasecmp(f->name, "host", 4) == 0) {
            f->value = http->authority;
            f->value_len = http->authority_len;
            return;
        }
    }
    ff_http_header *f = &http->headers[http->num_headers++];
    f->name = "Host";
    f->name_len = 4;
    f->value = http->authority;
    f->value_len = http->authority_len;
}

static void dispatch(ff_worker *w, ff_conn *c, ff_http_request *http, const char *body,
                     size_t body_len, PyObject *spool)
{
    ff_req r;
#ifdef FF_FAULT_INJECT
    ff_fault_request_begin(http);
#endif
    if (http->flags & FF_HTTP_F_ABSOLUTE_FORM)
        use_target_host(http);
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
    r.conn = c;
    /* what the master reports if this worker dies inside the handler */
    size_t ml = http->method_len < 16 ? http->method_len : 16;
    size_t pl = http->path_len < sizeof w->slot->current - ml - 2 ? http->path_len
                                                                  : sizeof w->slot->current - ml - 2;
    memcpy(w->slot->current, http->method, ml);
    w->slot->current[ml] = ' ';
    memcpy(w->slot->current + ml + 1, http->path, pl);
    w->slot->current[ml + 1 + pl] = '\0';
    w->srv->st->in_request = 1; /* finalizers made now belong to this request */
    if (w->logs->sink[FF_LOG_ACCESS] || w->logs->sink[FF_LOG_AUDIT])
        ff_request_id(w, &r); /* logs and audit records carry it */
    if ((status = serve_internal(w, c, &r, &c->out)) == 0)
        status = w->srv->cfg.wsgi ? ff_wsgi_dispatch(w, &r, &c->out)
                                  : ff_native_dispatch(w, &r, &c->out);
    if (status < 0) {
        /* Out of memory for the response: cut off what part of it was
         * written and close, so a keep-alive client never reads half a
         * response as a whole one. The request is counted with status 0. */
        c->out.len = c->out.off + mark;
        r.keep_alive = 0;
        status = 0;
    }
    w->srv->st->in_request = 0;
    w->slot->current[0] = '\0';
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t us = (t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
    ff_slot_count(w->slot, status, us);
    if (w->logs->sink[FF_LOG_ACCESS])
        ff_logs_access(w->logs, w, &r, status, ff_buf_used(&c->out) - mark, us,
                       ff_request_id(w, &r));
    ff_state *st = w->srv->st;
    st->request_id[0] = '\0';
    if (PyList_GET_SIZE(st->secrets) && PyList_SetSlice(st->secrets, 0, PY_SSIZE_T_MAX, NULL) < 0)
        PyErr_Clear();
    if (PyErr_Occurred()) { /* a dispatcher bug: never let it leak into the next request */
        PyErr_WriteUnraisable(NULL);
    }
    if (!r.keep_alive)
        c->closing = 1;
    w->served++;
    __atomic_store_n(&w->slot->requests, w->served, __ATOMIC_RELAXED);
    if (w->max_requests > 0 && w->served >= (uint64_t)w->max_requests)
        begin_drain(w);
}

/* Writes as much pending output as the socket takes. Returns -1 when the
 * connection was closed because the peer is gone. */
static int conn_flush(ff_worker *w, ff_conn *c)
{
    while (ff_buf_used(&c->out) > 0) {
        ssize_t n = send(c->fd, c->out.data + c->out.off, ff_buf_used(&c->out), MSG_NOSIGNAL);
        if (n > 0) {
            ff_buf_consume(&c->out, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        conn_close(w, c);
        return -1;
    }
    return 0;
}

/* Runs the finalizers of the requests just answered (request-scoped
 * dependencies, request.defer(), temp files): their responses are written,
 * or handed to the kernel, by now. */
static void run_cleanup(ff_worker *w)
{
    if (w->srv->st->request_fins.head)
        ff_fin_run_list(&w->srv->st->request_fins);
}

static void spool_end(ff_conn *c)
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
        spool_end(c);
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

/* Parses and answers every complete request in the input buffer (HTTP/1.1
 * pipelining), then settles the connection into the state its buffers call
 * for: writing, lingering before close, waiting for a body, or idle. */
static void conn_process(ff_worker *w, ff_conn *c)
{
    const ff_http_limits *lim = &w->srv->cfg.limits;
    ff_http_request req;
again:
    while (!c->closing && ff_buf_used(&c->out) < OUT_HIGH_WATER) {
        size_t avail = ff_buf_used(&c->in);
        char *base = c->in.data + c->in.off;
        enum ff_http_error err = FF_HTTP_OK;
        int fresh = 0;
        if (c->head_len == 0) {
            if (avail == 0)
                break;
            ssize_t r = ff_http_parse_request(base, avail, c->prev_len, lim, &req, w->headers, &err);
            if (r == -2) {
                c->prev_len = avail;
                break;
            }
            if (r < 0) {
                http_error(w, c, err);
                break;
            }
            fresh = 1;
            c->head_len = (size_t)r;
            c->prev_len = 0;
            c->content_length = req.content_length;
            c->flags = req.flags;
            c->body_len = 0;
            if (c->flags & FF_HTTP_F_CHUNKED)
                ff_http_chunked_init(&c->chunked);
            int need_body = (c->flags & FF_HTTP_F_CHUNKED) ||
                            (c->content_length > 0 &&
                             avail < c->head_len + (size_t)c->content_length);
            if ((c->flags & FF_HTTP_F_EXPECT_CONTINUE) && need_body && req.version_minor == 1 &&
                ff_buf_append(&c->out, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0) {
                c->closing = 1; /* out of memory: the client hears a close, not a hang */
                break;
            }
        }
        size_t req_end;
        const char *body = base + c->head_len;
        void *map = NULL;
        PyObject *spool = NULL;
        int chunked = (c->flags & FF_HTTP_F_CHUNKED) != 0;
        int spool_ok = w->srv->st->spool_dir[0] != '\0';
        int spooling = 0, done = 1;
        if (chunked) {
            size_t raw_start = c->head_len + c->body_len;
            size_t len = avail - raw_start;
            ssize_t r = ff_http_chunked_decode(&c->chunked, lim, base + raw_start, &len, &err);
            if (r == -1) {
                http_error(w, c, err);
                break;
            }
            c->body_len += len;
            size_t tail = r > 0 ? (size_t)r : 0;
            c->in.len = c->in.off + c->head_len + c->body_len + tail;
            done = r != -2;
            spooling = spool_ok && (c->spool_fd >= 0 ||
                                    c->body_len > w->srv->cfg.spool_threshold);
            if (spooling && spool_decoded(w, c, base, tail) < 0)
                done = -1;
        } else if (c->spool_fd >= 0 || (spool_ok && c->content_length > 0 &&
                                        (uint64_t)c->content_length >
                                            w->srv->cfg.spool_threshold)) {
            spooling = 1;
            done = spool_body(w, c, base, avail);
        }
        if (done < 0) {
            spool_end(c);
            error_close(w, c, 500, "cannot spool the request body");
            break;
        }
        if (!done)
            break;
        if (spooling) {
            if (!(spool = spool_adopt(w, c, &map))) {
                c->spooled = 0;
                error_close(w, c, 500, "cannot map the request body");
                break;
            }
            body = map;
            c->body_len = c->spooled;
            c->spooled = 0;
            req_end = c->head_len;
        } else if (chunked) {
            req_end = c->head_len + c->body_len;
        } else {
            size_t cl = c->content_length > 0 ? (size_t)c->content_length : 0;
            if (avail < c->head_len + cl)
                break;
            c->body_len = cl;
            req_end = c->head_len + cl;
        }
        if (!fresh) {
            /* The head was parsed on an earlier read; its pointers may be
             * stale after the buffer grew, so parse it again in place. */
            if (ff_http_parse_request(base, c->head_len, 0, lim, &req, w->headers, &err) < 0) {
                if (map) {
                    munmap(map, c->body_len);
                    Py_DECREF(spool); /* its close() runs with the request cleanup */
                }
                http_error(w, c, err);
                break;
            }
        }
        dispatch(w, c, &req, body, c->body_len, spool);
        if (map) {
            /* the mapping goes now; the file when the request cleanup runs
             * spool.close(), after the response is written */
            munmap(map, c->body_len);
            Py_DECREF(spool);
        }
        ff_buf_consume(&c->in, req_end);
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
    if (ff_buf_used(&c->out) == 0 && !c->closing && c->head_len == 0 && c->prev_len == 0 &&
        ff_buf_used(&c->in) > 0)
        goto again; /* stopped at the high-water mark with whole requests left */
    if (ff_buf_used(&c->out) > 0) {
        if (c->state != FF_C_WRITE) {
            c->state = FF_C_WRITE;
            tl_push(&w->write, c, w->now);
        }
        set_watch(w, c, FF_WRITE);
        return;
    }
    set_watch(w, c, FF_READ);
    if (c->closing) {
        if (c->state != FF_C_LINGER) {
            /* Half-close and drain what the client still sends, so our
             * error response is not destroyed by a reset. */
            shutdown(c->fd, SHUT_WR);
            c->state = FF_C_LINGER;
            tl_push(&w->linger, c, w->now);
            /* answered and closing: it no longer counts against --max-connections
             * (a client that never closes cannot hold the cap), and is closed for
             * good after LINGER_MS at most */
            w->nconns--;
            if (w->nconns < w->srv->cfg.max_connections)
                listen_on(w);
        }
    } else if (c->head_len > 0) {
        if (c->state != FF_C_BODY) {
            c->state = FF_C_BODY;
            tl_push(&w->body, c, w->now);
        }
    } else if (ff_buf_used(&c->in) > 0) {
        if (c->state != FF_C_HEAD) {
            c->state = FF_C_HEAD;
            tl_push(&w->head, c, w->now);
        }
    } else if (c->state != FF_C_IDLE) {
        c->state = FF_C_IDLE;
        tl_push(&w->idle, c, w->now);
        if (w->draining && c->deadline > w->now + DRAIN_IDLE_GRACE_MS)
            c->deadline = w->now + DRAIN_IDLE_GRACE_MS;
    }
}

static void conn_readable(ff_worker *w, ff_conn *c)
{
    if (c->state == FF_C_LINGER) {
        char sink[4096];
        for (int i = 0; i < 16; i++) {
            ssize_t n = recv(c->fd, sink, sizeof sink, 0);
            if (n > 0)
                continue;
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
                conn_close(w, c);
            return;
        }
        return;
    }
    size_t want = c->head_len ? BODY_CHUNK : READ_CHUNK;
    if (ff_buf_reserve(&c->in, want) < 0) {
        conn_close(w, c);
        return;
    }
    ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
    if (n == 0) {
        conn_close(w, c);
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            conn_close(w, c);
        return;
    }
    c->in.len += (size_t)n;
    if (c->state == FF_C_IDLE) {
        c->state = FF_C_HEAD;
        tl_push(&w->head, c, w->now);
    } else if (c->state == FF_C_BODY) {
        tl_push(&w->body, c, w->now); /* body timeout counts from the last progress */
    }
    conn_process(w, c);
}

/* Expires the heads of the timeout lists. A request cut off mid-head or
 * mid-body is told 408 before the close; idle ones just close. At most
 * EXPIRE_BATCH per loop turn: connections opened together (a slowloris
 * wave) expire together, and closing hundreds in one go would stall the
 * ready ones; the rest are due at once, so the next wait does not sleep. */
static void expire(ff_worker *w)
{
    ff_tlist *lists[] = {&w->idle, &w->head, &w->body, &w->write, &w->linger};
    int budget = EXPIRE_BATCH;
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
        ff_conn *c;
        while (budget > 0 && (c = lists[i]->head) && c->deadline <= w->now) {
            budget--;
            if ((c->state == FF_C_HEAD && ff_buf_used(&c->in) > 0) || c->state == FF_C_BODY) {
                error_close(w, c, 408, "Request Timeout");
                c->head_len = 0;
                tl_remove(c);
                conn_process(w, c); /* moves it to write/linger, or closes it */
            } else if (c->state == FF_C_IDLE && recv(c->fd, &(char){0}, 1, MSG_PEEK | MSG_DONTWAIT) > 0) {
                /* a request arrived in time while a long handler held the loop:
                 * serve it rather than reset the connection */
                conn_readable(w, c);
            } else {
                conn_close(w, c);
            }
        }
    }
}

static int next_wait_ms(ff_worker *w)
{
    int64_t next = w->now + 1000; /* heartbeat at least once a second */
    if ((ff_buf_used(&w->logs->buf[0]) || ff_buf_used(&w->logs->buf[1])) &&
        w->logs->next_flush_ms < next)
        next = w->logs->next_flush_ms;
    ff_tlist *lists[] = {&w->idle, &w->head, &w->body, &w->write, &w->linger};
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
        if (lists[i]->head && lists[i]->head->deadline < next)
            next = lists[i]->head->deadline;
    if (w->draining && w->drain_deadline < next)
        next = w->drain_deadline;
    return next <= w->now ? 0 : (int)(next - w->now);
}

static int handle_signals(ff_worker *w)
{
    struct signalfd_siginfo si;
    int stop = 0;
    while (read(w->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGTERM)
            begin_drain(w);
        else if (si.ssi_signo == SIGUSR1) { /* logrotate moved the files: reopen */
            ff_logs_flush(w->logs, w, 1);
            ff_sink_reopen(w->srv->st, w->srv->cfg.access_sink);
            ff_sink_reopen(w->srv->st, w->srv->cfg.audit_sink);
        }
        else if (si.ssi_signo == SIGINT || si.ssi_signo == SIGQUIT)
            stop = 1;
    }
    return stop;
}

static void close_all(ff_worker *w)
{
    ff_tlist *lists[] = {&w->idle, &w->head, &w->body, &w->write, &w->linger};
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
        while (lists[i]->head)
            conn_close(w, lists[i]->head);
}

/* The worker's life: serve until SIGTERM (drain), SIGINT/SIGQUIT (stop now)
 * or the request quota, then close everything it owns. */
int ff_worker_main(ff_server *srv, int slot, long max_requests)
{
    ff_worker w;
    ff_logs logs;
    memset(&w, 0, sizeof w);
    memset(&logs, 0, sizeof logs);
    w.logs = &logs;
    w.srv = srv;
    w.slot = &srv->slots[slot];
    w.pid = getpid();
    w.max_requests = max_requests;
    w.sigfd = -1;
    w.loop.epfd = -1;
    w.idle.timeout_ms = srv->cfg.keepalive_ms;
    w.head.timeout_ms = srv->cfg.header_timeout_ms;
    w.body.timeout_ms = srv->cfg.body_timeout_ms;
    w.write.timeout_ms = srv->cfg.body_timeout_ms;
    w.linger.timeout_ms = LINGER_MS;
    w.now = ff_now_ms();
    ff_date_update(&w.date, time(NULL));
    int rc = 1;

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    /* one more than the parser may fill: room for the Host an absolute-form
     * target supplies (use_target_host) */
    w.headers = calloc(srv->cfg.limits.max_headers + 1, sizeof(ff_http_header));
    w.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    srv->st->spool_dir[0] = '\0'; /* without one, bodies stay in memory */
    if (srv->spool[0]) {
        ff_spool_worker_dir(srv->st->spool_dir, sizeof srv->st->spool_dir, srv->spool, w.pid);
        if (mkdir(srv->st->spool_dir, 0700) < 0)
            srv->st->spool_dir[0] = '\0';
    }
    if (!w.headers || ff_loop_init(&w.loop, 256) < 0 || w.sigfd < 0 ||
        ff_loop_add(&w.loop, w.sigfd, FF_READ, &w.tag_signal) < 0) {
        fprintf(stderr, "[frostfork] worker %d: cannot start: %s\n", (int)w.pid, strerror(errno));
        goto done;
    }
    w.logs = &logs;
    if (ff_logs_init(&logs, &w) < 0 || (srv->cfg.wsgi && ff_wsgi_worker_init(&w) < 0)) {
        PyErr_Print();
        goto done;
    }
    listen_on(&w);
    if (!w.listening) {
        fprintf(stderr, "[frostfork] worker %d: cannot watch the listening socket: %s\n",
                (int)w.pid, strerror(errno));
        goto done;
    }
#ifdef FF_FAULT_INJECT
    ff_fault_worker_start();
#endif

    for (;;) {
        w.now = ff_now_ms();
        ff_date_update(&w.date, time(NULL));
        __atomic_store_n(&w.slot->heartbeat_ms, w.now, __ATOMIC_RELAXED);
        expire(&w);
        ff_logs_flush(&logs, &w, 0);
        if (w.draining && (w.nconns == 0 || w.now >= w.drain_deadline))
            break;
        int n;
        int wait = next_wait_ms(&w);
        Py_BEGIN_ALLOW_THREADS
        n = ff_loop_wait(&w.loop, wait);
        Py_END_ALLOW_THREADS
        if (n < 0)
            break;
        w.now = ff_now_ms();
        int stop = 0;
        for (int i = 0; i < n; i++) {
            ff_event *ev = &w.loop.ready[i];
            if (ev->ptr == &w.tag_listen)
                accept_ready(&w, srv->cfg.listen_fd, 0);
            else if (ev->ptr == &w.tag_metrics)
                accept_ready(&w, srv->cfg.metrics_fd, 1);
            else if (ev->ptr == &w.tag_signal)
                stop |= handle_signals(&w);
            else if (ev->events & FF_WRITE)
                conn_process(&w, ev->ptr);
            else
                conn_readable(&w, ev->ptr);
        }
        if (stop)
            break;
    }
    rc = 0;
done:
    close_all(&w);
    ff_logs_close(&logs, &w);
    ff_fin_run_list(&srv->st->request_fins);
    ff_fin_run_list(&srv->st->process_fins); /* worker exit */
    if (srv->st->spool_dir[0])
        ff_rmtree(srv->st->spool_dir);
    if (w.sigfd >= 0)
        close(w.sigfd);
    ff_loop_close(&w.loop);
    free(w.headers);
    ff_buf_free(&w.scratch);
    Py_CLEAR(w.environ_base);
    ff_strcache_clear(&w.strings);
    return rc;
}
