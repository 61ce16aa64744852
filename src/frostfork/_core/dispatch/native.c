/* dispatch/native.c — routing and calling native handlers, and turning what
 * they return into a response. The handler call is the only Python code
 * that runs for a request. */
#include "dispatch/dispatch.h"
#include "obj/headers.h"
#include "obj/objects.h"
#include "json/encode.h"
#include "bind/plan.h"

#include <strings.h>
#include <unistd.h>

#include <ctype.h>
#include <fcntl.h>
#include <string.h>
#include <errno.h>
#include <stdio.h>

/* ---- writing the result ---- */

/* bytes -> octet-stream, str -> text/plain, a Response -> its status and
 * headers around the same rules, anything else -> JSON encoded in C.
 * Returns the status written, or -1 with nothing written. */
static int write_result(ff_env *e, const ff_req *r, ff_buf *out, PyObject *res)
{
    if (e->st->StreamingResponse_type && Py_TYPE(res) == (PyTypeObject *)e->st->StreamingResponse_type)
        return ff_stream_response(e, r, out, res);
    if (e->st->FileResponse_type && Py_TYPE(res) == (PyTypeObject *)e->st->FileResponse_type)
        return ff_file_response(e, r, out, res);
    int status = 200;
    PyObject *body = res, *headers = Py_None;
    int is_response = Py_IS_TYPE(res, e->st->Response_type);
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
    } else if (body == Py_None && is_response) {
        ctype = NULL;
    } else {
        if (ff_json_encode(b, body, e->st, 0) < 0)
            return -1;
        data = b->data;
        len = (Py_ssize_t)b->len;
        ctype = "application/json";
    }
    size_t mark = ff_buf_used(out);
    ff_headers_seen seen = {0, -1};
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
    ff_bind b;
    ff_bind_init(&b, e->st, r, caps, ncaps, rt->param_names);
    PyObject *res = ff_plan_call(&b, (ff_Plan *)rt->plan);
    int status;
    if (res) {
        if ((status = write_result(e, r, out, res)) < 0)
            status = ff_fail_500(e, r, out, rt->label);
        Py_DECREF(res);
    } else if (b.form_status) {
        status = ff_response_error(out, b.form_status, b.form_msg, e->date, r->keep_alive,
                                   r->http10, r->head_only) < 0 ? -1 : b.form_status;
    } else if (b.dec.in.err) {
        char msg[160];
        snprintf(msg, sizeof msg, "invalid JSON at byte %zu: %s", b.dec.in.err_pos, b.dec.in.err);
        status = ff_response_error(out, 400, msg, e->date, r->keep_alive, r->http10,
                                   r->head_only) < 0 ? -1 : 400;
    } else if (!PyErr_Occurred() && b.dec.errors) {
        status = write_422(e, r, out, b.dec.errors);
    } else {
        status = ff_fail_500(e, r, out, rt->label);
    }
    ff_bind_free(&b);
    return status;
}

/* ---- the route table ---- */

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
        PyObject *item = PyList_GET_ITEM(routes, i);
        if (PyTuple_Check(item) && PyTuple_GET_SIZE(item) == 4 &&
            PyUnicode_Check(PyTuple_GET_ITEM(item, 0)) &&
            PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(item, 0), "STATIC") == 0) {
            if (add_static(app, item, err, errlen) < 0)
                return -1;
            continue;
        }
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
    for (size_t i = 0; i < app->nstatics; i++) {
        close(app->statics[i].dirfd);
        PyMem_Free(app->statics[i].prefix);
    }
    PyMem_Free(app->statics);
    ff_router_free(&app->router);
    memset(app, 0, sizeof *app);
}
