/* server/engine.c — frostfork._core.Engine: one whole request from bytes to
 * bytes, in process, without a socket or a fork.
 *
 * The same parser, chunked decoder, router, binding plans, encoder and
 * dispatchers the worker runs, behind one call: the worker is this plus
 * I/O. The test client (frostfork.testing) is built on it, and so can be
 * benchmarks of the framework alone and fuzzing of the full path. Requests
 * are answered one at a time, with the request's cleanup (request-scoped
 * dependencies, request.defer, spooled files) run before the call returns. */
#include "server/engine.h"
#include "dispatch/dispatch.h"
#include "dispatch/mw.h"
#include "life/finalize.h"

#include <stddef.h>
#include <string.h>
#include <time.h>

typedef struct {
    PyObject_HEAD
    ff_app app;
    PyObject *wsgi_app;
    ff_env env;
    ff_date_cache date;
    ff_http_limits limits;
    ff_http_header *headers; /* limits.max_headers + 1: room for an absolute-form Host */
    ff_buf out;
    ff_mw *mw;               /* built-in middleware, or NULL */
    PyObject *loop;          /* a private event loop for async handlers, made on first use */
    int ready;
} ff_Engine;

static void engine_release(ff_Engine *self)
{
    if (self->ready) {
        ff_env_clear(&self->env);
        ff_app_free(&self->app);
        self->ready = 0;
    }
    PyMem_Free(self->headers);
    self->headers = NULL;
    ff_buf_free(&self->out);
    ff_mw_free(self->mw);
    self->mw = NULL;
    Py_CLEAR(self->wsgi_app);
    if (self->loop) {
        PyObject *res = PyObject_CallMethod(self->loop, "close", NULL);
        Py_XDECREF(res);
        PyErr_Clear();
        Py_CLEAR(self->loop);
    }
}

/* An async handler in process: its coroutine runs to its end as a Task of
 * the engine's own event loop (made on first use), and is answered like a
 * handler that returned at once. The worker hands it to its loop instead
 * and answers later; here the caller waits, as a test does. (Run from inside
 * a running event loop, run_until_complete refuses: that request is a 500.) */
static int engine_suspend(ff_env *e, const ff_req *r, PyObject *coro, PyObject *yielded,
                          PyObject *ctx, const char *label, struct ff_Finalizer *mark,
                          struct ff_Asgi *asgi, const ff_route *rt, struct ff_Ws *ws)
{
    (void)label;
    (void)mark;
    ff_Engine *self = (ff_Engine *)((char *)e - offsetof(ff_Engine, env));
    if (yielded || asgi || ws) { /* inline_step is off, and no ASGI app or session here */
        PyErr_SetString(PyExc_RuntimeError, "the in-process engine cannot run this coroutine");
        return -1;
    }
    if (!self->loop) {
        PyObject *make = ff_import_attr("asyncio", "new_event_loop");
        self->loop = make ? PyObject_CallNoArgs(make) : NULL;
        Py_XDECREF(make);
        if (!self->loop)
            return -1;
    }
    PyObject *create = PyObject_GetAttrString(self->loop, "create_task");
    PyObject *args = create ? PyTuple_Pack(1, coro) : NULL;
    PyObject *kw = args ? Py_BuildValue("{s:O}", "context", ctx) : NULL;
    PyObject *task = kw ? PyObject_Call(create, args, kw) : NULL;
    Py_XDECREF(create);
    Py_XDECREF(args);
    Py_XDECREF(kw);
    PyObject *res = task ? PyObject_CallMethod(self->loop, "run_until_complete", "O", task) : NULL;
    Py_XDECREF(task);
    if (!res)
        return ff_native_write_failure(e, r, &self->out, rt);
    int status = ff_native_write_result(e, r, &self->out, res, rt);
    Py_DECREF(res);
    return status < 0 ? ff_fail_500(e, r, &self->out, rt ? rt->label : "async handler") : status;
}

/* Engine(routes=None, wsgi_app=None, *, server_name="testserver", server_port=80,
 *        max_body=..., max_headers=100, max_header_bytes=65536, max_request_line=8192,
 *        runtime=None, middleware=None):
 * routes as App._compile() returns them, or a WSGI callable; runtime as
 * App.runtime() returns it (exception handlers, middleware, HTTPError);
 * middleware (the built-in CORS, gzip, proxy headers) as
 * frostfork.cors.middleware_config() makes it (dispatch/mw.h). */
static int engine_init(ff_Engine *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"routes", "wsgi_app", "server_name", "server_port", "max_body",
                             "max_headers", "max_header_bytes", "max_request_line", "runtime",
                             "middleware", NULL};
    PyObject *routes = Py_None, *wsgi_app = Py_None, *runtime = Py_None, *middleware = Py_None;
    const char *server_name = "testserver";
    int server_port = 80;
    unsigned long long max_body = 1ull << 30;
    Py_ssize_t max_headers = 100, max_header_bytes = 65536, max_request_line = 8192;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OO$siKnnnOO:Engine", kwlist, &routes,
                                     &wsgi_app, &server_name, &server_port, &max_body,
                                     &max_headers, &max_header_bytes, &max_request_line,
                                     &runtime, &middleware))
        return -1;
    if ((routes == Py_None) == (wsgi_app == Py_None)) {
        PyErr_SetString(PyExc_TypeError, "Engine takes either routes or wsgi_app");
        return -1;
    }
    if (max_headers < 1 || max_header_bytes < 64 || max_request_line < 16) {
        PyErr_SetString(PyExc_ValueError, "Engine limits are too small");
        return -1;
    }
    engine_release(self);
    ff_state *st = PyType_GetModuleState(Py_TYPE(self));
    self->limits.max_body = max_body;
    self->limits.max_headers = (size_t)max_headers;
    self->limits.max_header_bytes = (size_t)max_header_bytes;
    self->limits.max_request_line = (size_t)max_request_line;
    self->limits.max_chunk_ext = FF_HTTP_MAX_CHUNK_EXT;
    if (!(self->headers = PyMem_Calloc((size_t)max_headers + 1, sizeof(ff_http_header)))) {
        PyErr_NoMemory();
        return -1;
    }
    char err[256];
    if (routes != Py_None && ff_app_build(&self->app, routes, st->Plan_type, err, sizeof err) < 0) {
        ff_app_free(&self->app);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, err);
        return -1;
    }
    if (routes != Py_None && ff_app_runtime(&self->app, runtime) < 0) {
        ff_app_free(&self->app);
        return -1;
    }
    if (wsgi_app != Py_None)
        self->wsgi_app = Py_NewRef(wsgi_app);
    ff_date_update(&self->date, time(NULL));
    if (ff_env_init(&self->env, st, routes != Py_None ? &self->app : NULL, self->wsgi_app,
                    &self->date, server_name, server_port) < 0) {
        ff_env_clear(&self->env);
        ff_app_free(&self->app);
        return -1;
    }
    self->mw = ff_mw_new(middleware);
    if (!self->mw && PyErr_Occurred()) {
        ff_env_clear(&self->env);
        ff_app_free(&self->app);
        return -1;
    }
    self->env.mw = self->mw;
    self->env.suspend = engine_suspend; /* async handlers: each to its end on a private loop */
    self->env.inline_step = 0;         /* no loop runs during a first step here */
    self->ready = 1;
    return 0;
}

/* Whether the head p..head_end says Transfer-Encoding: chunked (a streamed
 * body: StreamingResponse, a long WSGI iterable). */
static int chunked_head(const char *p, const char *head_end)
{
    static const char te[] = "\r\nTransfer-Encoding: chunked\r";
    size_t n = sizeof te - 1;
    for (const char *q = p; q + n <= head_end + 1; q++)
        if (memcmp(q, te, n) == 0)
            return 1;
    return 0;
}

/* (status, headers, body) with a chunked body decoded, as a client would
 * see it; the Transfer-Encoding header stays in the list as it was sent. */
static PyObject *dechunked(int status, PyObject *headers, const char *body, size_t n)
{
    char *tmp = PyMem_Malloc(n ? n : 1);
    if (!tmp) {
        Py_DECREF(headers);
        return PyErr_NoMemory();
    }
    memcpy(tmp, body, n);
    ff_http_chunked d;
    ff_http_limits lim = {.max_body = UINT64_MAX, .max_header_bytes = 1024,
                          .max_chunk_ext = FF_HTTP_MAX_CHUNK_EXT};
    enum ff_http_error err = FF_HTTP_OK;
    size_t len = n;
    ff_http_chunked_init(&d);
    ssize_t r = ff_http_chunked_decode(&d, &lim, tmp, &len, &err);
    PyObject *res = r < 0 && r != -2 ? NULL
                                     : Py_BuildValue("(iNy#)", status, headers, tmp, (Py_ssize_t)len);
    if (r == -1) {
        Py_DECREF(headers);
        PyErr_SetString(PyExc_RuntimeError, "the engine wrote a malformed chunked body");
    }
    PyMem_Free(tmp);
    return res;
}

/* The response head back into (status, [(name, value), ...], body): the
 * writers put exactly one response in out, with CRLF lines. A chunked body
 * is decoded (a body cut short by a failing stream is what arrived of it). */
static PyObject *split_response(const char *p, size_t n)
{
    const char *end = p + n;
    const char *head_end = NULL;
    for (const char *q = p; q + 3 < end; q++)
        if (q[0] == '\r' && q[1] == '\n' && q[2] == '\r' && q[3] == '\n') {
            head_end = q;
            break;
        }
    if (!head_end || n < 12) {
        PyErr_SetString(PyExc_RuntimeError, "the engine wrote no complete response head");
        return NULL;
    }
    int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    PyObject *headers = PyList_New(0);
    if (!headers)
        return NULL;
    const char *line = memchr(p, '\n', (size_t)(head_end - p)) + 1;
    while (line < head_end) {
        const char *eol = line;
        while (eol < head_end && *eol != '\r')
            eol++;
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        if (colon) {
            const char *v = colon + 1;
            while (v < eol && *v == ' ')
                v++;
            PyObject *pair = Py_BuildValue("(y#y#)", line, (Py_ssize_t)(colon - line), v,
                                           (Py_ssize_t)(eol - v));
            if (!pair || PyList_Append(headers, pair) < 0) {
                Py_XDECREF(pair);
                Py_DECREF(headers);
                return NULL;
            }
            Py_DECREF(pair);
        }
        line = eol + 2;
    }
    const char *body = head_end + 4;
    if (chunked_head(p, head_end))
        return dechunked(status, headers, body, (size_t)(end - body));
    return Py_BuildValue("(iNy#)", status, headers, body, (Py_ssize_t)(end - body));
}

/* Parses the request in buf (a private copy: the chunked decoder works in
 * place), answers it into self->out and returns 0; or -1 with ValueError
 * for bytes that are not yet a whole request. A request the parser refuses
 * is answered (400/413/414/431...) like the worker answers it. */
static int engine_answer(ff_Engine *self, char *buf, size_t len, const char *peer_host,
                         int peer_port)
{
    ff_http_request req;
    enum ff_http_error err = FF_HTTP_OK;
    ssize_t head = ff_http_parse_request(buf, len, 0, &self->limits, &req, self->headers, &err);
    const char *body = NULL;
    size_t body_len = 0;
    if (head >= 0 && (req.flags & FF_HTTP_F_CHUNKED)) {
        ff_http_chunked dec;
        ff_http_chunked_init(&dec);
        body_len = len - (size_t)head;
        ssize_t r = ff_http_chunked_decode(&dec, &self->limits, buf + head, &body_len, &err);
        if (r == -2)
            head = -2;
        else if (r == -1)
            head = -1;
        body = buf + head;
    } else if (head >= 0) {
        body_len = req.content_length > 0 ? (size_t)req.content_length : 0;
        if (len - (size_t)head < body_len)
            head = -2;
        body = buf + head;
    }
    if (head == -2) {
        PyErr_SetString(PyExc_ValueError, "not a complete HTTP request");
        return -1;
    }
    ff_date_update(&self->date, time(NULL));
    if (head < 0) {
        if (ff_response_error(&self->out, ff_http_error_status(err), ff_http_error_text(err),
                              &self->date, 0, 0, 0) < 0) {
            PyErr_NoMemory();
            return -1;
        }
        return 0;
    }
    if (req.flags & FF_HTTP_F_ABSOLUTE_FORM)
        ff_http_use_target_host(&req);
    ff_req r = {.http = &req, .body = body, .body_len = body_len, .spool = NULL,
                .method = ff_method_from(req.method, req.method_len),
                .keep_alive = (req.flags & FF_HTTP_F_KEEP_ALIVE) != 0,
                .http10 = req.version_minor == 0, .peer_host = peer_host,
                .peer_port = peer_port};
    r.head_only = r.method == FF_M_HEAD;
    int status = ff_dispatch_run(&self->env, &r, &self->out);
    /* a file or stream body: all of it now (a client without a socket cannot be slow) */
    int drained = ff_env_drain_src(&self->env, &self->out);
    if (drained < 0)
        PyErr_WriteUnraisable(NULL); /* the body is cut short, as a worker would cut it */
    ff_dispatch_end(&self->env);
    ff_state *st = self->env.st;
    if (st->request_fins.head) /* the response is written: the request's cleanup */
        ff_fin_run_list(&st->request_fins);
    if (status == 0) { /* out of memory for the response: nothing was kept */
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* handle(request: bytes, *, client=("testclient", 50000), raise_errors=False, raw=False)
 * -> (status, [(name, value), ...], body), or the response bytes with raw=True.
 * raise_errors: an exception a handler raised (answered 500) is raised here. */
static PyObject *engine_handle(ff_Engine *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"request", "client", "raise_errors", "raw", NULL};
    Py_buffer in;
    const char *host = "testclient";
    int port = 50000, raise_errors = 0, raw = 0;
    PyObject *client = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*|$Opp:handle", kwlist, &in, &client,
                                     &raise_errors, &raw))
        return NULL;
    if (!self->ready) {
        PyBuffer_Release(&in);
        PyErr_SetString(PyExc_RuntimeError, "Engine was not initialised");
        return NULL;
    }
    if (client != Py_None && !PyArg_ParseTuple(client, "si;client must be (host, port)", &host,
                                               &port)) {
        PyBuffer_Release(&in);
        return NULL;
    }
    char *buf = PyMem_Malloc(in.len ? (size_t)in.len : 1);
    if (!buf) {
        PyBuffer_Release(&in);
        return PyErr_NoMemory();
    }
    memcpy(buf, in.buf, (size_t)in.len);
    size_t len = (size_t)in.len;
    PyBuffer_Release(&in);
    self->out.off = self->out.len = 0;
    self->env.capture_errors = raise_errors;
    int rc = engine_answer(self, buf, len, host, port);
    PyMem_Free(buf);
    self->env.capture_errors = 0;
    PyObject *error = self->env.error;
    self->env.error = NULL;
    PyObject *res = NULL;
    if (rc == 0 && error) {
        PyErr_SetObject((PyObject *)Py_TYPE(error), error);
    } else if (rc == 0) {
        res = raw ? PyBytes_FromStringAndSize(self->out.data + self->out.off,
                                              (Py_ssize_t)ff_buf_used(&self->out))
                  : split_response(self->out.data + self->out.off, ff_buf_used(&self->out));
    }
    Py_XDECREF(error);
    self->out.off = self->out.len = 0;
    return res;
}

static int engine_traverse(ff_Engine *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->wsgi_app);
    Py_VISIT(self->env.error);
    for (size_t i = 0; self->ready && i < self->app.nroutes; i++) {
        Py_VISIT(self->app.routes[i].plan);
        Py_VISIT(self->app.routes[i].param_names);
        Py_VISIT(self->app.routes[i].response);
    }
    return 0;
}

static void engine_dealloc(ff_Engine *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    engine_release(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyMethodDef engine_methods[] = {
    {"handle", (PyCFunction)(void (*)(void))engine_handle, METH_VARARGS | METH_KEYWORDS,
     "handle(request: bytes, *, client=(host, port), raise_errors=False, raw=False)\n--\n\n"
     "Answers one whole HTTP/1.1 request in process: (status, [(name, value)], body)."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot engine_slots[] = {
    {Py_tp_doc, "Engine(routes=None, wsgi_app=None, *, server_name='testserver', "
                "server_port=80, ...): the request path without a socket."},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_init, engine_init},
    {Py_tp_dealloc, engine_dealloc},
    {Py_tp_traverse, engine_traverse},
    {Py_tp_methods, engine_methods},
    {0, NULL},
};

PyType_Spec ff_engine_spec = {
    .name = "frostfork._core.Engine",
    .basicsize = sizeof(ff_Engine),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = engine_slots,
};
