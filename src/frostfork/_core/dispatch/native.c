/* dispatch/native.c — routing and calling native handlers, and turning what
 * they return into a response. The handler call is the only Python code
 * that runs for a request. */
#include "dispatch/dispatch.h"
#include "dispatch/ws.h"
#include "obj/headers.h"
#include "obj/objects.h"
#include "json/encode.h"
#include "json/shape.h"
#include "bind/plan.h"

#include <strings.h>
#include <unistd.h>

#include <ctype.h>
#include <fcntl.h>
#include <string.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

/* ---- writing the result ---- */

/* bytes -> octet-stream, str -> text/plain, a Response (or a subclass, such
 * as frostfork.JSONResponse) -> its status and headers around the same
 * rules, anything else -> JSON encoded in C with the route's status: as the
 * route's response model when it has one (`shape`: only the model's fields;
 * a value that does not fit is an exception, so a 500 and never part of a
 * body). Returns the status written, or -1 with nothing written. */
static int write_result(ff_env *e, const ff_req *r, ff_buf *out, PyObject *res, int status,
                        PyObject *shape)
{
    if (e->st->StreamingResponse_type && Py_TYPE(res) == (PyTypeObject *)e->st->StreamingResponse_type)
        return ff_stream_response(e, r, out, res);
    if (e->st->FileResponse_type && Py_TYPE(res) == (PyTypeObject *)e->st->FileResponse_type)
        return ff_file_response(e, r, out, res);
    PyObject *body = res, *headers = Py_None;
    int is_response = Py_IS_TYPE(res, e->st->Response_type) ||
                      PyObject_TypeCheck(res, e->st->Response_type);
    if (is_response) {
        ff_Response *resp = (ff_Response *)res;
        status = resp->status;
        body = resp->body;
        headers = resp->headers;
    }
    const char *data = "", *ctype = NULL;
    Py_ssize_t len = 0;
    ff_buf *b = &e->scratch;
    b->off = b->len = 0;
    if (PyBytes_Check(body)) {
        data = PyBytes_AS_STRING(body);
        len = PyBytes_GET_SIZE(body);
        ctype = "application/octet-stream";
    } else if (PyUnicode_Check(body)) {
        if (!(data = PyUnicode_AsUTF8AndSize(body, &len)))
            return -1;
        ctype = "text/plain; charset=utf-8";
    } else if (body == Py_None && (is_response || status == 204 || status == 304)) {
        ctype = NULL;
    } else {
        int rc = shape && !is_response
                     ? ff_json_encode_as(b, body, ((ff_Schema *)shape)->root, e->st)
                     : ff_json_encode(b, body, e->st, 0);
        if (rc < 0)
            return -1;
        data = b->data;
        len = (Py_ssize_t)b->len;
        ctype = "application/json";
    }
    size_t mark = ff_buf_used(out);
    ff_headers_seen seen = {.content_length = -1};
    int no_body = status == 204 || status == 304 || status < 200;
    if (ff_response_begin(out, status, NULL, 0, e->date) < 0 ||
        ff_put_headers(out, headers, &seen) < 0 ||
        ff_response_finish_head(out, seen.content_type ? NULL : ctype,
                                no_body ? (size_t)-1 : (size_t)len, r->keep_alive, r->http10) < 0 ||
        (!r->head_only && !no_body && ff_buf_append(out, data, (size_t)len) < 0)) {
        out->len = out->off + mark; /* drop the half-written response */
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        return -1;
    }
    return status;
}

int ff_native_write_result(ff_env *e, const ff_req *r, ff_buf *out, PyObject *res,
                           const ff_route *rt)
{
    return write_result(e, r, out, res, rt ? rt->status : 200, rt ? rt->response : NULL);
}

/* ---- dispatch ---- */

/* Every binding and validation failure of the request, FastAPI's shape.
 * Returns -1 when not even a 500 could be written. */
static int write_422(ff_env *e, const ff_req *r, ff_buf *out, PyObject *errors)
{
    ff_buf *b = &e->scratch;
    b->off = b->len = 0;
    PyObject *detail = Py_BuildValue("{s:O}", "detail", errors);
    if (!detail || ff_json_encode(b, detail, e->st, 0) < 0) {
        Py_XDECREF(detail);
        return ff_fail_500(e, r, out, "422 rendering");
    }
    Py_DECREF(detail);
    size_t mark = ff_buf_used(out);
    if (ff_response_begin(out, 422, NULL, 0, e->date) < 0 ||
        ff_response_finish_head(out, "application/json", b->len, r->keep_alive, r->http10) < 0 ||
        (!r->head_only && ff_buf_append(out, b->data, b->len) < 0)) {
        out->len = out->off + mark;
        return -1;
    }
    return 422;
}

static int write_405(ff_env *e, const ff_req *r, ff_buf *out, unsigned allow)
{
    static const char body[] = "{\"detail\":\"Method Not Allowed\"}";
    size_t mark = ff_buf_used(out);
    int rc = ff_response_begin(out, 405, NULL, 0, e->date) < 0 || ff_buf_puts(out, "Allow: ") < 0
                 ? -1
                 : 0;
    int first = 1;
    for (int m = 0; m < FF_M_COUNT && rc == 0; m++)
        if (allow & (1u << m)) {
            if ((!first && ff_buf_append(out, ", ", 2) < 0) ||
                ff_buf_puts(out, ff_method_name((enum ff_method)m)) < 0)
                rc = -1;
            first = 0;
        }
    if (rc < 0 || ff_buf_append(out, "\r\n", 2) < 0 ||
        ff_response_finish_head(out, "application/json", sizeof body - 1, r->keep_alive,
                                r->http10) < 0 ||
        (!r->head_only && ff_buf_append(out, body, sizeof body - 1) < 0)) {
        out->len = out->off + mark;
        return -1;
    }
    return 405;
}

/* ---- errors: HTTPError, exception handlers, 401 ---- */

/* The pending exception, normalized, with its traceback attached. */
static PyObject *take_exception(void)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value && tb)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
}

/* Sets exc (borrowed) as the pending exception again. */
static void restore_exception(PyObject *exc)
{
    PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(exc)), Py_NewRef(exc),
                  PyException_GetTraceback(exc));
}

/* The handler registered for the nearest class in type(exc).__mro__ (new
 * reference), or NULL; *builtin is set when that nearest class is HTTPError
 * with no handler of the user's, which frostfork renders itself. */
static PyObject *find_handler(const ff_app *app, PyObject *exc, int *builtin)
{
    *builtin = 0;
    PyObject *mro = Py_TYPE(exc)->tp_mro;
    for (Py_ssize_t i = 0; mro && i < PyTuple_GET_SIZE(mro); i++) {
        PyObject *cls = PyTuple_GET_ITEM(mro, i);
        PyObject *fn = app->exc_handlers ? PyDict_GetItemWithError(app->exc_handlers, cls) : NULL;
        if (fn)
            return Py_NewRef(fn);
        if (PyErr_Occurred())
            PyErr_Clear();
        if (app->http_error && cls == app->http_error) {
            *builtin = 1;
            return NULL;
        }
    }
    return NULL;
}

/* A frostfork.Response (the Python subclass, whose headers middleware can
 * change) built from Py_BuildValue's format and arguments. Error paths and
 * middleware only. */
static PyObject *make_response(ff_state *st, const char *fmt, ...)
{
    va_list va;
    va_start(va, fmt);
    PyObject *args = Py_VaBuildValue(fmt, va);
    va_end(va);
    PyObject *res = args ? PyObject_CallObject(st->Response_cls, args) : NULL;
    Py_XDECREF(args);
    return res;
}

/* A Response for an HTTPError: {"detail": exc.detail}, exc.status, exc.headers. */
static PyObject *http_error_response(ff_state *st, PyObject *exc)
{
    PyObject *status = PyObject_GetAttrString(exc, "status");
    PyObject *detail = status ? PyObject_GetAttrString(exc, "detail") : NULL;
    PyObject *headers = detail ? PyObject_GetAttrString(exc, "headers") : NULL;
    PyObject *body = headers ? Py_BuildValue("{s:O}", "detail", detail) : NULL;
    PyObject *res = body ? make_response(st, "(OOO)", status, body, headers) : NULL;
    Py_XDECREF(status);
    Py_XDECREF(detail);
    Py_XDECREF(headers);
    Py_XDECREF(body);
    return res;
}

/* What an exception becomes: a registered handler's Response, HTTPError's
 * own, or NULL with the exception pending again (no handler: a 500, or in
 * middleware, an exception out of call_next). A handler that raises leaves
 * its own exception pending. */
static PyObject *handle_exception(ff_env *e, ff_bind *b, PyObject *exc)
{
    int builtin;
    PyObject *fn = find_handler(e->app, exc, &builtin);
    if (fn) {
        PyObject *request = ff_bind_request(b);
        PyObject *res = request ? PyObject_CallFunctionObjArgs(fn, request, exc, NULL) : NULL;
        Py_XDECREF(request);
        Py_DECREF(fn);
        return res;
    }
    if (builtin)
        return http_error_response(e->st, exc);
    restore_exception(exc);
    return NULL;
}

/* An async handler's exception (pending), raised in its first step or in
 * its Task: the user's exception handler, HTTPError's rendering, or a 500,
 * as for a sync handler. The handler's binding state is gone by then, so an
 * exception handler gets a Request made now (its path_params empty). */
int ff_native_write_failure(ff_env *e, const ff_req *r, ff_buf *out, const ff_route *rt)
{
    const char *label = rt ? rt->label : "async handler";
    if (!e->app || (!e->app->exc_handlers && !e->app->http_error))
        return ff_fail_500(e, r, out, label);
    PyObject *exc = take_exception();
    if (!exc)
        return ff_fail_500(e, r, out, label);
    int builtin;
    PyObject *res = NULL, *fn = find_handler(e->app, exc, &builtin);
    if (fn) {
        PyObject *params = PyDict_New();
        PyObject *request = params ? ff_request_new(e->st, r, params) : NULL;
        res = request ? PyObject_CallFunctionObjArgs(fn, request, exc, NULL) : NULL;
        Py_XDECREF(params);
        Py_XDECREF(request);
        Py_DECREF(fn);
    } else if (builtin) {
        res = http_error_response(e->st, exc);
    } else {
        restore_exception(exc);
    }
    Py_DECREF(exc);
    if (!res)
        return ff_fail_500(e, r, out, label);
    int status = write_result(e, r, out, res, 200, NULL);
    Py_DECREF(res);
    return status < 0 ? ff_fail_500(e, r, out, label) : status;
}

/* The 401 of a missing or malformed credential. */
static PyObject *unauthorized_response(ff_state *st, ff_bind *b)
{
    return make_response(st, "(i{ss}[(sO)])", 401, "detail",
                         b->unauth == 1 ? "Not authenticated" : "Invalid authentication credentials",
                         "WWW-Authenticate", b->challenge);
}

/* A 422 through the user's ValidationError handler (only that class: an
 * Exception handler does not catch validation), or NULL when there is none. */
static PyObject *validation_handler(ff_env *e, ff_bind *b, int *found)
{
    PyObject *fn = e->app->exc_handlers ? PyDict_GetItemWithError(e->app->exc_handlers,
                                                                   e->st->ValidationError)
                                        : NULL;
    *found = fn != NULL;
    if (!fn)
        return NULL;
    PyObject *exc = PyObject_CallOneArg(e->st->ValidationError, b->dec.errors);
    PyObject *request = exc ? ff_bind_request(b) : NULL;
    PyObject *res = request ? PyObject_CallFunctionObjArgs(fn, request, exc, NULL) : NULL;
    Py_XDECREF(exc);
    Py_XDECREF(request);
    return res;
}

/* ---- middleware ---- */

/* One request on its way through the middleware chain (on the stack of
 * dispatch_middleware; CallNext objects point here only while it lasts). */
typedef struct ff_chain {
    ff_env *e;
    const ff_req *r;
    const ff_route *rt;
    ff_bind *b;
    PyObject *exc; /* the handler's exception, for generator dependencies */
} ff_chain;

typedef struct {
    PyObject_HEAD
    ff_chain *chain; /* NULL once its request has ended */
    Py_ssize_t index;
    int used;
} ff_CallNext;

static PyObject *run_chain(ff_chain *c, Py_ssize_t index, PyObject *request);

/* A handler's value written as its route's response model, for the
 * middleware path, which hands middleware a Response: the model's JSON as a
 * JSONResponse, so what middleware sees is what the client gets and a field
 * the model leaves out never reaches either. NULL with the reason raised
 * when the value does not fit. */
static PyObject *shaped_json(ff_env *e, PyObject *shape, PyObject *value, int status)
{
    ff_buf *b = &e->scratch;
    b->off = b->len = 0;
    if (ff_json_encode_as(b, value, ((ff_Schema *)shape)->root, e->st) < 0)
        return NULL;
    PyObject *body = PyBytes_FromStringAndSize(b->data, (Py_ssize_t)b->len);
    PyObject *res = body ? PyObject_CallFunction(e->st->JSONResponse_cls, "Oi", body, status)
                         : NULL;
    Py_XDECREF(body);
    return res;
}

/* The handler at the end of the chain, as a Response object the middleware
 * can read and change: every outcome but an unhandled exception (which
 * propagates out of call_next, as in Starlette) becomes one. */
static PyObject *run_handler(ff_chain *c)
{
    ff_env *e = c->e;
    ff_bind *b = c->b;
    PyObject *res = ff_plan_call(b, (ff_Plan *)c->rt->plan);
    if (res) {
        if (PyObject_TypeCheck(res, e->st->Response_type))
            return res;
        PyObject *wrapped = c->rt->response && !PyBytes_Check(res) && !PyUnicode_Check(res)
                                ? shaped_json(e, c->rt->response, res, c->rt->status)
                                : make_response(e->st, "(iO)", c->rt->status, res);
        Py_DECREF(res);
        return wrapped;
    }
    if (b->unauth)
        return unauthorized_response(e->st, b);
    if (b->dec.in.err) {
        char msg[160];
        snprintf(msg, sizeof msg, "invalid JSON at byte %zu: %s", b->dec.in.err_pos, b->dec.in.err);
        return make_response(e->st, "(i{ss})", 400, "detail", msg);
    }
    if (!PyErr_Occurred() && b->dec.errors) {
        int found;
        res = validation_handler(e, b, &found);
        if (found)
            return res;
        return make_response(e->st, "(i{sO})", 422, "detail", b->dec.errors);
    }
    PyObject *exc = take_exception();
    if (!exc)
        return NULL;
    if (!c->exc)
        c->exc = Py_NewRef(exc);
    res = handle_exception(e, b, exc);
    Py_DECREF(exc);
    return res;
}

/* call_next(request): the rest of the chain, once. */
static PyObject *callnext_call(ff_CallNext *self, PyObject *args, PyObject *kwargs)
{
    PyObject *request;
    if (kwargs && PyDict_GET_SIZE(kwargs)) {
        PyErr_SetString(PyExc_TypeError, "call_next(request) takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "O:call_next", &request))
        return NULL;
    if (!self->chain) {
        PyErr_SetString(PyExc_RuntimeError, "call_next used after its request ended");
        return NULL;
    }
    if (self->used) {
        PyErr_SetString(PyExc_RuntimeError, "call_next may be called once per request");
        return NULL;
    }
    self->used = 1;
    return run_chain(self->chain, self->index, request);
}

static int callnext_traverse(ff_CallNext *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static void callnext_dealloc(ff_CallNext *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyType_Slot callnext_slots[] = {
    {Py_tp_call, callnext_call},
    {Py_tp_dealloc, callnext_dealloc},
    {Py_tp_traverse, callnext_traverse},
    {Py_tp_doc, "call_next(request) -> Response: the rest of the middleware chain and the "
                "handler (once per request)."},
    {0, NULL},
};

PyType_Spec ff_callnext_spec = {
    .name = "frostfork.CallNext",
    .basicsize = sizeof(ff_CallNext),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = callnext_slots,
};

/* Middleware `index` with a call_next for the one after it; past the last,
 * the handler. The CallNext is disarmed when its middleware returns, so a
 * kept reference cannot run a finished request. */
static PyObject *run_chain(ff_chain *c, Py_ssize_t index, PyObject *request)
{
    PyObject *mws = c->e->app->middleware;
    if (index >= PyTuple_GET_SIZE(mws))
        return run_handler(c);
    ff_CallNext *next = PyObject_GC_New(ff_CallNext, c->e->st->CallNext_type);
    if (!next)
        return NULL;
    next->chain = c;
    next->index = index + 1;
    next->used = 0;
    PyObject_GC_Track(next);
    PyObject *res = PyObject_CallFunctionObjArgs(PyTuple_GET_ITEM(mws, index), request,
                                                 (PyObject *)next, NULL);
    next->chain = NULL;
    Py_DECREF(next);
    return res;
}

static int dispatch_middleware(ff_env *e, const ff_req *r, ff_buf *out, const ff_route *rt,
                               ff_bind *b)
{
    ff_chain c = {e, r, rt, b, NULL};
    PyObject *request = ff_bind_request(b);
    PyObject *res = request ? run_chain(&c, 0, request) : NULL;
    Py_XDECREF(request);
    int status;
    if (!res) {
        if (!c.exc && PyErr_Occurred() && (c.exc = take_exception()))
            restore_exception(c.exc); /* for the generator dependencies, and logged below */
        status = ff_fail_500(e, r, out, rt->label);
    } else {
        if ((status = write_result(e, r, out, res, rt->status, NULL)) < 0)
            status = ff_fail_500(e, r, out, rt->label);
        Py_DECREF(res);
    }
    if (ff_bind_finish(b, c.exc) < 0)
        PyErr_WriteUnraisable(NULL);
    Py_XDECREF(c.exc);
    return status;
}

/* ---- one request ---- */

/* A handler's failure other than 400/422: the user's handler for it,
 * HTTPError's rendering, or a 500. *keep gets the exception for generator
 * dependencies. */
static int write_exception(ff_env *e, const ff_req *r, ff_buf *out, const ff_route *rt, ff_bind *b,
                           PyObject **keep)
{
    PyObject *exc = take_exception();
    if (!exc)
        return ff_fail_500(e, r, out, rt->label);
    if (b->gens)
        *keep = Py_NewRef(exc);
    PyObject *res = handle_exception(e, b, exc);
    Py_DECREF(exc);
    if (!res)
        return ff_fail_500(e, r, out, rt->label); /* unhandled, or the handler raised */
    int status = write_result(e, r, out, res, 200, NULL);
    Py_DECREF(res);
    return status < 0 ? ff_fail_500(e, r, out, rt->label) : status;
}

int ff_native_dispatch(ff_env *e, const ff_req *r, ff_buf *out)
{
    const ff_app *app = e->app;
    ff_slice caps[FF_ROUTE_MAX_PARAMS];
    size_t ncaps = 0;
    unsigned allow = 0;
    int id = -1;
    if (r->method == FF_M_OTHER) /* RFC 9110 9.1: a method we do not know at all */
        return ff_response_error(out, 501, "Method Not Implemented", e->date, r->keep_alive,
                                 r->http10, r->head_only) < 0 ? -1 : 501;
    for (size_t i = 0; i < app->nstatics; i++) {
        const ff_static *sm = &app->statics[i];
        const ff_http_request *h = r->http;
        if (h->path_len > sm->prefix_len && h->path[sm->prefix_len] == '/' &&
            memcmp(h->path, sm->prefix, sm->prefix_len) == 0)
            return ff_static_serve(e, r, out, sm, h->path + sm->prefix_len,
                                   h->path_len - sm->prefix_len);
    }
    int m = ff_router_match(&app->router, r->method, r->http->path, r->http->path_len, &id, caps,
                            &ncaps, &allow);
    if (m == FF_ROUTE_NOT_FOUND)
        return ff_response_error(out, 404, "Not Found", e->date, r->keep_alive, r->http10,
                                 r->head_only) < 0 ? -1 : 404;
    if (m == FF_ROUTE_BAD_METHOD)
        return write_405(e, r, out, allow);
    const ff_route *rt = &app->routes[id];
    ff_Ws *ws = NULL;
    if (rt->websocket) {
        int status = ff_ws_prepare(e, r, out, &ws);
        if (!ws)
            return status;
        ((ff_req *)r)->keep_alive = 0; /* a refused handshake ends the connection */
    } else if (e->busy && ff_async_callable(((ff_Plan *)rt->plan)->callable)) {
        return ff_async_busy(e, r, out);
    }
    struct ff_Finalizer *mark = e->st->request_fins.head;
    ff_bind b;
    ff_bind_init(&b, e->st, r, caps, ncaps, rt->param_names);
    b.websocket = (PyObject *)ws;
    if (app->middleware && !ws) {
        int status = dispatch_middleware(e, r, out, rt, &b);
        ff_bind_free(&b);
        return status;
    }
    PyObject *res = ff_plan_call(&b, (ff_Plan *)rt->plan);
    PyObject *exc = NULL;
    int status;
    if (res && ws) {
        if (PyCoro_CheckExact(res)) {
            status = ff_ws_start_native(e, r, out, res, rt, mark, ws);
        } else {
            PyErr_SetString(PyExc_TypeError, "a websocket handler must be an async def");
            status = ff_fail_500(e, r, out, rt->label);
        }
        Py_DECREF(res);
    } else if (res && PyCoro_CheckExact(res)) {
        status = ff_async_run(e, r, out, res, rt->label, mark, NULL, rt);
        Py_DECREF(res);
    } else if (res) {
        if ((status = write_result(e, r, out, res, rt->status, rt->response)) < 0)
            status = ff_fail_500(e, r, out, rt->label);
        Py_DECREF(res);
    } else if (b.unauth) {
        res = unauthorized_response(e->st, &b);
        status = res ? write_result(e, r, out, res, 401, NULL) : -1;
        Py_XDECREF(res);
        if (status < 0)
            status = ff_fail_500(e, r, out, rt->label);
    } else if (b.form_status) {
        status = ff_response_error(out, b.form_status, b.form_msg, e->date, r->keep_alive,
                                   r->http10, r->head_only) < 0 ? -1 : b.form_status;
    } else if (b.dec.in.err) {
        char msg[160];
        snprintf(msg, sizeof msg, "invalid JSON at byte %zu: %s", b.dec.in.err_pos, b.dec.in.err);
        status = ff_response_error(out, 400, msg, e->date, r->keep_alive, r->http10,
                                   r->head_only) < 0 ? -1 : 400;
    } else if (!PyErr_Occurred() && b.dec.errors) {
        int found = 0;
        res = app->exc_handlers ? validation_handler(e, &b, &found) : NULL;
        if (!found)
            status = write_422(e, r, out, b.dec.errors);
        else if (!res || (status = write_result(e, r, out, res, 200, NULL)) < 0)
            status = ff_fail_500(e, r, out, rt->label);
        Py_XDECREF(res);
    } else if (app->exc_handlers || app->http_error || b.gens) {
        status = write_exception(e, r, out, rt, &b, &exc);
    } else {
        status = ff_fail_500(e, r, out, rt->label);
    }
    if (b.gens && ff_bind_finish(&b, exc) < 0)
        PyErr_WriteUnraisable(NULL);
    Py_XDECREF(exc);
    ff_bind_free(&b);
    Py_XDECREF(ws);
    return status;
}

/* ---- the route table ---- */

/* The response model of a route table entry's optional fifth item (see
 * dispatch.h): a new reference to a Schema, Py_None when there is none, or
 * NULL with an exception. A route record (anything else) is asked of
 * frostfork.shape.for_route, once, at startup. */
static PyObject *response_schema(PyObject *extra, PyTypeObject *schema_type)
{
    if (extra == Py_None || PyObject_TypeCheck(extra, schema_type))
        return Py_NewRef(extra);
    PyObject *fn = ff_import_attr("frostfork.shape", "for_route");
    PyObject *s = fn ? PyObject_CallOneArg(fn, extra) : NULL;
    Py_XDECREF(fn);
    if (s && s != Py_None && !PyObject_TypeCheck(s, schema_type)) {
        PyErr_SetString(PyExc_TypeError, "frostfork.shape.for_route must return a Schema or None");
        Py_CLEAR(s);
    }
    return s;
}

/* ("STATIC", prefix, directory, precompressed): a folder for app.static(),
 * opened here once (in the master, so every worker inherits the fd). */
static int add_static(ff_app *app, PyObject *item, char *err, size_t errlen)
{
    const char *tag, *prefix, *dir;
    int pre;
    if (!PyArg_ParseTuple(item, "ssyp", &tag, &prefix, &dir, &pre)) {
        PyErr_Clear();
        snprintf(err, errlen, "static mount is malformed");
        return -1;
    }
    ff_static *grown = PyMem_Realloc(app->statics, (app->nstatics + 1) * sizeof(ff_static));
    if (!grown) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    app->statics = grown;
    ff_static *sm = &app->statics[app->nstatics];
    size_t pl = strlen(prefix);
    while (pl > 0 && prefix[pl - 1] == '/')
        pl--;
    sm->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (sm->dirfd < 0) {
        snprintf(err, errlen, "static folder %s: %s", dir, strerror(errno));
        return -1;
    }
    if (!(sm->prefix = PyMem_Malloc(pl + 1))) {
        close(sm->dirfd);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(sm->prefix, prefix, pl);
    sm->prefix[pl] = '\0';
    sm->prefix_len = pl;
    sm->precompressed = pre;
    app->nstatics++;
    return 0;
}

/* Builds the C route table from App._compile()'s list of
 * (method, pattern, plan, param_names[, extra]). */
int ff_app_build(ff_app *app, PyObject *routes, PyTypeObject *plan_type, char *err, size_t errlen)
{
    memset(app, 0, sizeof *app);
    if (ff_router_init(&app->router) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!PyList_Check(routes)) {
        snprintf(err, errlen, "routes must be a list");
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(routes);
    app->routes = PyMem_Calloc((size_t)n + 1, sizeof(ff_route));
    if (!app->routes) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *method, *pattern;
        PyObject *plan, *pnames, *record = Py_None, *resp;
        PyObject *item = PyList_GET_ITEM(routes, i);
        if (PyTuple_Check(item) && PyTuple_GET_SIZE(item) == 4 &&
            PyUnicode_Check(PyTuple_GET_ITEM(item, 0)) &&
            PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(item, 0), "STATIC") == 0) {
            if (add_static(app, item, err, errlen) < 0)
                return -1;
            continue;
        }
        if (!PyArg_ParseTuple(item, "ssO!O!|O", &method, &pattern,
                              plan_type, &plan, &PyTuple_Type, &pnames, &record) ||
            !(resp = response_schema(record, ((ff_state *)PyType_GetModuleState(plan_type))
                                                 ->Schema_type))) {
            PyObject *type, *exc, *tb;
            PyErr_Fetch(&type, &exc, &tb);
            PyObject *text = exc ? PyObject_Str(exc) : NULL;
            const char *why = text ? PyUnicode_AsUTF8(text) : NULL;
            snprintf(err, errlen, "route %zd is malformed%s%s", i, why ? ": " : "",
                     why ? why : "");
            PyErr_Clear();
            Py_XDECREF(text);
            Py_XDECREF(type);
            Py_XDECREF(exc);
            Py_XDECREF(tb);
            return -1;
        }
        ff_route *rt = &app->routes[app->nroutes++];
        rt->plan = Py_NewRef(plan);
        rt->param_names = Py_NewRef(pnames);
        rt->status = 200;
        if (record != Py_None &&
            !PyObject_TypeCheck(record, ((ff_state *)PyType_GetModuleState(plan_type))->Schema_type)) {
            rt->record = Py_NewRef(record);
            PyObject *code = PyObject_GetAttrString(record, "status_code");
            if (!code && PyErr_ExceptionMatches(PyExc_AttributeError))
                PyErr_Clear(); /* a record without one: the default */
            long v = code && code != Py_None ? PyLong_AsLong(code) : 200;
            Py_XDECREF(code);
            if (PyErr_Occurred() || v < 100 || v > 999) {
                PyErr_Clear();
                snprintf(err, errlen, "route %zd: status_code must be a 3-digit int", i);
                return -1;
            }
            rt->status = (int)v;
            PyObject *wsflag = PyObject_GetAttrString(record, "websocket");
            if (!wsflag)
                PyErr_Clear(); /* a record without one: an HTTP route */
            rt->websocket = wsflag && PyObject_IsTrue(wsflag) == 1;
            Py_XDECREF(wsflag);
        }
        if (resp != Py_None)
            rt->response = resp;
        else
            Py_DECREF(resp);
        size_t ll = strlen(method) + strlen(pattern) + 2;
        if (!(rt->label = PyMem_Malloc(ll))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        snprintf(rt->label, ll, "%s %s", method, pattern);
        if (ff_router_add(&app->router, ff_method_from(method, strlen(method)), pattern, (int)i,
                          err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* A runtime entry that must be callable (or None: unused). */
static int runtime_item(PyObject *runtime, const char *key, PyObject **slot, int is_callable)
{
    PyObject *v = PyDict_GetItemString(runtime, key);
    if (!v || v == Py_None)
        return 0;
    if (is_callable && !PyCallable_Check(v)) {
        PyErr_Format(PyExc_TypeError, "runtime %s must be callable", key);
        return -1;
    }
    *slot = Py_NewRef(v);
    return 0;
}

int ff_app_runtime(ff_app *app, PyObject *runtime)
{
    if (runtime == Py_None)
        return 0;
    if (!PyDict_Check(runtime)) {
        PyErr_SetString(PyExc_TypeError, "runtime must be a dict (App.runtime())");
        return -1;
    }
    if (runtime_item(runtime, "exception_handlers", &app->exc_handlers, 0) < 0 ||
        runtime_item(runtime, "middleware", &app->middleware, 0) < 0 ||
        runtime_item(runtime, "http_error", &app->http_error, 0) < 0 ||
        runtime_item(runtime, "worker_start", &app->worker_start, 1) < 0 ||
        runtime_item(runtime, "worker_stop", &app->worker_stop, 1) < 0)
        return -1;
    /* an empty dict or tuple is "not used": the request path tests for NULL */
    if (app->exc_handlers && (!PyDict_Check(app->exc_handlers) || !PyDict_GET_SIZE(app->exc_handlers))) {
        if (!PyDict_Check(app->exc_handlers)) {
            PyErr_SetString(PyExc_TypeError, "exception_handlers must be a dict");
            return -1;
        }
        Py_CLEAR(app->exc_handlers);
    }
    if (app->middleware && (!PyTuple_Check(app->middleware) || !PyTuple_GET_SIZE(app->middleware))) {
        if (!PyTuple_Check(app->middleware)) {
            PyErr_SetString(PyExc_TypeError, "middleware must be a tuple");
            return -1;
        }
        Py_CLEAR(app->middleware);
    }
    return 0;
}

int ff_app_worker_start(ff_app *app)
{
    if (!app->worker_start)
        return 0;
    PyObject *res = PyObject_CallNoArgs(app->worker_start);
    if (!res) {
        fprintf(stderr, "[frostfork] worker %d: a worker start hook raised:\n", (int)getpid());
        PyErr_Print();
        return -1;
    }
    Py_DECREF(res);
    app->worker_started = 1;
    return 0;
}

void ff_app_worker_stop(ff_app *app)
{
    if (!app->worker_stop || !app->worker_started)
        return;
    app->worker_started = 0;
    PyObject *res = PyObject_CallNoArgs(app->worker_stop);
    if (!res) {
        fprintf(stderr, "[frostfork] worker %d: a worker stop hook raised:\n", (int)getpid());
        PyErr_Print();
        return;
    }
    Py_DECREF(res);
}

void ff_app_free(ff_app *app)
{
    Py_CLEAR(app->exc_handlers);
    Py_CLEAR(app->middleware);
    Py_CLEAR(app->http_error);
    Py_CLEAR(app->worker_start);
    Py_CLEAR(app->worker_stop);
    for (size_t i = 0; i < app->nroutes; i++) {
        Py_XDECREF(app->routes[i].plan);
        Py_XDECREF(app->routes[i].param_names);
        Py_XDECREF(app->routes[i].record);
        Py_XDECREF(app->routes[i].response);
        PyMem_Free(app->routes[i].label);
    }
    PyMem_Free(app->routes);
    for (size_t i = 0; i < app->nstatics; i++) {
        close(app->statics[i].dirfd);
        PyMem_Free(app->statics[i].prefix);
    }
    PyMem_Free(app->statics);
    ff_router_free(&app->router);
    memset(app, 0, sizeof *app);
}
