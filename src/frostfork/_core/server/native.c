/* server/native.c — routing and calling native handlers, and turning what
 * they return into a response. The handler call is the only Python code
 * that runs for a request. */
#include "server/conn.h"
#include "server/objects.h"
#include "json/encode.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>

/* ---- request ids and 500s ---- */

void ff_fail_500(ff_worker *w, const ff_req *r, ff_buf *out, const char *what)
{
    char rid[48];
    snprintf(rid, sizeof rid, "%x-%llx", (unsigned)w->pid, ++w->req_seq);
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    int plen = r->http->path_len > 200 ? 200 : (int)r->http->path_len;
    PySys_WriteStderr("[frostfork] worker %d: request %s (%.*s %.*s) failed in %s:\n",
                      (int)w->pid, rid, (int)r->http->method_len, r->http->method, plen,
                      r->http->path, what);
    if (type) {
        if (tb && value)
            PyException_SetTraceback(value, tb);
        PyErr_Display(type, value, tb);
    }
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    char body[128];
    int n = snprintf(body, sizeof body,
                     "{\"detail\":\"Internal Server Error\",\"request_id\":\"%s\"}", rid);
    ff_response_begin(out, 500, NULL, 0, &w->date);
    ff_buf_puts(out, "X-Request-Id: ");
    ff_buf_puts(out, rid);
    ff_buf_append(out, "\r\n", 2);
    ff_response_finish_head(out, "application/json", (size_t)n, r->keep_alive, r->http10);
    if (!r->head_only)
        ff_buf_append(out, body, (size_t)n);
}

/* ---- building arguments ---- */

/* A 422 in FastAPI's shape for a path parameter that did not convert. */
static void path_422(ff_worker *w, const ff_req *r, ff_buf *out, PyObject *name, const char *type,
                     const char *msg, PyObject *input)
{
    ff_buf *b = &w->scratch;
    b->off = b->len = 0;
    PyObject *detail = Py_BuildValue("{s:[{s:s,s:[s,O],s:s,s:O}]}", "detail", "type", type,
                                     "loc", "path", name, "msg", msg, "input", input);
    if (!detail || ff_json_encode(b, detail) < 0) {
        Py_XDECREF(detail);
        ff_fail_500(w, r, out, "422 rendering");
        return;
    }
    Py_DECREF(detail);
    ff_response_begin(out, 422, NULL, 0, &w->date);
    ff_response_finish_head(out, "application/json", b->len, r->keep_alive, r->http10);
    if (!r->head_only)
        ff_buf_append(out, b->data, b->len);
}

/* Percent-decodes a path segment and makes it a str; NULL on bad escapes
 * or bytes that are not UTF-8 (the caller answers 400). */
static PyObject *decode_segment(const ff_slice *s)
{
    char stack[256];
    char *tmp = s->n <= sizeof stack ? stack : PyMem_Malloc(s->n);
    if (!tmp)
        return PyErr_NoMemory();
    long n = ff_percent_decode(tmp, s->p, s->n);
    PyObject *res = n < 0 ? NULL : PyUnicode_DecodeUTF8(tmp, n, "strict");
    if (tmp != stack)
        PyMem_Free(tmp);
    if (n < 0)
        PyErr_SetString(PyExc_ValueError, "bad percent-escape in path");
    return res;
}

static PyObject *headers_dict(const ff_http_request *h)
{
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    for (size_t i = 0; i < h->num_headers; i++) {
        char lower[256];
        const ff_http_header *f = &h->headers[i];
        size_t nl = f->name_len < sizeof lower ? f->name_len : sizeof lower;
        for (size_t j = 0; j < nl; j++)
            lower[j] = (char)tolower((unsigned char)f->name[j]);
        PyObject *k = PyUnicode_DecodeLatin1(lower, (Py_ssize_t)nl, NULL);
        PyObject *v = k ? PyUnicode_DecodeLatin1(f->value, (Py_ssize_t)f->value_len, NULL) : NULL;
        PyObject *prev = v ? PyDict_GetItemWithError(d, k) : NULL;
        int rc = -1;
        if (v && prev)
            Py_SETREF(v, PyUnicode_FromFormat("%U, %U", prev, v));
        if (v && !PyErr_Occurred())
            rc = PyDict_SetItem(d, k, v);
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (rc < 0) {
            Py_DECREF(d);
            return NULL;
        }
    }
    return d;
}

static PyObject *make_request(ff_worker *w, const ff_req *r, const ff_route *rt,
                              PyObject **captured)
{
    const ff_http_request *h = r->http;
    ff_Request *q = PyObject_GC_New(ff_Request, w->srv->st->Request_type);
    if (!q)
        return NULL;
    q->method = q->path = q->query_string = q->headers = q->body = q->path_params = NULL;
    q->client = NULL;
    char host[64];
    int port;
    ff_conn_peer(r->conn, host, sizeof host, &port);
    q->method = PyUnicode_DecodeLatin1(h->method, (Py_ssize_t)h->method_len, NULL);
    char *tmp = PyMem_Malloc(h->path_len + 1);
    long n = tmp ? ff_percent_decode(tmp, h->path, h->path_len) : -1;
    q->path = n < 0 ? PyUnicode_DecodeLatin1(h->path, (Py_ssize_t)h->path_len, NULL)
                    : PyUnicode_DecodeUTF8(tmp, n, "surrogateescape");
    PyMem_Free(tmp);
    q->query_string = PyUnicode_DecodeLatin1(h->query ? h->query : "", (Py_ssize_t)h->query_len,
                                             NULL);
    q->headers = headers_dict(h);
    q->body = PyBytes_FromStringAndSize(r->body, (Py_ssize_t)r->body_len);
    q->path_params = PyDict_New();
    q->client = Py_BuildValue("(si)", host, port);
    PyObject_GC_Track(q);
    if (!q->method || !q->path || !q->query_string || !q->headers || !q->body ||
        !q->path_params || !q->client) {
        Py_DECREF(q);
        return NULL;
    }
    Py_ssize_t np = PyTuple_GET_SIZE(rt->param_names);
    for (Py_ssize_t i = 0; i < np; i++)
        if (captured[i] &&
            PyDict_SetItem(q->path_params, PyTuple_GET_ITEM(rt->param_names, i), captured[i]) < 0) {
            Py_DECREF(q);
            return NULL;
        }
    return (PyObject *)q;
}

/* ---- writing the result ---- */

/* bytes -> octet-stream, str -> text/plain, a Response -> its status and
 * headers around the same rules, anything else -> JSON encoded in C. */
static int write_result(ff_worker *w, const ff_req *r, ff_buf *out, PyObject *res)
{
    int status = 200;
    PyObject *body = res, *headers = Py_None;
    int is_response = Py_IS_TYPE(res, w->srv->st->Response_type);
    if (is_response) {
        ff_Response *resp = (ff_Response *)res;
        status = resp->status;
        body = resp->body;
        headers = resp->headers;
    }
    const char *data = "", *ctype = NULL;
    Py_ssize_t len = 0;
    ff_buf *b = &w->scratch;
    b->off = b->len = 0;
    if (PyBytes_Check(body)) {
        data = PyBytes_AS_STRING(body);
        len = PyBytes_GET_SIZE(body);
        ctype = "application/octet-stream";
    } else if (PyUnicode_Check(body)) {
        if (!(data = PyUnicode_AsUTF8AndSize(body, &len)))
            return -1;
        ctype = "text/plain; charset=utf-8";
    } else if (body == Py_None && is_response) {
        ctype = NULL;
    } else {
        if (ff_json_encode(b, body) < 0)
            return -1;
        data = b->data;
        len = (Py_ssize_t)b->len;
        ctype = "application/json";
    }
    size_t mark = ff_buf_used(out);
    ff_headers_seen seen = {0, -1};
    if (ff_response_begin(out, status, NULL, 0, &w->date) < 0 ||
        ff_put_headers(out, headers, &seen) < 0) {
        out->len = out->off + mark; /* drop the half-written head */
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        return -1;
    }
    int no_body = status == 204 || status == 304 || status < 200;
    ff_response_finish_head(out, seen.content_type ? NULL : ctype, no_body ? (size_t)-1 : (size_t)len,
                            r->keep_alive, r->http10);
    if (!r->head_only && !no_body)
        ff_buf_append(out, data, (size_t)len);
    return 0;
}

/* ---- dispatch ---- */

static void write_405(ff_worker *w, const ff_req *r, ff_buf *out, unsigned allow)
{
    static const char body[] = "{\"detail\":\"Method Not Allowed\"}";
    ff_response_begin(out, 405, NULL, 0, &w->date);
    ff_buf_puts(out, "Allow: ");
    int first = 1;
    for (int m = 0; m < FF_M_COUNT; m++)
        if (allow & (1u << m)) {
            if (!first)
                ff_buf_append(out, ", ", 2);
            ff_buf_puts(out, ff_method_name((enum ff_method)m));
            first = 0;
        }
    ff_buf_append(out, "\r\n", 2);
    ff_response_finish_head(out, "application/json", sizeof body - 1, r->keep_alive, r->http10);
    if (!r->head_only)
        ff_buf_append(out, body, sizeof body - 1);
}

void ff_native_dispatch(ff_worker *w, const ff_req *r, ff_buf *out)
{
    ff_app *app = &w->srv->app;
    ff_slice caps[FF_ROUTE_MAX_PARAMS];
    size_t ncaps = 0;
    unsigned allow = 0;
    int id = -1;
    int m = ff_router_match(&app->router, r->method, r->http->path, r->http->path_len, &id, caps,
                            &ncaps, &allow);
    if (m == FF_ROUTE_NOT_FOUND) {
        ff_response_error(out, 404, "Not Found", &w->date, r->keep_alive, r->http10, r->head_only);
        return;
    }
    if (m == FF_ROUTE_BAD_METHOD) {
        write_405(w, r, out, allow);
        return;
    }
    const ff_route *rt = &app->routes[id];
    PyObject *captured[FF_ROUTE_MAX_PARAMS] = {0};
    PyObject *argv[FF_ROUTE_MAX_PARAMS + 2] = {0};
    PyObject **args = argv + 1; /* argv[0] is scratch for PY_VECTORCALL_ARGUMENTS_OFFSET */
    Py_ssize_t built = 0;
    for (size_t i = 0; i < ncaps; i++) {
        if (!(captured[i] = decode_segment(&caps[i]))) {
            PyErr_Clear();
            ff_response_error(out, 400, "Malformed path", &w->date, r->keep_alive, r->http10,
                              r->head_only);
            goto done;
        }
    }
    for (; built < rt->nargs; built++) {
        PyObject *arg = NULL;
        PyObject *raw = rt->capture[built] >= 0 ? captured[rt->capture[built]] : NULL;
        switch (rt->kinds[built]) {
        case FF_ARG_PATH_STR:
            arg = Py_NewRef(raw);
            break;
        case FF_ARG_PATH_INT:
            arg = PyLong_FromUnicodeObject(raw, 10);
            if (!arg) {
                PyErr_Clear();
                path_422(w, r, out, PyTuple_GET_ITEM(rt->kwnames, built), "int_parsing",
                         "Input should be a valid integer", raw);
                goto done;
            }
            break;
        case FF_ARG_PATH_FLOAT:
            arg = PyFloat_FromString(raw);
            if (!arg) {
                PyErr_Clear();
                path_422(w, r, out, PyTuple_GET_ITEM(rt->kwnames, built), "float_parsing",
                         "Input should be a valid number", raw);
                goto done;
            }
            break;
        case FF_ARG_REQUEST:
            arg = make_request(w, r, rt, captured);
            if (!arg) {
                ff_fail_500(w, r, out, rt->label);
                goto done;
            }
            break;
        }
        args[built] = arg;
    }
    PyObject *res = PyObject_Vectorcall(rt->handler, args, PY_VECTORCALL_ARGUMENTS_OFFSET,
                                        rt->kwnames);
    if (!res || write_result(w, r, out, res) < 0)
        ff_fail_500(w, r, out, rt->label);
    Py_XDECREF(res);
done:
    for (Py_ssize_t i = 0; i < built; i++)
        Py_XDECREF(args[i]);
    for (size_t i = 0; i < ncaps; i++)
        Py_XDECREF(captured[i]);
}

/* ---- the route table ---- */

/* Builds the C route table from App._compile()'s list of
 * (method, pattern, handler, param_names, arg_names, arg_kinds, arg_capture). */
int ff_app_build(ff_app *app, PyObject *routes, char *err, size_t errlen)
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
        PyObject *handler, *pnames, *anames, *akinds, *acapture;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(routes, i), "ssOO!O!O!O!", &method, &pattern,
                              &handler, &PyTuple_Type, &pnames, &PyTuple_Type, &anames,
                              &PyTuple_Type, &akinds, &PyTuple_Type, &acapture)) {
            PyErr_Clear();
            snprintf(err, errlen, "route %zd is malformed", i);
            return -1;
        }
        ff_route *rt = &app->routes[app->nroutes++];
        rt->handler = Py_NewRef(handler);
        rt->param_names = Py_NewRef(pnames);
        rt->nargs = PyTuple_GET_SIZE(anames);
        rt->kwnames = rt->nargs ? Py_NewRef(anames) : NULL;
        size_t ll = strlen(method) + strlen(pattern) + 2;
        rt->label = PyMem_Malloc(ll);
        if (!rt->label) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        snprintf(rt->label, ll, "%s %s", method, pattern);
        if (rt->nargs > FF_ROUTE_MAX_PARAMS + 1 || PyTuple_GET_SIZE(akinds) != rt->nargs ||
            PyTuple_GET_SIZE(acapture) != rt->nargs) {
            snprintf(err, errlen, "%s: too many or inconsistent parameters", rt->label);
            return -1;
        }
        for (Py_ssize_t a = 0; a < rt->nargs; a++) {
            rt->kinds[a] = (int)PyLong_AsLong(PyTuple_GET_ITEM(akinds, a));
            rt->capture[a] = (int)PyLong_AsLong(PyTuple_GET_ITEM(acapture, a));
            if (PyErr_Occurred() || rt->kinds[a] < FF_ARG_PATH_STR || rt->kinds[a] > FF_ARG_REQUEST ||
                rt->capture[a] >= PyTuple_GET_SIZE(pnames) ||
                (rt->kinds[a] != FF_ARG_REQUEST && rt->capture[a] < 0)) {
                PyErr_Clear();
                snprintf(err, errlen, "%s: bad binding plan", rt->label);
                return -1;
            }
        }
        enum ff_method m = ff_method_from(method, strlen(method));
        if (ff_router_add(&app->router, m, pattern, (int)i, err, errlen) < 0)
            return -1;
    }
    return 0;
}

void ff_app_free(ff_app *app)
{
    for (size_t i = 0; i < app->nroutes; i++) {
        Py_XDECREF(app->routes[i].handler);
        Py_XDECREF(app->routes[i].kwnames);
        Py_XDECREF(app->routes[i].param_names);
        PyMem_Free(app->routes[i].label);
    }
    PyMem_Free(app->routes);
    ff_router_free(&app->router);
    memset(app, 0, sizeof *app);
}
