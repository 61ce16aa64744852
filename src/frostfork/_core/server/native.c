/* server/native.c — routing and calling native handlers, and turning what
 * they return into a response. The handler call is the only Python code
 * that runs for a request. */
#include "server/conn.h"
#include "server/objects.h"
#include "json/encode.h"
#include "bind/plan.h"
#include "life/logs.h"

#include <strings.h>
#include <unistd.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>

/* ---- request ids and 500s ---- */

const char *ff_request_id(ff_worker *w, const ff_req *r)
{
    ff_state *st = w->srv->st;
    if (st->request_id[0])
        return st->request_id;
    const ff_http_request *h = r->http;
    for (size_t i = 0; i < h->num_headers; i++) {
        const ff_http_header *f = &h->headers[i];
        if (f->name_len != 12 || strncasecmp(f->name, "x-request-id", 12) != 0 ||
            f->value_len == 0 || f->value_len >= sizeof st->request_id)
            continue;
        int ok = 1;
        for (size_t k = 0; k < f->value_len && ok; k++)
            ok = isalnum((unsigned char)f->value[k]) || strchr("-_.:", f->value[k]);
        if (ok) {
            memcpy(st->request_id, f->value, f->value_len);
            st->request_id[f->value_len] = '\0';
            return st->request_id;
        }
    }
    /* <pid hex>-<counter hex>, without snprintf: this runs for every logged request */
    static const char hex[] = "0123456789abcdef";
    char tmp[40];
    size_t n = 0;
    unsigned long long seq = ++w->req_seq;
    do
        tmp[n++] = hex[seq & 15];
    while ((seq >>= 4));
    tmp[n++] = '-';
    unsigned pid = (unsigned)w->pid;
    do
        tmp[n++] = hex[pid & 15];
    while ((pid >>= 4));
    for (size_t i = 0; i < n; i++)
        st->request_id[i] = tmp[n - 1 - i];
    st->request_id[n] = '\0';
    return st->request_id;
}

/* Writes the traceback with every Sensitive value of the request masked,
 * in one write so it cannot interleave with other workers' lines. */
static void log_exception(ff_worker *w, const ff_req *r, const char *rid, const char *what)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb && value)
        PyException_SetTraceback(value, tb);
    int plen = r->http->path_len > 200 ? 200 : (int)r->http->path_len;
    char line[400];
    int ln = snprintf(line, sizeof line, "[frostfork] worker %d: request %s (%.*s %.*s) failed in %s:\n",
                      (int)w->pid, rid, (int)r->http->method_len, r->http->method, plen,
                      r->http->path, what);
    PyObject *head = PyUnicode_DecodeUTF8(line, ln < (int)sizeof line ? ln : (int)sizeof line - 1,
                                          "replace");
    PyObject *fmt = ff_import_attr("traceback", "format_exception");
    PyObject *lines = fmt && value ? PyObject_CallOneArg(fmt, value) : NULL;
    PyObject *empty = PyUnicode_FromString("");
    PyObject *text = lines && empty ? PyUnicode_Join(empty, lines) : NULL;
    PyObject *whole = head && text ? PyUnicode_Concat(head, text) : NULL;
    PyObject *clean = whole ? ff_scrub(w->srv->st, whole) : NULL;
    Py_ssize_t n;
    const char *utf8 = clean ? PyUnicode_AsUTF8AndSize(clean, &n) : NULL;
    if (utf8) {
        ssize_t ignored = write(STDERR_FILENO, utf8, (size_t)n);
        (void)ignored;
    } else {
        PyErr_Clear();
        fprintf(stderr, "[frostfork] worker %d: request %s failed in %s\n", (int)w->pid, rid,
                what);
    }
    Py_XDECREF(head);
    Py_XDECREF(fmt);
    Py_XDECREF(lines);
    Py_XDECREF(empty);
    Py_XDECREF(text);
    Py_XDECREF(whole);
    Py_XDECREF(clean);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

int ff_fail_500(ff_worker *w, const ff_req *r, ff_buf *out, const char *what)
{
    const char *rid = ff_request_id(w, r);
    log_exception(w, r, rid, what);
    char body[160];
    int n = snprintf(body, sizeof body,
                     "{\"detail\":\"Internal Server Error\",\"request_id\":\"%s\"}", rid);
    size_t mark = ff_buf_used(out);
    if (ff_response_begin(out, 500, NULL, 0, &w->date) < 0 ||
        ff_buf_puts(out, "X-Request-Id: ") < 0 || ff_buf_puts(out, rid) < 0 ||
        ff_buf_append(out, "\r\n", 2) < 0 ||
        ff_response_finish_head(out, "application/json", (size_t)n, r->keep_alive, r->http10) < 0 ||
        (!r->head_only && ff_buf_append(out, body, (size_t)n) < 0)) {
        out->len = out->off + mark;
        return -1;
    }
    return 500;
}

/* ---- building arguments ---- */

static PyObject *headers_dict(const ff_http_request *h)
{
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    for (size_t i = 0; i < h->num_headers; i++) {
        const ff_http_header *f = &h->headers[i];
        /* the parser admits only token characters (ASCII) in a name, so the
         * lower-cased name is written straight into a new ASCII str, whole */
        PyObject *k = PyUnicode_New((Py_ssize_t)f->name_len, 127);
        if (k) {
            Py_UCS1 *lower = PyUnicode_1BYTE_DATA(k);
            for (size_t j = 0; j < f->name_len; j++)
                lower[j] = (Py_UCS1)tolower((unsigned char)f->name[j]);
        }
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

PyObject *ff_request_new(ff_worker *w, const ff_req *r, PyObject *path_params)
{
    const ff_http_request *h = r->http;
    ff_Request *q = PyObject_GC_New(ff_Request, w->srv->st->Request_type);
    if (!q)
        return NULL;
    q->weakreflist = NULL;
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
    /* a spooled body stays in its file until request.body or stream() asks */
    q->spool = r->spool ? Py_NewRef(r->spool) : NULL;
    q->body = r->spool ? NULL : PyBytes_FromStringAndSize(r->body, (Py_ssize_t)r->body_len);
    q->path_params = Py_NewRef(path_params);
    q->client = Py_BuildValue("(si)", host, port);
    PyObject_GC_Track(q);
    if (!q->method || !q->path || !q->query_string || !q->headers || (!q->body && !q->spool) || !q->client) {
        Py_DECREF(q);
        return NULL;
    }
    return (PyObject *)q;
}

/* ---- writing the result ---- */

/* bytes -> octet-stream, str -> text/plain, a Response -> its status and
 * headers around the same rules, anything else -> JSON encoded in C.
 * Returns the status written, or -1 with nothing written. */
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
        if (ff_json_encode(b, body, w->srv->st, 0) < 0)
            return -1;
        data = b->data;
        len = (Py_ssize_t)b->len;
        ctype = "application/json";
    }
    size_t mark = ff_buf_used(out);
    ff_headers_seen seen = {0, -1};
    int no_body = status == 204 || status == 304 || status < 200;
    if (ff_response_begin(out, status, NULL, 0, &w->date) < 0 ||
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

/* ---- dispatch ---- */

/* Every binding and validation failure of the request, FastAPI's shape.
 * Returns -1 when not even a 500 could be written. */
static int write_422(ff_worker *w, const ff_req *r, ff_buf *out, PyObject *errors)
{
    ff_buf *b = &w->scratch;
    b->off = b->len = 0;
    PyObject *detail = Py_BuildValue("{s:O}", "detail", errors);
    if (!detail || ff_json_encode(b, detail, w->srv->st, 0) < 0) {
        Py_XDECREF(detail);
        return ff_fail_500(w, r, out, "422 rendering");
    }
    Py_DECREF(detail);
    size_t mark = ff_buf_used(out);
    if (ff_response_begin(out, 422, NULL, 0, &w->date) < 0 ||
        ff_response_finish_head(out, "application/json", b->len, r->keep_alive, r->http10) < 0 ||
        (!r->head_only && ff_buf_append(out, b->data, b->len) < 0)) {
        out->len = out->off + mark;
        return -1;
    }
    return 422;
}

static int write_405(ff_worker *w, const ff_req *r, ff_buf *out, unsigned allow)
{
    static const char body[] = "{\"detail\":\"Method Not Allowed\"}";
    size_t mark = ff_buf_used(out);
    int rc = ff_response_begin(out, 405, NULL, 0, &w->date) < 0 || ff_buf_puts(out, "Allow: ") < 0
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

int ff_native_dispatch(ff_worker *w, const ff_req *r, ff_buf *out)
{
    ff_app *app = &w->srv->app;
    ff_slice caps[FF_ROUTE_MAX_PARAMS];
    size_t ncaps = 0;
    unsigned allow = 0;
    int id = -1;
    if (r->method == FF_M_OTHER) /* RFC 9110 9.1: a method we do not know at all */
        return ff_response_error(out, 501, "Method Not Implemented", &w->date, r->keep_alive,
                                 r->http10, r->head_only) < 0 ? -1 : 501;
    int m = ff_router_match(&app->router, r->method, r->http->path, r->http->path_len, &id, caps,
                            &ncaps, &allow);
    if (m == FF_ROUTE_NOT_FOUND)
        return ff_response_error(out, 404, "Not Found", &w->date, r->keep_alive, r->http10,
                                 r->head_only) < 0 ? -1 : 404;
    if (m == FF_ROUTE_BAD_METHOD)
        return write_405(w, r, out, allow);
    const ff_route *rt = &app->routes[id];
    ff_bind b;
    ff_bind_init(&b, w, r, caps, ncaps, rt->param_names);
    PyObject *res = ff_plan_call(&b, (ff_Plan *)rt->plan);
    int status;
    if (res) {
        if ((status = write_result(w, r, out, res)) < 0)
            status = ff_fail_500(w, r, out, rt->label);
        Py_DECREF(res);
    } else if (b.dec.in.err) {
        char msg[160];
        snprintf(msg, sizeof msg, "invalid JSON at byte %zu: %s", b.dec.in.err_pos, b.dec.in.err);
        status = ff_response_error(out, 400, msg, &w->date, r->keep_alive, r->http10,
                                   r->head_only) < 0 ? -1 : 400;
    } else if (!PyErr_Occurred() && b.dec.errors) {
        status = write_422(w, r, out, b.dec.errors);
    } else {
        status = ff_fail_500(w, r, out, rt->label);
    }
    ff_bind_free(&b);
    return status;
}

/* ---- the route table ---- */

/* Builds the C route table from App._compile()'s list of
 * (method, pattern, plan, param_names). */
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
        PyObject *plan, *pnames;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(routes, i), "ssO!O!", &method, &pattern, plan_type,
                              &plan, &PyTuple_Type, &pnames)) {
            PyErr_Clear();
            snprintf(err, errlen, "route %zd is malformed", i);
            return -1;
        }
        ff_route *rt = &app->routes[app->nroutes++];
        rt->plan = Py_NewRef(plan);
        rt->param_names = Py_NewRef(pnames);
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

void ff_app_free(ff_app *app)
{
    for (size_t i = 0; i < app->nroutes; i++) {
        Py_XDECREF(app->routes[i].plan);
        Py_XDECREF(app->routes[i].param_names);
        PyMem_Free(app->routes[i].label);
    }
    PyMem_Free(app->routes);
    ff_router_free(&app->router);
    memset(app, 0, sizeof *app);
}
