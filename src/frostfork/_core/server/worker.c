/* server/worker.c — one worker: the epoll loop, accepting, timeouts,
 * draining and signals. What happens on one connection is in conn.c.
 *
 * Each connection is always on exactly one timeout list; the lists are FIFO
 * by deadline, so expiry is O(expired). */
#include "server/conn.h"
#include "dispatch/ws.h"
#include "dispatch/mw.h"
#include "life/finalize.h"
#include "life/sinks.h"
#include "life/spool.h"
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

#define LINGER_MS 2000
#define DRAIN_IDLE_GRACE_MS 200
#define ACCEPT_BATCH 64
#define EXPIRE_BATCH 64

/* ---- accepting ---- */

/* Watches the listening socket(s): the app's, and --metrics-bind's. */
void ff_worker_listen_on(ff_worker *w)
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

void ff_conn_watch(ff_worker *w, ff_conn *c, unsigned ev)
{
    if (c->watching == ev)
        return;
    /* 0: taken off the loop while its task ran (conn.c task_readable) */
    if ((c->watching ? ff_loop_mod(&w->loop, c->fd, ev, c) : ff_loop_add(&w->loop, c->fd, ev, c)) == 0)
        c->watching = ev;
}

void ff_conn_close(ff_worker *w, ff_conn *c)
{
    int counted = c->state != FF_C_LINGER; /* lingering ones left the count already */
    if (c->task)
        ff_aio_detach(w, c);
    ff_body_src_clear(&c->src); /* a stream's generator is closed: its finally runs */
    ff_conn_spool_end(c);
    ff_tl_remove(c);
    close(c->fd);
    ff_buf_free(&c->in);
    ff_buf_free(&c->out);
    ff_free(c);
    if (counted)
        w->nconns--;
    if (w->nconns < w->srv->cfg.max_connections)
        ff_worker_listen_on(w);
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

/* The peer's address as text and its port, once per connection: the
 * Request's client, WSGI's REMOTE_ADDR and the access log read them. */
static void peer_text(const struct sockaddr_storage *ss, char *host, size_t hostlen, int *port)
{
    host[0] = '\0';
    *port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, (socklen_t)hostlen);
        *port = ntohs(a->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, (socklen_t)hostlen);
        *port = ntohs(a->sin6_port);
    }
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
        c->src.fd = -1;
        c->internal = internal;
        peer_text(&ss, c->peer_host, sizeof c->peer_host, &c->peer_port);
        c->watching = FF_READ;
        c->state = FF_C_HEAD;
        c->content_length = -1;
        ff_tl_push(&w->head, c, w->now);
        w->nconns++;
    }
    if (i > 0 && w->listening &&
        __atomic_load_n(&w->srv->shared->hdr.workers_target, __ATOMIC_RELAXED) > 1)
        requeue_listen(w, lfd, internal ? &w->tag_metrics : &w->tag_listen);
    return i;
}

/* ---- draining ---- */

/* Stops accepting and lets open connections finish: every later response
 * says Connection: close, and connections idle right now get a short grace
 * to deliver a request already in flight before they are closed. */
void ff_worker_begin_drain(ff_worker *w)
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
    /* open WebSockets are told 1001 (going away); each closes when the client answers,
     * or at the end of --graceful-timeout */
    for (ff_conn *c = w->ws.head, *next; c; c = next) {
        next = c->next;
        ff_wsobj_going_away(c->ws);
        ff_conn_process(w, c);
    }
}

/* Expires the heads of the timeout lists. A request cut off mid-head or
 * mid-body is told 408 before the close; idle ones just close. At most
 * EXPIRE_BATCH per loop turn: connections opened together (a slowloris
 * wave) expire together, and closing hundreds in one go would stall the
 * ready ones; the rest are due at once, so the next wait does not sleep. */
static void expire(ff_worker *w)
{
    ff_tlist *lists[] = {&w->idle, &w->head, &w->body, &w->write, &w->linger, &w->tasks, &w->ws};
    int budget = EXPIRE_BATCH;
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
        ff_conn *c;
        while (budget > 0 && (c = lists[i]->head) && c->deadline <= w->now) {
            budget--;
            if (c->ws_open) {
                /* --ws-ping: idle for that long, pinged; no pong since the last ping, closed */
                if (ff_wsobj_ping(c->ws) < 0) {
                    ff_aio_ws_end(w, c);
                } else {
                    ff_tl_push(&w->ws, c, w->now);
                    ff_conn_process(w, c);
                }
            } else if (c->task) {
                /* --timeout: the handler's task is cancelled and answered 504 */
                ff_tl_remove(c);
                ff_aio_cancel(w, c, 1);
            } else if ((c->state == FF_C_HEAD && ff_buf_used(&c->in) > 0) || c->state == FF_C_BODY) {
                ff_conn_error_close(w, c, 408, "Request Timeout");
                c->head_len = 0;
                ff_tl_remove(c);
                ff_conn_process(w, c); /* moves it to write/linger, or closes it */
            } else if (c->state == FF_C_IDLE && recv(c->fd, &(char){0}, 1, MSG_PEEK | MSG_DONTWAIT) > 0) {
                /* a request arrived in time while a long handler held the loop:
                 * serve it rather than reset the connection */
                ff_conn_readable(w, c);
            } else {
                ff_conn_close(w, c);
            }
        }
    }
}

int ff_worker_next_wait_ms(ff_worker *w)
{
    /* heartbeat at least once a second, and four times per --timeout when that is shorter
     * (a worker that only beats once per --timeout would be killed for being late) */
    int64_t beat = w->srv->cfg.timeout_ms > 0 && w->srv->cfg.timeout_ms < 4000
                       ? w->srv->cfg.timeout_ms / 4 : 1000;
    int64_t next = w->now + beat;
    if ((ff_buf_used(&w->logs.buf[0]) || ff_buf_used(&w->logs.buf[1])) &&
        w->logs.next_flush_ms < next)
        next = w->logs.next_flush_ms;
    ff_tlist *lists[] = {&w->idle, &w->head, &w->body, &w->write, &w->linger, &w->tasks, &w->ws};
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
            ff_worker_begin_drain(w);
        else if (si.ssi_signo == SIGUSR1) { /* logrotate moved the files: reopen */
            ff_logs_flush(&w->logs, w->now, 1);
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
    ff_tlist *lists[] = {&w->idle, &w->head, &w->body, &w->write, &w->linger, &w->tasks, &w->ws};
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
        while (lists[i]->head)
            ff_conn_close(w, lists[i]->head);
}

/* The start of a turn: the clock, the heartbeat, expiry and the log flush.
 * Returns 1 once a drain is over. */
int ff_worker_turn_begin(ff_worker *w)
{
    w->now = ff_now_ms();
    ff_date_update(&w->date, time(NULL));
    __atomic_store_n(&w->slot->heartbeat_ms, w->now, __ATOMIC_RELAXED);
    expire(w);
    ff_logs_flush(&w->logs, w->now, 0);
    return w->draining && (w->nconns == 0 || w->now >= w->drain_deadline);
}

/* The ready events of a wait. Returns 1 when a signal said stop now. */
int ff_worker_turn_events(ff_worker *w, int n)
{
    w->now = ff_now_ms();
    int stop = 0;
    for (int i = 0; i < n; i++) {
        ff_event *ev = &w->loop.ready[i];
        if (ev->ptr == &w->tag_listen)
            accept_ready(w, w->srv->cfg.listen_fd, 0);
        else if (ev->ptr == &w->tag_metrics)
            accept_ready(w, w->srv->cfg.metrics_fd, 1);
        else if (ev->ptr == &w->tag_signal)
            stop |= handle_signals(w);
        else if (ev->ptr == &w->tag_timer) {
            uint64_t ticks;
            ssize_t ignored = read(w->timerfd, &ticks, sizeof ticks);
            (void)ignored;
            w->timer_at = 0;
        } else if (ev->events & FF_WRITE)
            ff_conn_process(w, ev->ptr);
        else
            ff_conn_readable(w, ev->ptr);
    }
    return stop;
}

/* The worker's life: serve until SIGTERM (drain), SIGINT/SIGQUIT (stop now)
 * or the request quota, then close everything it owns. */
int ff_worker_main(ff_server *srv, int slot, long max_requests)
{
    ff_worker w;
    memset(&w, 0, sizeof w);
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
    /* --timeout for an async handler's task (0: never) */
    w.tasks.timeout_ms = srv->cfg.timeout_ms > 0 ? srv->cfg.timeout_ms : INT64_MAX / 4;
    w.ws.timeout_ms = srv->st->ws_ping_ms > 0 ? srv->st->ws_ping_ms : INT64_MAX / 4;
    w.timerfd = -1;
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
     * target supplies (ff_http_use_target_host) */
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
    const ff_config *cfg = &srv->cfg;
    if (ff_logs_init(&w.logs, srv->st, cfg->access_sink, cfg->audit_sink, cfg->access_json,
                     cfg->mask_names) < 0 ||
        ff_env_init(&w.env, srv->st, cfg->wsgi ? NULL : &srv->app, cfg->wsgi ? srv->wsgi_app : NULL,
                    &w.date, cfg->server_name, cfg->server_port) < 0) {
        PyErr_Print();
        goto done;
    }
    if (srv->st->aio_loop_factory && !cfg->wsgi && ff_aio_start(&w) < 0) {
        PyErr_Print();
        goto done;
    }
    /* the app's worker hooks (database pools, threads: what must not cross
     * a fork) run before the first request is accepted */
    if (!cfg->wsgi && ff_app_worker_start(&srv->app) < 0)
        goto done;
    w.env.mw = srv->mw; /* this process's copy since the fork: its gzip stream is its own */
    ff_worker_listen_on(&w);
    if (!w.listening) {
        fprintf(stderr, "[frostfork] worker %d: cannot watch the listening socket: %s\n",
                (int)w.pid, strerror(errno));
        goto done;
    }
#ifdef FF_FAULT_INJECT
    ff_fault_worker_start();
#endif

    if (w.aio_loop) {
        if (ff_aio_run(&w) < 0)
            goto done;
    } else {
        for (;;) {
            if (ff_worker_turn_begin(&w))
                break;
            int n;
            int wait = ff_worker_next_wait_ms(&w);
            Py_BEGIN_ALLOW_THREADS
            n = ff_loop_wait(&w.loop, wait);
            Py_END_ALLOW_THREADS
            if (n < 0 || ff_worker_turn_events(&w, n))
                break;
        }
    }
    rc = 0;
done:
    close_all(&w);
    if (w.aio_loop)
        ff_aio_stop(&w);
    ff_fin_run_list(&srv->st->request_fins);
    if (!srv->cfg.wsgi)
        ff_app_worker_stop(&srv->app);
    ff_logs_close(&w.logs);
    ff_fin_run_list(&srv->st->process_fins); /* worker exit */
    if (srv->st->spool_dir[0])
        ff_rmtree(srv->st->spool_dir);
    if (w.sigfd >= 0)
        close(w.sigfd);
    ff_loop_close(&w.loop);
    free(w.headers);
    ff_env_clear(&w.env);
    if (srv->mw)
        ff_mw_process_end(srv->mw); /* this process's gzip stream and buffer */
    return w.exit_code ? w.exit_code : rc;
}
