/* server/aio.c — the worker's event loop, for async handlers.
 *
 * The coupling (measured in bench/aio_coupling.py): the asyncio loop (uvloop
 * when installed) runs the worker, and the worker's own epoll set is one fd
 * the loop watches with add_reader. When it is readable the loop calls one
 * C turn (accept, read, parse, dispatch, write — all as without a loop);
 * a timerfd in the same set wakes it at the worker's next deadline. Sync
 * handlers are still called straight from that turn. An async handler's
 * coroutine runs inline to its first suspension (dispatch/aio.c); one that
 * suspends is handed to a Task through a Step, and the Task's completion
 * writes the response from C, in the Task's last step (step_end).
 *
 * A worker makes a loop only when the app has async handlers (the CLI
 * calls aio_config()): an all-sync app keeps the plain C loop. */
#include "server/conn.h"
#include "dispatch/asgi.h"
#include "dispatch/ws.h"
#include "dispatch/mw.h"
#include "life/finalize.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* A suspended request: the coroutine as the Task sees it, and what the
 * response needs once the Task is done. */
typedef struct ff_Step {
    PyObject_HEAD
    ff_state *st;
    PyObject *coro;
    PyObject *first;          /* what the coroutine yielded inline, for the Task's first step */
    int started;
    int timed_out;
    PyObject *task;
    ff_worker *w;             /* NULL once the worker let go of it */
    ff_conn *c;               /* NULL once the connection closed */
    struct ff_Step *prev, *next; /* the worker's live steps */
    ff_fin_list fins;         /* the request's finalizers */
    ff_http_request http;     /* the head, pointing into c->in, which waits */
    ff_http_header *headers;
    ff_req r;
    const char *label;
    size_t req_end;
    struct timespec t0;
    ff_Asgi *asgi;            /* an ASGI request: its response is written by send() */
    ff_Ws *ws;                /* a WebSocket session */
    char *head_copy;          /* the head, kept once a WebSocket's input became frames */
    const ff_route *rt;       /* a native handler's route (its status and response model) */
    PyObject *cancelled_error; /* asyncio.CancelledError */
    int ended;                /* answered: the coroutine returned, raised or was cancelled */
} ff_Step;

enum { OUT_RESULT, OUT_ERROR, OUT_CANCELLED };
static void step_end(ff_Step *s, int outcome, PyObject *value);
static void ws_let_go(ff_worker *w, ff_conn *c);

static ff_worker *env_worker(ff_env *e)
{
    return (ff_worker *)((char *)e - offsetof(ff_worker, env));
}

static void update_busy(ff_worker *w)
{
    int max = w->srv->st->aio_max_concurrency;
    w->env.busy = max > 0 && w->ntasks >= max;
}

/* ---- the Step: a coroutine the Task drives ---- */

/* While a step of the request runs, finalizers it makes are its own. */
typedef struct {
    ff_fin_list *fins;
    int in_request;
} step_ctx;

static step_ctx step_enter(ff_Step *s)
{
    step_ctx saved = {s->st->task_fins, s->st->in_request};
    s->st->task_fins = &s->fins;
    s->st->in_request = 1;
    return saved;
}

static void step_leave(ff_Step *s, step_ctx saved)
{
    s->st->task_fins = saved.fins;
    s->st->in_request = saved.in_request;
}

/* The coroutine ended in this step (returned, or raised): the response is
 * written now, in the Task's last step, rather than in a done callback one
 * loop iteration later. An exception other than cancellation was answered
 * (500) and logged, so the Task ends with None instead of keeping it (no
 * "exception was never retrieved"); a cancellation goes on to the Task. */
static PySendResult step_outcome(ff_Step *s, PySendResult r, PyObject **result)
{
    if (r == PYGEN_RETURN) {
        step_end(s, OUT_RESULT, *result);
        return r;
    }
    if (s->cancelled_error && PyErr_ExceptionMatches(s->cancelled_error)) {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        step_end(s, OUT_CANCELLED, NULL);
        PyErr_Restore(t, v, tb);
        return PYGEN_ERROR;
    }
    step_end(s, OUT_ERROR, NULL);
    *result = Py_NewRef(Py_None);
    return PYGEN_RETURN;
}

/* The Task's first step gets what the coroutine already yielded inline
 * (the future it waits on), as if the Task had run that step itself. */
static PySendResult step_am_send(PyObject *self, PyObject *arg, PyObject **result)
{
    ff_Step *s = (ff_Step *)self;
    if (!s->started) {
        s->started = 1;
        *result = s->first ? s->first : Py_NewRef(Py_None);
        s->first = NULL;
        return PYGEN_NEXT;
    }
    step_ctx saved = step_enter(s);
    PySendResult r = PyIter_Send(s->coro, arg, result);
    step_leave(s, saved);
    return r == PYGEN_NEXT ? r : step_outcome(s, r, result);
}

static PyObject *stop_iteration(PyObject *value)
{
    PyObject *e = PyObject_CallOneArg(PyExc_StopIteration, value);
    Py_DECREF(value);
    if (e) {
        PyErr_SetObject(PyExc_StopIteration, e);
        Py_DECREF(e);
    }
    return NULL;
}

static PyObject *step_send(PyObject *self, PyObject *arg)
{
    PyObject *res = NULL;
    PySendResult r = step_am_send(self, arg, &res);
    if (r == PYGEN_RETURN)
        return stop_iteration(res);
    return r == PYGEN_NEXT ? res : NULL;
}

static PyObject *step_next(PyObject *self)
{
    return step_send(self, Py_None);
}

static PyObject *step_throw(PyObject *self, PyObject *args)
{
    ff_Step *s = (ff_Step *)self;
    s->started = 1;
    Py_CLEAR(s->first);
    PyObject *throw = PyObject_GetAttrString(s->coro, "throw");
    if (!throw)
        return NULL;
    step_ctx saved = step_enter(s);
    PyObject *res = PyObject_Call(throw, args, NULL);
    step_leave(s, saved);
    Py_DECREF(throw);
    if (res)
        return res; /* it went on, and yielded again */
    PyObject *value = NULL;
    PySendResult r = PYGEN_ERROR;
    if (PyErr_ExceptionMatches(PyExc_StopIteration)) {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        PyErr_NormalizeException(&t, &v, &tb);
        value = v ? PyObject_GetAttrString(v, "value") : Py_NewRef(Py_None);
        Py_XDECREF(t);
        Py_XDECREF(v);
        Py_XDECREF(tb);
        if (value)
            r = PYGEN_RETURN;
    }
    r = step_outcome(s, r, &value);
    return r == PYGEN_RETURN ? stop_iteration(value) : NULL;
}

static PyObject *step_close(PyObject *self, PyObject *unused)
{
    (void)unused;
    ff_Step *s = (ff_Step *)self;
    Py_CLEAR(s->first);
    return PyObject_CallMethod(s->coro, "close", NULL);
}

static PyObject *step_await(PyObject *self)
{
    return Py_NewRef(self);
}

static void step_unlink(ff_Step *s)
{
    ff_worker *w = s->w;
    if (!w)
        return;
    if (s->prev)
        s->prev->next = s->next;
    else
        w->steps = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
    s->w = NULL;
}

/* The request's coroutine ended: its response (the result, 500 for an
 * exception, 504 when --timeout cancelled it, nothing when the client left)
 * is written, the request is counted and logged, the connection goes on
 * with what it has buffered, and the request's finalizers run. This runs
 * inside the Task's last step: a fresh copy of the worker's own context is
 * entered, so the requests answered next (pipelined on the connection) do
 * not see this one's context variables. */
static void step_end(ff_Step *s, int outcome, PyObject *value)
{
    if (s->ended)
        return;
    s->ended = 1;
    ff_worker *w = s->w;
    ff_conn *c = s->c;
    int held = w != NULL; /* the worker's reference, let go of at the end */
    step_unlink(s);
    PyObject *ctx = w && c && w->aio_ctx ? PyContext_Copy(w->aio_ctx) : NULL;
    int entered = ctx && PyContext_Enter(ctx) == 0;
    if (w && c) {
        c->task = NULL;
        s->c = NULL;
        w->ntasks--;
        update_busy(w);
        w->now = ff_now_ms();
        ff_env *e = &w->env;
        ff_req *r = &s->r;
        if (r->keep_alive && w->draining)
            r->keep_alive = 0;
        size_t mark = ff_buf_used(&c->out);
        int status = 0;
        if (s->ws)
            ws_let_go(w, c);
        if (c->gone) {
            status = 499; /* nginx's "client closed request", for the log */
            if (s->asgi)
                ff_asgi_gone(s->asgi);
            if (s->ws)
                ff_wsobj_gone(s->ws);
            PyErr_Clear();
        } else if (s->ws) {
            status = ff_wsobj_finish(s->ws, r, s->label, outcome != OUT_RESULT);
        } else if (s->asgi) {
            status = ff_asgi_finish(s->asgi, r, s->label, outcome == OUT_ERROR,
                                    outcome == OUT_CANCELLED && s->timed_out);
        } else if (outcome == OUT_CANCELLED) {
            status = s->timed_out ? 504 : 503;
            const char *msg = s->timed_out ? "Gateway Timeout: the handler ran longer than --timeout"
                                           : "Service Unavailable: the handler was cancelled";
            if (ff_response_error(&c->out, status, msg, e->date, r->keep_alive, r->http10,
                                  r->head_only) < 0)
                status = -1;
        } else if (outcome == OUT_RESULT) {
            if ((status = ff_native_write_result(e, r, &c->out, value, s->rt)) < 0)
                status = ff_fail_500(e, r, &c->out, s->label);
        } else {
            status = ff_native_write_failure(e, r, &c->out, s->rt);
        }
        if (!s->asgi && !s->ws) {
            /* as ff_dispatch_run does for an answer written at once: CORS headers and
             * gzip, and a file or stream body the connection sends as it drains */
            if (status > 0 && e->mw && ff_mw_after(e->mw, r, &c->out, mark) < 0)
                status = -1;
            if (status > 0 && e->src.kind != FF_BODY_NONE) {
                c->src = e->src;
                c->src_close = e->src_close;
                ff_body_src_attach(&c->src, ff_conn_src_ready, w, c);
            } else {
                ff_body_src_clear(&e->src);
            }
            e->src = (ff_body_src){.fd = -1};
            e->src_close = 0;
        }
        if (status < 0) { /* out of memory for the response: close without one */
            c->out.len = c->out.off + mark;
            r->keep_alive = 0;
            status = 0;
        }
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        int64_t us = (t1.tv_sec - s->t0.tv_sec) * 1000000 + (t1.tv_nsec - s->t0.tv_nsec) / 1000;
        ff_conn_request_done(w, c, r, status, ff_buf_used(&c->out) - mark, us);
        if (c->gone)
            ff_conn_close(w, c);
        else
            ff_conn_task_done(w, c, s->req_end);
    } else if (outcome == OUT_ERROR) {
        PyErr_Clear(); /* nobody waits for this answer any more */
    }
    ff_fin_run_list(&s->fins); /* request.defer, request-scoped dependencies, temp files */
    if (PyErr_Occurred())
        PyErr_WriteUnraisable((PyObject *)s);
    if (entered)
        PyContext_Exit(ctx);
    Py_XDECREF(ctx);
    if (s->ws)
        s->ws->http = NULL; /* the head goes with the Step */
    Py_CLEAR(s->task); /* the loop holds the running Task: the cycle ends here */
    if (held)
        Py_DECREF(s); /* the running Task still holds it as its coroutine */
}

static int step_traverse(PyObject *self, visitproc visit, void *arg)
{
    ff_Step *s = (ff_Step *)self;
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(s->coro);
    Py_VISIT(s->first);
    Py_VISIT(s->task);
    Py_VISIT(s->asgi);
    Py_VISIT(s->ws);
    Py_VISIT(s->cancelled_error);
    return 0;
}

static int step_clear(PyObject *self)
{
    ff_Step *s = (ff_Step *)self;
    Py_CLEAR(s->coro);
    Py_CLEAR(s->first);
    Py_CLEAR(s->task);
    Py_CLEAR(s->asgi);
    if (s->ws)
        s->ws->http = NULL;
    Py_CLEAR(s->ws);
    Py_CLEAR(s->cancelled_error);
    return 0;
}

static void step_dealloc(PyObject *self)
{
    ff_Step *s = (ff_Step *)self;
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    step_unlink(s);
    if (s->c) { /* not reached while its connection waits: the connection holds no reference */
        s->c->task = NULL;
        s->c->ws = NULL;
        s->c = NULL;
    }
    ff_fin_run_list(&s->fins);
    if (s->ws)
        s->ws->http = NULL;
    step_clear(self);
    PyMem_Free(s->headers);
    PyMem_Free(s->head_copy);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyMethodDef step_methods[] = {
    {"send", step_send, METH_O, NULL},
    {"throw", step_throw, METH_VARARGS, NULL},
    {"close", step_close, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot step_slots[] = {
    {Py_tp_dealloc, step_dealloc},
    {Py_tp_traverse, step_traverse},
    {Py_tp_clear, step_clear},
    {Py_tp_iter, step_await},
    {Py_tp_iternext, step_next},
    {Py_am_await, step_await},
    {Py_am_send, step_am_send},
    {Py_tp_methods, step_methods},
    {Py_tp_doc, "an async handler's request, suspended: the coroutine a Task runs"},
    {0, NULL},
};

PyType_Spec ff_step_spec = {
    .name = "frostfork._core.Step",
    .basicsize = sizeof(ff_Step),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = step_slots,
};

/* ---- suspending ---- */

/* The dispatcher's hook: the coroutine suspended. Its request is copied out
 * of the worker's scratch (the head's fields stay in the connection's
 * input, which waits untouched), its finalizers move to it, and a Task of
 * the loop takes over. */
int ff_aio_suspend(ff_env *e, const ff_req *r, PyObject *coro, PyObject *yielded, PyObject *ctx,
                   const char *label, struct ff_Finalizer *mark, ff_Asgi *asgi,
                   const ff_route *rt, ff_Ws *ws)
{
    ff_worker *w = env_worker(e);
    ff_conn *c = w->running;
    ff_state *st = e->st;
    ff_Step *s = c ? PyObject_GC_New(ff_Step, st->Step_type) : NULL;
    if (!s)
        goto fail_close;
    memset((char *)s + sizeof(PyObject), 0, sizeof *s - sizeof(PyObject));
    s->st = st;
    s->coro = Py_NewRef(coro);
    s->first = Py_XNewRef(yielded);
    s->cancelled_error = Py_XNewRef(w->aio_cancelled);
    s->started = yielded == NULL; /* not run inline: the Task's first step starts it */
    s->label = label;
    s->rt = rt;
    s->http = *r->http;
    s->r = *r;
    s->r.http = &s->http;
    s->r.body = NULL; /* the body was read (bound, decoded) before the first await */
    s->r.spool = NULL;
    s->req_end = c->req_end;
    clock_gettime(CLOCK_MONOTONIC, &s->t0);
    PyObject_GC_Track(s);
    if (r->http->num_headers) {
        s->headers = PyMem_Malloc(r->http->num_headers * sizeof(ff_http_header));
        if (!s->headers)
            goto fail;
        memcpy(s->headers, r->http->headers, r->http->num_headers * sizeof(ff_http_header));
        s->http.headers = s->headers;
    }
    PyObject *argv[] = {NULL, (PyObject *)s, w->aio_loop, ctx, st->task_name};
    s->task = PyObject_Vectorcall(w->aio_task_type, argv + 1, 1 | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                  st->task_kwnames);
    if (!s->task)
        goto fail;
    ff_fin_list_split(&st->request_fins, mark, &s->fins);
    s->w = w;
    s->c = c;
    s->next = w->steps;
    if (w->steps)
        w->steps->prev = s;
    w->steps = s;
    c->task = s;
    if (asgi) {
        s->asgi = (ff_Asgi *)Py_NewRef(asgi);
        asgi->stream = s;
        ff_asgi_drained(asgi); /* a send() that waits on the output may go on already */
    }
    if (ws) {
        s->ws = (ff_Ws *)Py_NewRef(ws);
        ws->stream = s;
        ws->out = &c->out;
        ws->http = &s->http;
        c->ws = ws;
    }
    w->ntasks++;
    w->steps_made++;
    update_busy(w);
    /* The worker keeps the reference it made (w->steps) until the coroutine ends: a
     * Task waiting on a Future that only this request refers to (a WebSocket's
     * receive(), an ASGI app's http.disconnect) is otherwise an unreachable cycle
     * the garbage collector would destroy while it is pending. The Step holds
     * the Task until then too. */
    return FF_STATUS_PENDING;
fail:
    if (s->task) {
        PyObject *res = PyObject_CallMethod(s->task, "cancel", NULL);
        Py_XDECREF(res);
    }
    Py_DECREF(s);
fail_close:
    if (!PyErr_Occurred())
        PyErr_SetString(PyExc_RuntimeError, "cannot hand the suspended handler to a Task");
    {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        PyObject *res = PyObject_CallMethod(coro, "close", NULL);
        Py_XDECREF(res);
        PyErr_Clear();
        PyErr_Restore(t, v, tb);
    }
    return -1;
}

void ff_aio_cancel(ff_worker *w, ff_conn *c, int timed_out)
{
    (void)w;
    ff_Step *s = c->task;
    if (!s || !s->task)
        return;
    s->timed_out = timed_out;
    PyObject *res = PyObject_CallMethod(s->task, "cancel", NULL);
    if (!res)
        PyErr_WriteUnraisable(s->task);
    Py_XDECREF(res);
}

void ff_aio_detach(ff_worker *w, ff_conn *c)
{
    ff_Step *s = c->task;
    if (s && s->ws) { /* its handler is told (receive() reports the close) and ends on its own */
        ws_let_go(w, c);
        ff_wsobj_gone(s->ws);
    } else {
        ff_aio_cancel(w, c, 0);
    }
    c->task = NULL;
    if (s && s->asgi)
        ff_asgi_gone(s->asgi);
    if (s) {
        s->c = NULL;
        s->r.peer_host = "";
        w->ntasks--;
        update_busy(w);
    }
}

/* The client left while the task ran: a native handler's task is
 * cancelled; an ASGI app is told (http.disconnect, send() raises) and ends
 * on its own, or at --timeout. */
void ff_aio_client_gone(ff_worker *w, ff_conn *c)
{
    ff_Step *s = c->task;
    if (s && s->asgi)
        ff_asgi_gone(s->asgi);
    else if (s && s->ws)
        ff_wsobj_gone(s->ws);
    else
        ff_aio_cancel(w, c, 0);
}

/* The connection's output was flushed while its task runs. */
void ff_aio_flushed(ff_worker *w, ff_conn *c)
{
    (void)w;
    if (c->task && c->task->asgi)
        ff_asgi_drained(c->task->asgi);
    if (c->task && c->task->ws)
        ff_wsobj_drained(c->task->ws);
}

static void stream_flush(void *stream)
{
    ff_Step *s = stream;
    if (s->w && s->c)
        ff_conn_process(s->w, s->c);
}

/* ---- WebSockets ---- */

/* Moves the head's pointers into a copy of its bytes: once the 101 is
 * written the connection's input holds frames, and the access log still
 * reads the method and path when the session ends. */
static void keep_head(ff_Step *s, const char *base, size_t len)
{
    char *copy = PyMem_Malloc(len ? len : 1);
    if (!copy) { /* out of memory: the log line loses its details */
        static ff_http_header none;
        s->http.method = "GET";
        s->http.method_len = 3;
        s->http.target = s->http.path = "/";
        s->http.target_len = s->http.path_len = 1;
        s->http.query = s->http.authority = NULL;
        s->http.query_len = s->http.authority_len = 0;
        s->http.headers = &none;
        s->http.num_headers = 0;
        return;
    }
    memcpy(copy, base, len);
#define FF_REBASE(p) do { if ((p) && (p) >= base && (p) < base + len) (p) = copy + ((p) - base); } while (0)
    FF_REBASE(s->http.method);
    FF_REBASE(s->http.target);
    FF_REBASE(s->http.path);
    FF_REBASE(s->http.query);
    FF_REBASE(s->http.authority);
    for (size_t i = 0; i < s->http.num_headers; i++) {
        FF_REBASE(s->headers[i].name);
        FF_REBASE(s->headers[i].value);
    }
#undef FF_REBASE
    PyMem_Free(s->head_copy);
    s->head_copy = copy;
}

/* The handler accepted: the request's bytes are let go (the head kept
 * aside), the connection leaves --timeout for the WebSocket list (idle
 * pings), and what the client sent after the handshake is read as frames. */
static void ws_opened(void *stream)
{
    ff_Step *s = stream;
    ff_worker *w = s->w;
    ff_conn *c = s->c;
    if (!w || !c || c->ws_open)
        return;
    keep_head(s, c->in.data + c->in.off, s->req_end);
    ff_buf_consume(&c->in, s->req_end);
    s->req_end = 0;
    c->head_len = 0;
    c->prev_len = 0;
    c->ws_open = 1;
    ff_tl_push(&w->ws, c, w->now);
    __atomic_add_fetch(&w->slot->websockets, 1, __ATOMIC_RELAXED);
    if (ff_buf_used(&c->in) == 0)
        ff_buf_free(&c->in); /* an idle WebSocket holds no buffer */
    else if (ff_conn_ws_input(w, c))
        return;
    ff_conn_watch(w, c, ff_buf_used(&c->out) ? FF_WRITE : FF_READ);
}

/* The session's queue went low again: the socket is read again. */
static void ws_resume(void *stream)
{
    ff_Step *s = stream;
    if (s->w && s->c && s->c->ws_open && !ff_buf_used(&s->c->out))
        ff_conn_watch(s->w, s->c, FF_READ);
}

/* The connection stops being an open WebSocket (counted off). */
static void ws_let_go(ff_worker *w, ff_conn *c)
{
    if (c->ws_open) {
        __atomic_sub_fetch(&w->slot->websockets, 1, __ATOMIC_RELAXED);
        c->ws_open = 0;
    }
    c->ws = NULL;
}

void ff_aio_ws_end(ff_worker *w, ff_conn *c)
{
    ff_Step *s = c->task;
    if (!s || !s->ws)
        return;
    ws_let_go(w, c);
    ff_wsobj_gone(s->ws); /* the handler's receive()/send() see the close from now on */
    c->task = NULL;
    s->c = NULL;
    w->ntasks--;
    update_busy(w);
    s->r.keep_alive = 0;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t us = (t1.tv_sec - s->t0.tv_sec) * 1000000 + (t1.tv_nsec - s->t0.tv_nsec) / 1000;
    ff_conn_request_done(w, c, &s->r, 101, 0, us);
    s->r.peer_host = "";
    c->closing = 1;
    ff_conn_process(w, c); /* writes the close frame, then lingers for the client's close */
}

/* ---- the loop ---- */

/* Arms the timerfd for the worker's next deadline (expiry, log flush,
 * heartbeat, drain), unless it is armed for that time already. */
static void arm_timer(ff_worker *w)
{
    int wait = ff_worker_next_wait_ms(w);
    int64_t at = w->now + wait;
    if (at == w->timer_at)
        return;
    struct itimerspec its = {{0, 0}, {wait / 1000, (long)(wait % 1000) * 1000000L}};
    if (wait <= 0)
        its.it_value.tv_nsec = 1000; /* 0 would disarm it */
    if (timerfd_settime(w->timerfd, 0, &its, NULL) == 0)
        w->timer_at = at;
}

#define TICK_BATCHES 4

/* The loop's reader callback on the worker's epoll fd: one turn of the
 * worker without waiting. Never raises (the loop would only log it). */
static PyObject *tick(PyObject *cap, PyObject *unused)
{
    (void)unused;
    ff_worker *w = PyCapsule_GetPointer(cap, NULL);
    if (!w || w->aio_stop)
        Py_RETURN_NONE;
    int stop = ff_worker_turn_begin(w);
    /* While more is ready and nothing new waits for the loop (no request suspended in
     * this turn), take it now: going back to the loop's own poll costs a wait and a
     * Python call per batch. Bounded, so tasks and timers are not starved. */
    unsigned long made = w->steps_made;
    for (int i = 0; i < TICK_BATCHES && !stop; i++) {
        int n = ff_loop_wait(&w->loop, 0);
        stop = n < 0 || ff_worker_turn_events(w, n);
        if (n <= 0 || w->steps_made != made)
            break;
    }
    if (stop) {
        w->aio_stop = 1;
        PyObject *res = PyObject_CallMethod(w->aio_loop, "stop", NULL);
        Py_XDECREF(res);
    } else {
        arm_timer(w);
    }
    if (PyErr_Occurred())
        PyErr_WriteUnraisable(cap);
    Py_RETURN_NONE;
}

static PyMethodDef tick_def = {"_frostfork_worker_turn", tick, METH_NOARGS, NULL};

/* An ASGI app's worker: what every scope shares, and the lifespan startup
 * (frostfork.asgi), before the worker accepts. A lifespan.startup.failed
 * ends the worker with FF_EXIT_LIFESPAN, which stops the server. */
static int asgi_start(ff_worker *w)
{
    ff_state *st = w->srv->st;
    ff_env *e = &w->env;
    e->asgi_version = Py_BuildValue("{s:s,s:s}", "version", "3.0", "spec_version", "2.4");
    e->asgi_root_path = st->asgi_root_path ? Py_NewRef(st->asgi_root_path) : PyUnicode_FromString("");
    e->asgi_server = w->srv->cfg.server_port ? Py_BuildValue("(si)", w->srv->cfg.server_name,
                                                             w->srv->cfg.server_port)
                                             : Py_NewRef(Py_None);
    PyObject *startup = ff_import_attr("frostfork.asgi", "worker_startup");
    w->aio_lifespan = startup && e->asgi_version && e->asgi_server && e->asgi_root_path
                          ? PyObject_CallFunctionObjArgs(startup, st->asgi_app, w->aio_loop, NULL)
                          : NULL;
    Py_XDECREF(startup);
    if (!w->aio_lifespan) {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        PyErr_NormalizeException(&t, &v, &tb);
        PyObject *failed = ff_import_attr("frostfork.asgi", "StartupFailed");
        PyErr_Clear();
        if (failed && v && PyErr_GivenExceptionMatches(v, failed)) {
            PyObject *msg = PyObject_Str(v);
            const char *m = msg ? PyUnicode_AsUTF8(msg) : NULL;
            fprintf(stderr, "[frostfork] worker %d: ASGI lifespan startup failed: %s\n",
                    (int)w->pid, m ? m : "?");
            PyErr_Clear();
            Py_XDECREF(msg);
            Py_XDECREF(t);
            Py_XDECREF(v);
            Py_XDECREF(tb);
            w->exit_code = FF_EXIT_LIFESPAN;
            PyErr_SetString(PyExc_RuntimeError, "the ASGI app's lifespan startup failed");
        } else {
            PyErr_Restore(t, v, tb);
        }
        Py_XDECREF(failed);
        return -1;
    }
    PyObject *state = PyObject_GetAttrString(w->aio_lifespan, "state");
    if (!state)
        return -1;
    e->asgi_state = state;
    e->asgi_app = st->asgi_app;
    return 0;
}

int ff_aio_start(ff_worker *w)
{
    ff_state *st = w->srv->st;
    PyObject *set_loop = ff_import_attr("asyncio", "set_event_loop");
    w->aio_task_type = ff_import_attr("asyncio", "Task");
    w->aio_cancelled = ff_import_attr("asyncio", "CancelledError");
    w->aio_ctx = PyContext_CopyCurrent();
    w->aio_loop = set_loop && w->aio_task_type && w->aio_cancelled && w->aio_ctx
                      ? PyObject_CallNoArgs(st->aio_loop_factory) : NULL;
    PyObject *res = w->aio_loop ? PyObject_CallOneArg(set_loop, w->aio_loop) : NULL;
    Py_XDECREF(set_loop);
    if (!res)
        goto fail;
    Py_DECREF(res);
    PyObject *cap = PyCapsule_New(w, NULL, NULL);
    w->aio_tick = cap ? PyCFunction_New(&tick_def, cap) : NULL;
    Py_XDECREF(cap);
    if (!w->aio_tick)
        goto fail;
    w->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (w->timerfd < 0 || ff_loop_add(&w->loop, w->timerfd, FF_READ, &w->tag_timer) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        goto fail;
    }
    w->env.suspend = ff_aio_suspend;
    w->env.loop = w->aio_loop;
    w->env.inline_step = st->aio_inline;
    w->env.stream_flush = stream_flush;
    w->env.ws_opened = ws_opened;
    w->env.ws_resume = ws_resume;
    if (st->asgi_app && asgi_start(w) < 0)
        goto fail;
    return 0;
fail:
    Py_CLEAR(w->aio_loop);
    Py_CLEAR(w->aio_task_type);
    Py_CLEAR(w->aio_cancelled);
    Py_CLEAR(w->aio_ctx);
    Py_CLEAR(w->aio_tick);
    return -1;
}

int ff_aio_run(ff_worker *w)
{
    PyObject *res = PyObject_CallMethod(w->aio_loop, "add_reader", "iO", w->loop.epfd, w->aio_tick);
    if (!res) {
        PyErr_Print();
        return -1;
    }
    Py_DECREF(res);
    w->now = ff_now_ms();
    arm_timer(w);
    res = PyObject_CallMethod(w->aio_loop, "run_forever", NULL);
    if (!res)
        PyErr_Print();
    Py_XDECREF(res);
    res = PyObject_CallMethod(w->aio_loop, "remove_reader", "i", w->loop.epfd);
    Py_XDECREF(res);
    PyErr_Clear();
    return 0;
}

/* After every connection closed (their tasks were cancelled): lets the
 * cancelled tasks end — their finally blocks and the requests' finalizers
 * run — for a bounded number of loop iterations, then closes the loop. */
void ff_aio_stop(ff_worker *w)
{
    PyObject *sleep = ff_import_attr("asyncio", "sleep");
    for (int i = 0; i < 100 && w->steps && sleep; i++) {
        PyObject *delay = PyFloat_FromDouble(i < 10 ? 0 : 0.01);
        PyObject *coro = delay ? PyObject_CallOneArg(sleep, delay) : NULL;
        Py_XDECREF(delay);
        PyObject *res = coro ? PyObject_CallMethod(w->aio_loop, "run_until_complete", "O", coro) : NULL;
        Py_XDECREF(coro);
        if (!res) {
            PyErr_Clear();
            break;
        }
        Py_DECREF(res);
    }
    Py_XDECREF(sleep);
    if (w->aio_lifespan) { /* lifespan.shutdown, bounded by --graceful-timeout */
        PyObject *shutdown = ff_import_attr("frostfork.asgi", "worker_shutdown");
        PyObject *res = shutdown ? PyObject_CallFunction(shutdown, "OOd", w->aio_lifespan, w->aio_loop,
                                                         (double)w->srv->cfg.graceful_ms / 1000.0)
                                 : NULL;
        if (!res)
            PyErr_Print();
        Py_XDECREF(res);
        Py_XDECREF(shutdown);
    }
    while (w->steps) { /* never ended: their cleanup runs now, at exit */
        ff_Step *s = w->steps;
        ff_fin_run_list(&s->fins);
        step_unlink(s);
        Py_DECREF(s); /* the worker's reference */
    }
    PyObject *res = PyObject_CallMethod(w->aio_loop, "close", NULL);
    Py_XDECREF(res);
    PyErr_Clear();
    if (w->timerfd >= 0)
        close(w->timerfd);
    w->timerfd = -1;
    w->env.suspend = NULL;
    w->env.loop = NULL;
    w->env.asgi_app = NULL;
    Py_CLEAR(w->env.asgi_state);
    Py_CLEAR(w->env.asgi_version);
    Py_CLEAR(w->env.asgi_root_path);
    Py_CLEAR(w->env.asgi_server);
    Py_CLEAR(w->aio_lifespan);
    Py_CLEAR(w->aio_cancelled);
    Py_CLEAR(w->aio_ctx);
    Py_CLEAR(w->aio_loop);
    Py_CLEAR(w->aio_task_type);
    Py_CLEAR(w->aio_tick);
}

/* frostfork._core.aio_config(loop_factory, max_concurrency=0), in the
 * master before fork. The Step type is registered as a Coroutine, which is
 * what asyncio.Task asks of what it runs. */
PyObject *ff_py_aio_config(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"loop_factory", "max_concurrency", "inline", NULL};
    PyObject *factory;
    int maxc = 0, inline_step = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|ip:aio_config", kwlist, &factory, &maxc,
                                     &inline_step))
        return NULL;
    if (factory != Py_None && !PyCallable_Check(factory)) {
        PyErr_SetString(PyExc_TypeError, "aio_config: loop_factory must be callable or None");
        return NULL;
    }
    if (maxc < 0) {
        PyErr_SetString(PyExc_ValueError, "aio_config: max_concurrency must be >= 0");
        return NULL;
    }
    ff_state *st = ff_get_state(module);
    PyObject *coroutine = ff_import_attr("collections.abc", "Coroutine");
    PyObject *res = coroutine ? PyObject_CallMethod(coroutine, "register", "O", st->Step_type) : NULL;
    Py_XDECREF(coroutine);
    if (!res)
        return NULL;
    Py_DECREF(res);
    Py_XSETREF(st->aio_loop_factory, factory == Py_None ? NULL : Py_NewRef(factory));
    st->aio_max_concurrency = maxc;
    st->aio_inline = inline_step;
    Py_RETURN_NONE;
}

/* frostfork._core.asgi_config(app, root_path=""), in the master before fork. */
PyObject *ff_py_asgi_config(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"app", "root_path", NULL};
    PyObject *app, *root = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|U:asgi_config", kwlist, &app, &root))
        return NULL;
    if (app != Py_None && !PyCallable_Check(app)) {
        PyErr_SetString(PyExc_TypeError, "asgi_config: the app must be callable");
        return NULL;
    }
    ff_state *st = ff_get_state(module);
    Py_XSETREF(st->asgi_app, app == Py_None ? NULL : Py_NewRef(app));
    Py_XSETREF(st->asgi_root_path, Py_XNewRef(root));
    Py_RETURN_NONE;
}
