/* dispatch/wsgi.c — serving a PEP 3333 application.
 *
 * The environ is a copy of a per-worker template plus the request's own
 * keys. The whole response is collected before it is written, which lets
 * every response carry an exact Content-Length and keeps the connection
 * reusable. */
#include "dispatch/dispatch.h"
#include "obj/headers.h"
#include "obj/body.h"

#include <ctype.h>
#include <stdio.h>

typedef struct {
    PyObject_HEAD
    PyObject *status;  /* str, e.g. "200 OK" */
    PyObject *headers; /* list of (str, str) */
    ff_buf written;    /* bytes passed to write() */
} ff_StartResponse;

static int sr_traverse(ff_StartResponse *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->status);
    Py_VISIT(self->headers);
    return 0;
}

static int sr_clear(ff_StartResponse *self)
{
    Py_CLEAR(self->status);
    Py_CLEAR(self->headers);
    return 0;
}

static void sr_dealloc(ff_StartResponse *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    sr_clear(self);
    ff_buf_free(&self->written);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *sr_write(ff_StartResponse *self, PyObject *data)
{
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    int rc = ff_buf_append(&self->written, view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    if (rc < 0)
        return PyErr_NoMemory();
    Py_RETURN_NONE;
}

/* start_response(status, response_headers, exc_info=None) -> write */
static PyObject *sr_call(ff_StartResponse *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"status", "headers", "exc_info", NULL};
    PyObject *status, *headers, *exc_info = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "UO!|O:start_response", kwlist, &status,
                                     &PyList_Type, &headers, &exc_info))
        return NULL;
    if (self->status && exc_info == Py_None) {
        PyErr_SetString(PyExc_AssertionError,
                        "start_response called a second time without exc_info");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(status);
    if (n < 4 || PyUnicode_READ_CHAR(status, 3) != ' ') {
        PyErr_Format(PyExc_ValueError, "WSGI status must look like '200 OK', got %R", status);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 ch = PyUnicode_READ_CHAR(status, i);
        if ((i < 3 && (ch < '0' || ch > '9')) || (i == 0 && ch == '0') || ch < 0x20 ||
            ch == 0x7f || ch > 0xff) {
            PyErr_Format(PyExc_ValueError,
                         "WSGI status must be a code from 100 to 999, a space and a printable "
                         "reason, got %R",
                         status);
            return NULL;
        }
    }
    Py_XSETREF(self->status, Py_NewRef(status));
    Py_XSETREF(self->headers, Py_NewRef(headers));
    static PyMethodDef write_def = {"write", (PyCFunction)(void (*)(void))sr_write, METH_O,
                                    "the legacy WSGI write() callable"};
    return PyCFunction_New(&write_def, (PyObject *)self);
}

static PyMethodDef sr_methods[] = {
    {"write", (PyCFunction)sr_write, METH_O, "the legacy WSGI write() callable"},
    {NULL},
};

static PyType_Slot sr_slots[] = {
    {Py_tp_call, sr_call},
    {Py_tp_dealloc, sr_dealloc},
    {Py_tp_traverse, sr_traverse},
    {Py_tp_clear, sr_clear},
    {Py_tp_methods, sr_methods},
    {0, NULL},
};

PyType_Spec ff_start_response_spec = {
    .name = "frostfork.StartResponse",
    .basicsize = sizeof(ff_StartResponse),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = sr_slots,
};

/* The keys every environ of this env shares. */
int ff_wsgi_env_init(ff_env *e, const char *server_name, int server_port)
{
    PyObject *errors = PySys_GetObject("stderr"); /* borrowed */
    char port[16];
    snprintf(port, sizeof port, "%d", server_port);
    e->environ_base = Py_BuildValue(
        "{s:(ii),s:s,s:O,s:O,s:O,s:O,s:O,s:s,s:s,s:s}", "wsgi.version", 1, 0, "wsgi.url_scheme",
        "http", "wsgi.errors", errors ? errors : Py_None, "wsgi.multithread", Py_False,
        "wsgi.multiprocess", Py_True, "wsgi.run_once", Py_False, "wsgi.input_terminated",
        Py_True, "SCRIPT_NAME", "", "SERVER_NAME", server_name, "SERVER_PORT", port);
    return e->environ_base ? 0 : -1;
}

/* env[key] = value; both through the worker's string cache when `cache_value`
 * says the value is one of a few (methods, protocol, peer address). */
static int set_str(ff_env *e, PyObject *env, const char *key, const char *val, size_t len,
                   int cache_value)
{
    PyObject *k = ff_strcache_get(&e->strings, key, strlen(key));
    PyObject *v = !k ? NULL
                  : cache_value ? ff_strcache_get(&e->strings, val, len)
                                : PyUnicode_DecodeLatin1(val, (Py_ssize_t)len, NULL);
    int rc = v ? PyDict_SetItem(env, k, v) : -1;
    Py_XDECREF(k);
    Py_XDECREF(v);
    return rc;
}

/* Adds one request header as HTTP_NAME (or CONTENT_TYPE). Names with '_'
 * are dropped: after the dash-to-underscore mapping they could impersonate
 * another header. Repeats are joined with ','. Content-Length is left to
 * build_environ, which gives the length the parser settled on ("5, 5" is 5).
 * A name too long for the stack buffer is built on the heap: none is dropped. */
static int add_header(ff_env *e, PyObject *env, const ff_http_header *h)
{
    char stack[300], *key = stack;
    if (memchr(h->name, '_', h->name_len))
        return 0;
    if (h->name_len == 14 && strncasecmp(h->name, "content-length", 14) == 0)
        return 0;
    if (h->name_len + 5 > sizeof stack && !(key = PyMem_Malloc(h->name_len + 5))) {
        PyErr_NoMemory();
        return -1;
    }
    size_t k = 0;
    int plain = h->name_len == 12 && strncasecmp(h->name, "content-type", 12) == 0;
    if (!plain) {
        memcpy(key, "HTTP_", 5);
        k = 5;
    }
    for (size_t i = 0; i < h->name_len; i++)
        key[k++] = h->name[i] == '-' ? '_' : (char)toupper((unsigned char)h->name[i]);
    PyObject *kobj = ff_strcache_get(&e->strings, key, k);
    if (key != stack)
        PyMem_Free(key);
    PyObject *v = kobj ? PyUnicode_DecodeLatin1(h->value, (Py_ssize_t)h->value_len, NULL) : NULL;
    PyObject *prev = v ? PyDict_GetItemWithError(env, kobj) : NULL;
    if (prev && !plain)
        Py_SETREF(v, PyUnicode_FromFormat("%U,%U", prev, v));
    int rc = v && !PyErr_Occurred() ? PyDict_SetItem(env, kobj, v) : -1;
    Py_XDECREF(kobj);
    Py_XDECREF(v);
    return rc;
}

/* SERVER_NAME and SERVER_PORT of an absolute-form request: its target
 * names the server (RFC 9112 3.2.2), as HTTP_HOST does. The port is the
 * authority's, else the scheme's default; an IP literal keeps its brackets. */
static int set_target_server(ff_env *e, PyObject *env, const ff_http_request *h)
{
    const char *a = h->authority, *colon = NULL;
    size_t n = h->authority_len, name_len = n;
    for (size_t i = n; i > 0; i--) {
        if (a[i - 1] == ']')
            break;
        if (a[i - 1] == ':') {
            colon = a + i - 1;
            break;
        }
    }
    const char *port = (size_t)(a - h->target) == 8 ? "443" : "80"; /* "https://" : "http://" */
    size_t port_len = strlen(port);
    if (colon) {
        name_len = (size_t)(colon - a);
        if (colon + 1 < a + n) {
            port = colon + 1;
            port_len = (size_t)(a + n - port);
        }
    }
    return set_str(e, env, "SERVER_NAME", a, name_len, 0) < 0 ||
                   set_str(e, env, "SERVER_PORT", port, port_len, 0) < 0
               ? -1
               : 0;
}

static PyObject *build_environ(ff_env *e, const ff_req *r)
{
    const ff_http_request *h = r->http;
    PyObject *env = PyDict_Copy(e->environ_base);
    if (!env)
        return NULL;
    char *path = PyMem_Malloc(h->path_len + 1);
    if (!path)
        goto fail;
    long plen = ff_percent_decode(path, h->path, h->path_len);
    int rc = plen < 0 ? set_str(e, env, "PATH_INFO", h->path, h->path_len, 0)
                      : set_str(e, env, "PATH_INFO", path, (size_t)plen, 0);
    PyMem_Free(path);
    char num[24];
    ff_fmt_u64(num, (unsigned)r->peer_port);
    if (rc < 0 || set_str(e, env, "REQUEST_METHOD", h->method, h->method_len, 1) < 0 ||
        set_str(e, env, "QUERY_STRING", h->query ? h->query : "", h->query_len, 0) < 0 ||
        set_str(e, env, "SERVER_PROTOCOL", r->http10 ? "HTTP/1.0" : "HTTP/1.1", 8, 1) < 0 ||
        set_str(e, env, "REMOTE_ADDR", r->peer_host, strlen(r->peer_host), 1) < 0 ||
        set_str(e, env, "REMOTE_PORT", num, strlen(num), 0) < 0)
        goto fail;
    for (size_t i = 0; i < h->num_headers; i++)
        if (add_header(e, env, &h->headers[i]) < 0)
            goto fail;
    if ((h->flags & FF_HTTP_F_CHUNKED) || h->content_length >= 0) {
        /* the decoded length of a chunked body, else the declared one */
        ff_fmt_u64(num, (h->flags & FF_HTTP_F_CHUNKED) ? (uint64_t)r->body_len
                                                        : (uint64_t)h->content_length);
        if (set_str(e, env, "CONTENT_LENGTH", num, strlen(num), 0) < 0)
            goto fail;
    }
    if ((h->flags & FF_HTTP_F_ABSOLUTE_FORM) && set_target_server(e, env, h) < 0)
        goto fail;
    /* a spooled body is read from its file, a small one from a bytes copy */
    PyObject *input = NULL;
    if (r->spool) {
        input = ff_spool_reader(e->st, r->spool);
    } else {
        PyObject *body = PyBytes_FromStringAndSize(r->body, (Py_ssize_t)r->body_len);
        input = body ? PyObject_CallOneArg(e->st->BytesIO, body) : NULL;
        Py_XDECREF(body);
    }
    if (!input || PyDict_SetItemString(env, "wsgi.input", input) < 0) {
        Py_XDECREF(input);
        goto fail;
    }
    Py_DECREF(input);
    return env;
fail:
    Py_DECREF(env);
    return NULL;
}

/* Drains the application's iterable into buf. Lists and tuples of bytes,
 * the common case, are read without the iterator protocol. */
static int collect_body(PyObject *result, ff_buf *buf)
{
    if (PyList_CheckExact(result) || PyTuple_CheckExact(result)) {
        PyObject *seq = result;
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
            PyObject *chunk = PySequence_Fast_GET_ITEM(seq, i);
            if (!PyBytes_Check(chunk)) {
                PyErr_Format(PyExc_TypeError, "WSGI body items must be bytes, not %.100s",
                             Py_TYPE(chunk)->tp_name);
                return -1;
            }
            if (ff_buf_append(buf, PyBytes_AS_STRING(chunk), (size_t)PyBytes_GET_SIZE(chunk)) < 0) {
                PyErr_NoMemory();
                return -1;
            }
        }
        return 0;
    }
    PyObject *it = PyObject_GetIter(result);
    if (!it)
        return -1;
    PyObject *chunk;
    while ((chunk = PyIter_Next(it))) {
        int ok = PyBytes_Check(chunk);
        if (!ok)
            PyErr_Format(PyExc_TypeError, "WSGI body items must be bytes, not %.100s",
                         Py_TYPE(chunk)->tp_name);
        else if (ff_buf_append(buf, PyBytes_AS_STRING(chunk), (size_t)PyBytes_GET_SIZE(chunk)) < 0) {
            ok = 0;
            PyErr_NoMemory();
        }
        Py_DECREF(chunk);
        if (!ok) {
            Py_DECREF(it);
            return -1;
        }
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

static int call_close(ff_env *e, PyObject *result)
{
    if (PyList_CheckExact(result) || PyTuple_CheckExact(result))
        return 0;
    PyObject *close = PyObject_GetAttr(result, e->st->str_close);
    if (!close) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError))
            return -1;
        PyErr_Clear();
        return 0;
    }
    PyObject *r = PyObject_CallNoArgs(close);
    Py_DECREF(close);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

int ff_wsgi_dispatch(ff_env *e, const ff_req *r, ff_buf *out)
{
    int code;
    ff_StartResponse *sr = NULL;
    PyObject *result = NULL;
    int closed = 0;
    PyObject *env = build_environ(e, r);
    if (!env)
        goto fail;
    sr = PyObject_GC_New(ff_StartResponse, e->st->StartResponse_type);
    if (!sr)
        goto fail;
    sr->status = sr->headers = NULL;
    memset(&sr->written, 0, sizeof sr->written);
    PyObject_GC_Track(sr);
    PyObject *args[2] = {env, (PyObject *)sr};
    result = PyObject_Vectorcall(e->wsgi_app, args, 2, NULL);
    if (!result)
        goto fail;
    ff_buf *body = &sr->written;
    int ok = collect_body(result, body) == 0;
    if (!ok) { /* close() still runs when iteration failed (PEP 3333) */
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        if (call_close(e, result) < 0)
            PyErr_Clear();
        PyErr_Restore(t, v, tb);
        closed = 1;
        goto fail;
    }
    closed = 1;
    if (call_close(e, result) < 0)
        goto fail;
    if (!sr->status) {
        PyErr_SetString(PyExc_RuntimeError, "WSGI application did not call start_response");
        goto fail;
    }
    Py_ssize_t slen;
    const char *status = PyUnicode_AsUTF8AndSize(sr->status, &slen);
    if (!status)
        goto fail;
    code = (status[0] - '0') * 100 + (status[1] - '0') * 10 + (status[2] - '0');
    size_t mark = ff_buf_used(out);
    ff_headers_seen seen = {0, -1};
    if (ff_response_begin(out, code, status + 4, (size_t)slen - 4, e->date) < 0 ||
        ff_put_headers(out, sr->headers, &seen) < 0)
        goto unwrite;
    int no_body = code == 204 || code == 304 || code < 200;
    size_t len = body->len;
    if (r->head_only && seen.content_length >= 0 && len == 0)
        len = (size_t)seen.content_length;
    if (ff_response_finish_head(out, NULL, no_body ? (size_t)-1 : len, r->keep_alive,
                                r->http10) < 0 ||
        (!r->head_only && !no_body && ff_buf_append(out, body->data, body->len) < 0))
        goto unwrite;
    goto done;
unwrite: /* drop the half-written response; a 500 takes its place */
    out->len = out->off + mark;
    if (!PyErr_Occurred())
        PyErr_NoMemory();
fail:
    if (result && !closed) {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        if (call_close(e, result) < 0)
            PyErr_Clear();
        PyErr_Restore(t, v, tb);
    }
    code = ff_fail_500(e, r, out, "WSGI application");
done:
    Py_XDECREF(result);
    Py_XDECREF((PyObject *)sr);
    Py_XDECREF(env);
    return code;
}
