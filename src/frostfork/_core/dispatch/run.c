/* dispatch/run.c — running one request in an ff_env: the environment's
 * life, request ids, the 500 path, and the steps around either dispatcher. */
#include "dispatch/dispatch.h"
#include "dispatch/mw.h"
#include "life/logs.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int ff_env_init(ff_env *e, ff_state *st, const ff_app *app, PyObject *wsgi_app,
                const ff_date_cache *date, const char *server_name, int server_port)
{
    memset(e, 0, sizeof *e);
    e->src.fd = -1;
    e->st = st;
    e->app = app;
    e->wsgi_app = wsgi_app;
    e->date = date;
    e->pid = getpid();
    return wsgi_app ? ff_wsgi_env_init(e, server_name, server_port) : 0;
}

void ff_env_clear(ff_env *e)
{
    ff_body_src_clear(&e->src);
    ff_buf_free(&e->scratch);
    Py_CLEAR(e->environ_base);
    Py_CLEAR(e->error);
    ff_strcache_clear(&e->strings);
}

int ff_dispatch_run(ff_env *e, ff_req *r, ff_buf *out)
{
    size_t mark = ff_buf_used(out);
    int status = e->mw ? ff_mw_before(e->mw, r, out, e->date) : 0; /* a CORS preflight answered */
    if (status == 0) {
        e->st->in_request = 1; /* finalizers made now belong to this request */
        status = e->asgi_app   ? ff_asgi_dispatch(e, r, out)
                 : e->wsgi_app ? ff_wsgi_dispatch(e, r, out)
                               : ff_native_dispatch(e, r, out);
        e->st->in_request = 0;
        /* CORS headers, and gzip of a body that is in out (a streamed or
         * sendfile body is not: its head carries no body to compress; nor is
         * a suspended async handler's, written later) */
        if (status > 0 && e->mw && ff_mw_after(e->mw, r, out, mark) < 0)
            status = -1;
    }
    if (status == FF_STATUS_PENDING)
        return status;
    if (status < 0 || e->src.kind == FF_BODY_NONE)
        e->src_close = 0;
    if (status < 0) {
        ff_body_src_clear(&e->src);
        /* Out of memory for the response: cut off what part of it was
         * written, so a keep-alive client never reads half a response as a
         * whole one. The request is counted with status 0. */
        out->len = out->off + mark;
        r->keep_alive = 0;
        status = 0;
    }
    return status;
}

void ff_dispatch_end(ff_env *e)
{
    ff_state *st = e->st;
    st->request_id[0] = '\0';
    if (PyList_GET_SIZE(st->secrets) && PyList_SetSlice(st->secrets, 0, PY_SSIZE_T_MAX, NULL) < 0)
        PyErr_Clear();
    if (PyErr_Occurred()) /* a dispatcher bug: never let it leak into the next request */
        PyErr_WriteUnraisable(NULL);
}

/* ---- request ids and 500s ---- */

const char *ff_request_id(ff_env *e, const ff_req *r)
{
    ff_state *st = e->st;
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
    unsigned long long seq = ++e->req_seq;
    do
        tmp[n++] = hex[seq & 15];
    while ((seq >>= 4));
    tmp[n++] = '-';
    unsigned pid = (unsigned)e->pid;
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
static void log_exception(ff_env *e, const ff_req *r, const char *rid, const char *what)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb && value)
        PyException_SetTraceback(value, tb);
    if (e->capture_errors && value && !e->error)
        e->error = Py_NewRef(value); /* the test client raises it in the test */
    int plen = r->http->path_len > 200 ? 200 : (int)r->http->path_len;
    char line[400];
    int ln = snprintf(line, sizeof line, "[frostfork] worker %d: request %s (%.*s %.*s) failed in %s:\n",
                      (int)e->pid, rid, (int)r->http->method_len, r->http->method, plen,
                      r->http->path, what);
    PyObject *head = PyUnicode_DecodeUTF8(line, ln < (int)sizeof line ? ln : (int)sizeof line - 1,
                                          "replace");
    PyObject *fmt = ff_import_attr("traceback", "format_exception");
    PyObject *lines = fmt && value ? PyObject_CallOneArg(fmt, value) : NULL;
    PyObject *empty = PyUnicode_FromString("");
    PyObject *text = lines && empty ? PyUnicode_Join(empty, lines) : NULL;
    PyObject *whole = head && text ? PyUnicode_Concat(head, text) : NULL;
    PyObject *clean = whole ? ff_scrub(e->st, whole) : NULL;
    Py_ssize_t n;
    const char *utf8 = clean ? PyUnicode_AsUTF8AndSize(clean, &n) : NULL;
    if (utf8) {
        ssize_t ignored = write(STDERR_FILENO, utf8, (size_t)n);
        (void)ignored;
    } else {
        PyErr_Clear();
        fprintf(stderr, "[frostfork] worker %d: request %s failed in %s\n", (int)e->pid, rid,
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

int ff_fail_500(ff_env *e, const ff_req *r, ff_buf *out, const char *what)
{
    const char *rid = ff_request_id(e, r);
    log_exception(e, r, rid, what);
    char body[160];
    int n = snprintf(body, sizeof body,
                     "{\"detail\":\"Internal Server Error\",\"request_id\":\"%s\"}", rid);
    size_t mark = ff_buf_used(out);
    if (ff_response_begin(out, 500, NULL, 0, e->date) < 0 ||
        ff_buf_puts(out, "X-Request-Id: ") < 0 || ff_buf_puts(out, rid) < 0 ||
        ff_buf_append(out, "\r\n", 2) < 0 ||
        ff_response_finish_head(out, "application/json", (size_t)n, r->keep_alive, r->http10) < 0 ||
        (!r->head_only && ff_buf_append(out, body, (size_t)n) < 0)) {
        out->len = out->off + mark;
        return -1;
    }
    return 500;
}

