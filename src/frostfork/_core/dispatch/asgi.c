/* dispatch/asgi.c — hosting an ASGI 3 application's http scope.
 *
 * Per request: the scope dict is built in C, and `receive` and `send` are C
 * callables of one Asgi object. The app's coroutine runs like an async
 * handler's (dispatch/aio.c): inline to its first suspension, then as a
 * Task. `send` writes straight into the response buffer — the caller's
 * while the step runs inline, the connection's afterwards, flushed through
 * env->stream_flush — and answers with an awaitable that is already done,
 * or with a Future the server resolves once the socket has drained
 * (backpressure). The request body (read whole by the connection, or
 * spooled) is handed out in chunks with more_body; after it, `receive`
 * waits for the client to leave or the response to end (http.disconnect). */
#include "dispatch/dispatch.h"
#include "dispatch/asgi.h"
#include "dispatch/ws.h"
#include "obj/headers.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define BODY_CHUNK (64 * 1024)
#define OUT_HIGH (256 * 1024)

/* ---- an awaitable that is already done ---- */

typedef struct {
    PyObject_HEAD
    PyObject *value;
} ff_Ready;

PyObject *ff_ready_new(ff_state *st, PyObject *value)
{
    ff_Ready *r = PyObject_New(ff_Ready, st->Ready_type);
    if (r)
        r->value = value ? value : Py_NewRef(Py_None);
    else
        Py_XDECREF(value);
    return (PyObject *)r;
}

static PySendResult ready_am_send(PyObject *self, PyObject *arg, PyObject **result)
{
    (void)arg;
    ff_Ready *r = (ff_Ready *)self;
    *result = r->value ? r->value : Py_NewRef(Py_None);
    r->value = NULL;
    return PYGEN_RETURN;
}

static PyObject *ready_next(PyObject *self)
{
    PyObject *v = NULL;
    ready_am_send(self, Py_None, &v);
    PyObject *e = PyObject_CallOneArg(PyExc_StopIteration, v);
    Py_DECREF(v);
    if (e) {
        PyErr_SetObject(PyExc_StopIteration, e);
        Py_DECREF(e);
    }
    return NULL;
}

static PyObject *ready_self(PyObject *self)
{
    return Py_NewRef(self);
}

static void ready_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    Py_XDECREF(((ff_Ready *)self)->value);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyType_Slot ready_slots[] = {
    {Py_tp_dealloc, ready_dealloc},
    {Py_am_await, ready_self},
    {Py_am_send, ready_am_send},
    {Py_tp_iter, ready_self},
    {Py_tp_iternext, ready_next},
    {Py_tp_doc, "the answer of ASGI receive() or send(), already there"},
    {0, NULL},
};

PyType_Spec ff_ready_spec = {
    .name = "frostfork._core.Ready",
    .basicsize = sizeof(ff_Ready),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = ready_slots,
};

/* ---- the per-request object ---- */

static int asgi_traverse(PyObject *self, visitproc visit, void *arg)
{
    ff_Asgi *a = (ff_Asgi *)self;
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(a->body);
    Py_VISIT(a->disconnect);
    Py_VISIT(a->drain);
    Py_VISIT(a->headers);
    return 0;
}

static int asgi_clear(PyObject *self)
{
    ff_Asgi *a = (ff_Asgi *)self;
    Py_CLEAR(a->body);
    Py_CLEAR(a->disconnect);
    Py_CLEAR(a->drain);
    Py_CLEAR(a->headers);
    return 0;
}

static void asgi_dealloc(PyObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    asgi_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

/* {"type": type} with the interned strings. */
PyObject *ff_asgi_message(ff_state *st, enum ff_asgi_string type)
{
    PyObject *m = PyDict_New();
    if (m && PyDict_SetItem(m, st->astr[FF_S_TYPE], st->astr[type]) < 0)
        Py_CLEAR(m);
    return m;
}

/* Resolves a Future with value (stealing it), unless it is done already. */
void ff_future_resolve(PyObject **fut, PyObject *value)
{
    PyObject *f = *fut;
    *fut = NULL;
    if (!f) {
        Py_XDECREF(value);
        return;
    }
    PyObject *done = PyObject_CallMethod(f, "done", NULL);
    if (done == Py_False) {
        PyObject *r = PyObject_CallMethod(f, "set_result", "O", value ? value : Py_None);
        Py_XDECREF(r);
    }
    Py_XDECREF(done);
    if (PyErr_Occurred())
        PyErr_WriteUnraisable(f);
    Py_XDECREF(value);
    Py_DECREF(f);
}

static PyObject *new_future(ff_Asgi *a)
{
    if (!a->e->loop) {
        PyErr_SetString(PyExc_RuntimeError, "no event loop to wait on here");
        return NULL;
    }
    return PyObject_CallMethod(a->e->loop, "create_future", NULL);
}

/* receive(): the body in chunks, then http.disconnect once the client left
 * or the response ended (a Future until then). */
static PyObject *asgi_receive(PyObject *self, PyObject *unused)
{
    (void)unused;
    ff_Asgi *a = (ff_Asgi *)self;
    ff_state *st = a->e->st;
    if (!a->body_done) {
        Py_ssize_t n = PyBytes_GET_SIZE(a->body), take = n - a->body_off;
        if (take > BODY_CHUNK)
            take = BODY_CHUNK;
        PyObject *chunk = a->body_off == 0 && take == n
                              ? Py_NewRef(a->body)
                              : PyBytes_FromStringAndSize(PyBytes_AS_STRING(a->body) + a->body_off,
                                                          take);
        if (!chunk)
            return NULL;
        a->body_off += take;
        a->body_done = a->body_off == n;
        PyObject *msg = ff_asgi_message(st, FF_S_HTTP_REQUEST);
        if (msg && (PyDict_SetItem(msg, st->astr[FF_S_BODY], chunk) < 0 ||
                    PyDict_SetItem(msg, st->astr[FF_S_MORE_BODY],
                                   a->body_done ? Py_False : Py_True) < 0))
            Py_CLEAR(msg);
        Py_DECREF(chunk);
        return msg ? ff_ready_new(st, msg) : NULL;
    }
    if (a->gone || a->state == FF_ASGI_DONE) {
        PyObject *msg = ff_asgi_message(st, FF_S_HTTP_DISCONNECT);
        return msg ? ff_ready_new(st, msg) : NULL;
    }
    if (!a->disconnect && !(a->disconnect = new_future(a)))
        return NULL;
    return Py_NewRef(a->disconnect);
}

/* Header names and values the app gives are written as they are, so they
 * must be bytes without CR, LF or NUL (no response splitting). */
int ff_asgi_header_ok(PyObject *v, int name)
{
    if (!PyBytes_Check(v)) {
        PyErr_Format(PyExc_TypeError, "ASGI header %s must be bytes, not %.50s",
                     name ? "names" : "values", Py_TYPE(v)->tp_name);
        return 0;
    }
    const char *p = PyBytes_AS_STRING(v);
    Py_ssize_t n = PyBytes_GET_SIZE(v);
    if (name && n == 0)
        goto bad;
    for (Py_ssize_t i = 0; i < n; i++)
        if (p[i] == '\r' || p[i] == '\n' || p[i] == '\0' || (name && (p[i] == ':' || p[i] == ' ')))
            goto bad;
    return 1;
bad:
    PyErr_Format(PyExc_ValueError, "invalid ASGI header %s: %R", name ? "name" : "value", v);
    return 0;
}

static int name_is(PyObject *name, const char *want)
{
    size_t n = strlen(want);
    return (size_t)PyBytes_GET_SIZE(name) == n && strncasecmp(PyBytes_AS_STRING(name), want, n) == 0;
}

/* The head, once the first body message says whether the body is whole:
 * the app's headers, then Content-Length for a whole body the app did not
 * measure, chunked framing for a streamed one (HTTP/1.0: close-delimited). */
static int write_head(ff_Asgi *a, size_t first_len, int more)
{
    ff_buf *out = a->out;
    int no_body = a->status < 200 || a->status == 204 || a->status == 304;
    int has_cl = 0;
    if (ff_response_begin(out, a->status, NULL, 0, a->e->date) < 0)
        return -1;
    Py_ssize_t n = PyList_GET_SIZE(a->headers);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PyList_GET_ITEM(a->headers, i);
        PyObject *k = PyTuple_GET_ITEM(pair, 0), *v = PyTuple_GET_ITEM(pair, 1);
        if (name_is(k, "content-length"))
            has_cl = 1;
        else if (name_is(k, "connection") && PyBytes_GET_SIZE(v) == 5 &&
                 strncasecmp(PyBytes_AS_STRING(v), "close", 5) == 0)
            a->keep_alive = 0;
        else if (name_is(k, "transfer-encoding") || name_is(k, "connection"))
            continue; /* framing is ours */
        if (ff_buf_append(out, PyBytes_AS_STRING(k), (size_t)PyBytes_GET_SIZE(k)) < 0 ||
            ff_buf_append(out, ": ", 2) < 0 ||
            ff_buf_append(out, PyBytes_AS_STRING(v), (size_t)PyBytes_GET_SIZE(v)) < 0 ||
            ff_buf_append(out, "\r\n", 2) < 0)
            return -1;
    }
    Py_CLEAR(a->headers);
    size_t len = (size_t)-1;
    if (!no_body && !has_cl) {
        if (!more)
            len = first_len;
        else if (a->http10)
            a->keep_alive = 0; /* the end of the body is the close */
        else {
            a->chunked = 1;
            if (ff_buf_puts(out, "Transfer-Encoding: chunked\r\n") < 0)
                return -1;
        }
    }
    a->no_body = no_body || a->head_only;
    return ff_response_finish_head(out, NULL, len, a->keep_alive, a->http10);
}

static int write_body(ff_Asgi *a, const char *p, size_t n, int more)
{
    ff_buf *out = a->out;
    if (!a->no_body && n > 0) {
        if (a->chunked) {
            char size[24];
            int sl = snprintf(size, sizeof size, "%zx\r\n", n);
            if (ff_buf_append(out, size, (size_t)sl) < 0 || ff_buf_append(out, p, n) < 0 ||
                ff_buf_append(out, "\r\n", 2) < 0)
                return -1;
        } else if (ff_buf_append(out, p, n) < 0) {
            return -1;
        }
    }
    if (!more && a->chunked && !a->no_body && ff_buf_append(out, "0\r\n\r\n", 5) < 0)
        return -1;
    return 0;
}

PyObject *ff_asgi_get_item(PyObject *msg, PyObject *key)
{
    if (PyDict_CheckExact(msg)) { /* every app's messages: no KeyError made and cleared */
        PyObject *v = PyDict_GetItemWithError(msg, key);
        return Py_XNewRef(v);
    }
    PyObject *v = PyObject_GetItem(msg, key);
    if (!v && PyErr_ExceptionMatches(PyExc_KeyError))
        PyErr_Clear();
    return v;
}

static PyObject *send_start(ff_Asgi *a, PyObject *msg)
{
    if (a->state != FF_ASGI_NONE) {
        PyErr_SetString(PyExc_RuntimeError, "ASGI: http.response.start sent twice");
        return NULL;
    }
    ff_state *st = a->e->st;
    PyObject *status = ff_asgi_get_item(msg, st->astr[FF_S_STATUS]);
    long code = status && PyLong_Check(status) ? PyLong_AsLong(status) : -1;
    Py_XDECREF(status);
    if (code < 100 || code > 999) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "ASGI: http.response.start needs an int status");
        return NULL;
    }
    PyObject *headers = ff_asgi_get_item(msg, st->astr[FF_S_HEADERS]);
    PyObject *list = PyList_New(0);
    PyObject *it = headers && headers != Py_None ? PyObject_GetIter(headers) : NULL;
    if (!list || (headers && headers != Py_None && !it))
        goto fail;
    PyObject *item;
    while (it && (item = PyIter_Next(it))) {
        PyObject *pair = PySequence_Tuple(item);
        Py_DECREF(item);
        if (!pair)
            goto fail;
        int ok = PyTuple_GET_SIZE(pair) == 2 && ff_asgi_header_ok(PyTuple_GET_ITEM(pair, 0), 1) &&
                 ff_asgi_header_ok(PyTuple_GET_ITEM(pair, 1), 0);
        if (!ok && !PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "ASGI: each header is a (name, value) pair");
        if (!ok || PyList_Append(list, pair) < 0) {
            Py_DECREF(pair);
            goto fail;
        }
        Py_DECREF(pair);
    }
    if (PyErr_Occurred())
        goto fail;
    Py_XDECREF(it);
    Py_XDECREF(headers);
    a->status = (int)code;
    a->headers = list;
    a->state = FF_ASGI_STARTED;
    return ff_ready_new(a->e->st, NULL);
fail:
    Py_XDECREF(it);
    Py_XDECREF(headers);
    Py_XDECREF(list);
    return NULL;
}

static PyObject *send_body(ff_Asgi *a, PyObject *msg)
{
    if (a->state == FF_ASGI_NONE) {
        PyErr_SetString(PyExc_RuntimeError, "ASGI: http.response.body before http.response.start");
        return NULL;
    }
    if (a->state == FF_ASGI_DONE) {
        PyErr_SetString(PyExc_RuntimeError, "ASGI: http.response.body after the response ended");
        return NULL;
    }
    ff_state *st = a->e->st;
    PyObject *body = ff_asgi_get_item(msg, st->astr[FF_S_BODY]);
    PyObject *more_o = body || !PyErr_Occurred() ? ff_asgi_get_item(msg, st->astr[FF_S_MORE_BODY])
                                                 : NULL;
    int more = more_o ? PyObject_IsTrue(more_o) : PyErr_Occurred() ? -1 : 0;
    Py_XDECREF(more_o);
    Py_buffer view = {0};
    if (more < 0 || (body && PyObject_GetBuffer(body, &view, PyBUF_SIMPLE) < 0)) {
        Py_XDECREF(body);
        return NULL;
    }
    size_t mark = ff_buf_used(a->out);
    int rc = 0;
    if (a->state == FF_ASGI_STARTED)
        rc = write_head(a, (size_t)view.len, more);
    if (rc == 0)
        rc = write_body(a, view.buf ? view.buf : "", (size_t)view.len, more);
    if (body)
        PyBuffer_Release(&view);
    Py_XDECREF(body);
    if (rc < 0) {
        a->out->len = a->out->off + mark;
        a->keep_alive = 0;
        return PyErr_NoMemory();
    }
    a->state = more ? FF_ASGI_BODY : FF_ASGI_DONE;
    if (!more && a->disconnect)
        ff_future_resolve(&a->disconnect, ff_asgi_message(st, FF_S_HTTP_DISCONNECT));
    if (a->stream && a->e->stream_flush)
        a->e->stream_flush(a->stream); /* may find the client gone */
    if (more && a->out && ff_buf_used(a->out) > OUT_HIGH && a->e->loop) {
        if (!a->drain && !(a->drain = new_future(a)))
            return NULL;
        return Py_NewRef(a->drain);
    }
    return ff_ready_new(a->e->st, NULL);
}

/* send(message) */
static PyObject *asgi_send(PyObject *self, PyObject *msg)
{
    ff_Asgi *a = (ff_Asgi *)self;
    if (a->gone || !a->out) {
        PyErr_SetString(PyExc_OSError, "ASGI: the client disconnected");
        return NULL;
    }
    PyObject *type = PyMapping_Check(msg) ? ff_asgi_get_item(msg, a->e->st->astr[FF_S_TYPE]) : NULL;
    if (!type || !PyUnicode_Check(type)) {
        Py_XDECREF(type);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "ASGI: a message is a dict with a str 'type'");
        return NULL;
    }
    const char *t = PyUnicode_AsUTF8(type);
    PyObject *res;
    if (!t)
        res = NULL;
    else if (strcmp(t, "http.response.start") == 0)
        res = send_start(a, msg);
    else if (strcmp(t, "http.response.body") == 0)
        res = send_body(a, msg);
    else {
        PyErr_Format(PyExc_RuntimeError, "ASGI: unexpected message type %R in an http scope", type);
        res = NULL;
    }
    Py_DECREF(type);
    return res;
}

static PyMethodDef asgi_methods[] = {
    {"receive", asgi_receive, METH_NOARGS, NULL},
    {"send", asgi_send, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot asgi_slots[] = {
    {Py_tp_dealloc, asgi_dealloc},
    {Py_tp_traverse, asgi_traverse},
    {Py_tp_clear, asgi_clear},
    {Py_tp_methods, asgi_methods},
    {Py_tp_doc, "one ASGI http request: its receive() and send()"},
    {0, NULL},
};

PyType_Spec ff_asgi_spec = {
    .name = "frostfork._core.AsgiRequest",
    .basicsize = sizeof(ff_Asgi),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = asgi_slots,
};

/* ---- the server's side ---- */

void ff_asgi_gone(ff_Asgi *a)
{
    a->gone = 1;
    a->out = NULL;
    a->stream = NULL;
    if (a->disconnect)
        ff_future_resolve(&a->disconnect, ff_asgi_message(a->e->st, FF_S_HTTP_DISCONNECT));
    if (a->drain) {
        PyObject *f = a->drain;
        a->drain = NULL;
        PyObject *r = PyObject_CallMethod(f, "done", NULL);
        if (r == Py_False) {
            PyObject *x = PyObject_CallMethod(f, "set_exception", "O", PyExc_ConnectionResetError);
            Py_XDECREF(x);
        }
        Py_XDECREF(r);
        Py_DECREF(f);
        PyErr_Clear();
    }
}

void ff_asgi_drained(ff_Asgi *a)
{
    if (a->drain && a->out && ff_buf_used(a->out) <= OUT_HIGH / 2)
        ff_future_resolve(&a->drain, NULL);
}

/* The app's coroutine ended (failed: with the exception set). Answers what
 * the app did not: 500 when nothing was started (or 504 when --timeout
 * cancelled it), an empty body after a lone start; a response cut off mid-
 * body can only end with the connection. Returns the status. */
int ff_asgi_finish(ff_Asgi *a, ff_req *r, const char *label, int failed, int timed_out)
{
    ff_env *e = a->e;
    int status = a->status;
    if (a->gone || !a->out) {
        if (failed)
            PyErr_Clear();
        return 499;
    }
    if (a->state == FF_ASGI_STARTED && (failed || timed_out)) {
        Py_CLEAR(a->headers); /* nothing of it was written: answer as if never started */
        a->state = FF_ASGI_NONE;
    }
    if (a->state == FF_ASGI_NONE) {
        if (timed_out) {
            PyErr_Clear();
            status = ff_response_error(a->out, 504,
                                       "Gateway Timeout: the app ran longer than --timeout",
                                       e->date, r->keep_alive, r->http10, r->head_only) < 0 ? -1 : 504;
        } else {
            if (!failed)
                PyErr_SetString(PyExc_RuntimeError,
                                "ASGI app returned without sending http.response.start");
            status = ff_fail_500(e, r, a->out, label);
        }
        a->state = FF_ASGI_DONE;
        return status;
    }
    if (failed) { /* the response has begun: log it, the status stays */
        ff_request_id(e, r);
        PyErr_WriteUnraisable(NULL);
    }
    if (a->state == FF_ASGI_STARTED && !failed && !timed_out) {
        size_t mark = ff_buf_used(a->out);
        if (write_head(a, 0, 0) < 0) {
            a->out->len = a->out->off + mark;
            return -1;
        }
        a->state = FF_ASGI_DONE;
    }
    if (a->state != FF_ASGI_DONE || !a->keep_alive)
        r->keep_alive = 0; /* cut off (or close-delimited): only the close ends it */
    return status;
}

/* ---- the scope ---- */

static PyObject *header_pairs(const ff_http_request *h)
{
    PyObject *list = PyList_New((Py_ssize_t)h->num_headers);
    char lower[256];
    for (size_t i = 0; list && i < h->num_headers; i++) {
        const ff_http_header *f = &h->headers[i];
        PyObject *name;
        if (f->name_len <= sizeof lower) {
            for (size_t k = 0; k < f->name_len; k++)
                lower[k] = (char)tolower((unsigned char)f->name[k]);
            name = PyBytes_FromStringAndSize(lower, (Py_ssize_t)f->name_len);
        } else {
            name = PyBytes_FromStringAndSize(f->name, (Py_ssize_t)f->name_len);
            if (name) {
                char *p = PyBytes_AS_STRING(name);
                for (size_t k = 0; k < f->name_len; k++)
                    p[k] = (char)tolower((unsigned char)p[k]);
            }
        }
        PyObject *value = name ? PyBytes_FromStringAndSize(f->value, (Py_ssize_t)f->value_len)
                               : NULL;
        PyObject *pair = value ? PyTuple_New(2) : NULL;
        if (!pair) {
            Py_XDECREF(name);
            Py_XDECREF(value);
            Py_CLEAR(list);
            break;
        }
        PyTuple_SET_ITEM(pair, 0, name);
        PyTuple_SET_ITEM(pair, 1, value);
        PyList_SET_ITEM(list, (Py_ssize_t)i, pair);
    }
    return list;
}

/* Sets scope[key] = v, stealing v; a NULL v (a failed build) fails it. */
static int scope_set(PyObject *scope, PyObject *key, PyObject *v)
{
    int rc = v ? PyDict_SetItem(scope, key, v) : -1;
    Py_XDECREF(v);
    return rc;
}

PyObject *ff_asgi_scope(ff_env *e, const ff_req *r, int websocket)
{
    const ff_http_request *h = r->http;
    PyObject *const *k = e->st->astr;
    char stack[256], *tmp = h->path_len < sizeof stack ? stack : PyMem_Malloc(h->path_len + 1);
    long n = tmp ? ff_percent_decode(tmp, h->path, h->path_len) : -1;
    PyObject *path = n < 0 ? PyUnicode_DecodeLatin1(h->path, (Py_ssize_t)h->path_len, NULL)
                           : PyUnicode_DecodeUTF8(tmp, n, "surrogateescape");
    if (tmp != stack)
        PyMem_Free(tmp);
    PyObject *client = Py_None;
    if (r->peer_host[0]) {
        PyObject *host = PyUnicode_FromString(r->peer_host);
        PyObject *port = host ? PyLong_FromLong(r->peer_port) : NULL;
        client = port ? PyTuple_Pack(2, host, port) : NULL;
        Py_XDECREF(host);
        Py_XDECREF(port);
    } else {
        Py_INCREF(client);
    }
    PyObject *scope = path && client ? PyDict_New() : NULL;
    if (scope &&
        (PyDict_SetItem(scope, k[FF_S_TYPE], k[websocket ? FF_S_WEBSOCKET : FF_S_HTTP]) < 0 ||
         PyDict_SetItem(scope, k[FF_S_ASGI], e->asgi_version) < 0 ||
         PyDict_SetItem(scope, k[FF_S_HTTP_VERSION], k[r->http10 ? FF_S_V10 : FF_S_V11]) < 0 ||
         scope_set(scope, k[FF_S_METHOD],
                   PyUnicode_DecodeLatin1(h->method, (Py_ssize_t)h->method_len, NULL)) < 0 ||
         PyDict_SetItem(scope, k[FF_S_SCHEME], k[websocket ? FF_S_WS : FF_S_HTTP]) < 0 ||
         PyDict_SetItem(scope, k[FF_S_PATH], path) < 0 ||
         scope_set(scope, k[FF_S_RAW_PATH],
                   PyBytes_FromStringAndSize(h->path, (Py_ssize_t)h->path_len)) < 0 ||
         scope_set(scope, k[FF_S_QUERY_STRING],
                   PyBytes_FromStringAndSize(h->query ? h->query : "",
                                             (Py_ssize_t)(h->query ? h->query_len : 0))) < 0 ||
         PyDict_SetItem(scope, k[FF_S_ROOT_PATH], e->asgi_root_path) < 0 ||
         scope_set(scope, k[FF_S_HEADERS], header_pairs(h)) < 0 ||
         PyDict_SetItem(scope, k[FF_S_CLIENT], client) < 0 ||
         PyDict_SetItem(scope, k[FF_S_SERVER], e->asgi_server) < 0 ||
         scope_set(scope, k[FF_S_STATE],
                   e->asgi_state ? PyDict_Copy(e->asgi_state) : PyDict_New()) < 0))
        Py_CLEAR(scope);
    Py_XDECREF(path);
    Py_XDECREF(client);
    return scope;
}

int ff_asgi_dispatch(ff_env *e, ff_req *r, ff_buf *out)
{
    ff_state *st = e->st;
    struct ff_Finalizer *mark = st->request_fins.head;
    if (ff_ws_is_upgrade(r->http))
        return ff_ws_dispatch_asgi(e, r, out);
    if (e->busy)
        return ff_async_busy(e, r, out);
    ff_Asgi *a = PyObject_GC_New(ff_Asgi, st->Asgi_type);
    if (!a)
        return ff_fail_500(e, r, out, "ASGI request");
    memset((char *)a + sizeof(PyObject), 0, sizeof *a - sizeof(PyObject));
    a->e = e;
    a->out = out;
    a->keep_alive = r->keep_alive;
    a->http10 = r->http10;
    a->head_only = r->head_only;
    PyObject_GC_Track(a);
    a->body = PyBytes_FromStringAndSize(r->body_len ? r->body : "", (Py_ssize_t)r->body_len);
    PyObject *scope = a->body ? ff_asgi_scope(e, r, 0) : NULL;
    PyObject *recv = scope ? PyObject_GetAttr((PyObject *)a, st->astr[FF_S_RECEIVE]) : NULL;
    PyObject *send = recv ? PyObject_GetAttr((PyObject *)a, st->astr[FF_S_SEND]) : NULL;
    PyObject *coro = send ? PyObject_CallFunctionObjArgs(e->asgi_app, scope, recv, send, NULL) : NULL;
    Py_XDECREF(scope);
    Py_XDECREF(recv);
    Py_XDECREF(send);
    int status;
    if (!coro)
        status = ff_asgi_finish(a, r, "ASGI app", 1, 0);
    else if (!PyCoro_CheckExact(coro) && !Py_TYPE(coro)->tp_as_async) {
        Py_DECREF(coro);
        PyErr_SetString(PyExc_TypeError, "an ASGI app call must return an awaitable");
        status = ff_asgi_finish(a, r, "ASGI app", 1, 0);
    } else {
        status = ff_async_run(e, r, out, coro, "ASGI app", mark, a, NULL);
        Py_DECREF(coro);
    }
    Py_DECREF(a);
    return status;
}
