/* dispatch/wsgi.c — serving a PEP 3333 application.
 *
 * The environ is a copy of a per-worker template plus the request's own
 * keys. A list or tuple body is written whole with an exact Content-Length,
 * and so is any iterable that ends within STREAM_AFTER bytes. Past that the
 * body is streamed: the head goes out with what was collected, framed by the
 * app's Content-Length or else chunked, and the rest is left in ff_env.src,
 * so the worker asks for each item only when the client has taken the one
 * before, and memory stays bounded whatever the body's size. An app that
 * answers text/event-stream is streamed from its first item, so each event
 * is sent as it is yielded. A wsgi.file_wrapper over a real file is sent
 * with sendfile. */
#include "dispatch/dispatch.h"
#include "obj/headers.h"
#include "obj/body.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

/* ---- wsgi.file_wrapper ---- */

typedef struct {
    PyObject_HEAD
    PyObject *filelike;
    Py_ssize_t blksize;
} ff_FileWrapper;

static PyObject *fw_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"filelike", "blksize", NULL};
    PyObject *f;
    Py_ssize_t blk = 8192;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|n:file_wrapper", kwlist, &f, &blk))
        return NULL;
    ff_FileWrapper *w = (ff_FileWrapper *)type->tp_alloc(type, 0);
    if (!w)
        return NULL;
    w->filelike = Py_NewRef(f);
    w->blksize = blk > 0 ? blk : 8192;
    return (PyObject *)w;
}

/* Iterated only when the file has no usable descriptor: blksize reads. */
static PyObject *fw_next(ff_FileWrapper *w)
{
    PyObject *data = PyObject_CallMethod(w->filelike, "read", "n", w->blksize);
    if (data && PyBytes_Check(data) && PyBytes_GET_SIZE(data) == 0) {
        Py_DECREF(data);
        return NULL; /* StopIteration */
    }
    return data;
}

static PyObject *fw_close(ff_FileWrapper *w, PyObject *unused)
{
    (void)unused;
    PyObject *close = PyObject_GetAttrString(w->filelike, "close");
    if (!close) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    PyObject *r = PyObject_CallNoArgs(close);
    Py_DECREF(close);
    return r;
}

static int fw_traverse(ff_FileWrapper *w, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(w));
    Py_VISIT(w->filelike);
    return 0;
}

static int fw_clear(ff_FileWrapper *w)
{
    Py_CLEAR(w->filelike);
    return 0;
}

static void fw_dealloc(ff_FileWrapper *w)
{
    PyTypeObject *tp = Py_TYPE(w);
    PyObject_GC_UnTrack(w);
    fw_clear(w);
    tp->tp_free(w);
    Py_DECREF(tp);
}

static PyMethodDef fw_methods[] = {
    {"close", (PyCFunction)fw_close, METH_NOARGS, "close the file-like object"},
    {NULL},
};

static PyType_Slot fw_slots[] = {
    {Py_tp_new, fw_new},
    {Py_tp_dealloc, fw_dealloc},
    {Py_tp_traverse, fw_traverse},
    {Py_tp_clear, fw_clear},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, fw_next},
    {Py_tp_methods, fw_methods},
    {Py_tp_doc, "wsgi.file_wrapper(filelike, blksize=8192): a file sent with sendfile when it "
                "has a file descriptor, else read in blksize blocks."},
    {0, NULL},
};

PyType_Spec ff_file_wrapper_spec = {
    .name = "frostfork._core.FileWrapper",
    .basicsize = sizeof(ff_FileWrapper),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = fw_slots,
};

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
        "{s:(ii),s:s,s:O,s:O,s:O,s:O,s:O,s:s,s:s,s:s,s:O}", "wsgi.version", 1, 0,
        "wsgi.url_scheme", "http", "wsgi.errors", errors ? errors : Py_None, "wsgi.multithread",
        Py_False, "wsgi.multiprocess", Py_True, "wsgi.run_once", Py_False,
        "wsgi.input_terminated", Py_True, "SCRIPT_NAME", "", "SERVER_NAME", server_name,
        "SERVER_PORT", port, "wsgi.file_wrapper", (PyObject *)e->st->FileWrapper_type);
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
        set_str(e, env, "REMOTE_PORT", num, strlen(num), 0) < 0 ||
        (r->scheme && set_str(e, env, "wsgi.url_scheme", r->scheme, strlen(r->scheme), 1) < 0))
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

/* The status line and the app's headers; *seen gets its Content-Length. */
static int begin_head(ff_env *e, ff_StartResponse *sr, ff_buf *out, int *code,
                      ff_headers_seen *seen)
{
    Py_ssize_t slen;
    const char *status = PyUnicode_AsUTF8AndSize(sr->status, &slen);
    if (!status)
        return -1;
    *code = (status[0] - '0') * 100 + (status[1] - '0') * 10 + (status[2] - '0');
    if (ff_response_begin(out, *code, status + 4, (size_t)slen - 4, e->date) < 0 ||
        ff_put_headers(out, sr->headers, seen) < 0) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* A file_wrapper whose file has a descriptor on a regular file: the rest of
 * the file from its current position goes by sendfile, from a duplicate of
 * the descriptor so the app's close() (called now, as the iterable is done
 * with) does not cut it off. Returns 1 when set up in *src (*len its size),
 * 0 when the file must be iterated instead, -1 on error. */
static int wrapped_file(PyObject *result, ff_body_src *src, uint64_t *len)
{
    ff_FileWrapper *w = (ff_FileWrapper *)result;
    PyObject *fileno = PyObject_CallMethod(w->filelike, "fileno", NULL);
    PyObject *pos = fileno ? PyObject_CallMethod(w->filelike, "tell", NULL) : NULL;
    int fd = fileno ? PyLong_AsLong(fileno) : -1;
    long long at = pos ? PyLong_AsLongLong(pos) : -1;
    Py_XDECREF(fileno);
    Py_XDECREF(pos);
    struct stat sb;
    if (fd < 0 || at < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        PyErr_Clear(); /* no descriptor (BytesIO), or not a file: iterate it */
        return 0;
    }
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (dup_fd < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    *src = (ff_body_src){.kind = FF_BODY_FILE, .fd = dup_fd, .off = (uint64_t)at,
                         .left = sb.st_size > at ? (uint64_t)(sb.st_size - at) : 0};
    *len = src->left;
    return 1;
}

#define STREAM_AFTER (64 * 1024)

/* Whether the app's headers say text/event-stream. */
static int event_stream(PyObject *headers)
{
    for (Py_ssize_t i = 0; headers && PyList_Check(headers) && i < PyList_GET_SIZE(headers); i++) {
        PyObject *h = PyList_GET_ITEM(headers, i);
        if (!PyTuple_Check(h) || PyTuple_GET_SIZE(h) != 2)
            continue;
        const char *k = PyUnicode_Check(PyTuple_GET_ITEM(h, 0)) ? PyUnicode_AsUTF8(PyTuple_GET_ITEM(h, 0)) : NULL;
        const char *v = PyUnicode_Check(PyTuple_GET_ITEM(h, 1)) ? PyUnicode_AsUTF8(PyTuple_GET_ITEM(h, 1)) : NULL;
        if (!k || !v) {
            PyErr_Clear();
            continue;
        }
        if (strcasecmp(k, "content-type") == 0 && strncasecmp(v, "text/event-stream", 17) == 0)
            return 1;
    }
    return 0;
}

/* Collects non-empty items into buf until it passes STREAM_AFTER bytes
 * (returns 1: stream the rest), the iterable ends (0: answer whole) or the
 * app says text/event-stream after its first item (1). -1 on error. */
static int collect_some(PyObject *it, ff_StartResponse *sr, ff_buf *buf)
{
    PyObject *item;
    while (buf->len < STREAM_AFTER && (item = PyIter_Next(it))) {
        if (!PyBytes_Check(item)) {
            PyErr_Format(PyExc_TypeError, "WSGI body items must be bytes, not %.100s",
                         Py_TYPE(item)->tp_name);
            Py_DECREF(item);
            return -1;
        }
        int rc = ff_buf_append(buf, PyBytes_AS_STRING(item), (size_t)PyBytes_GET_SIZE(item));
        Py_DECREF(item);
        if (rc < 0) {
            PyErr_NoMemory();
            return -1;
        }
        if (buf->len && event_stream(sr->headers))
            return 1;
    }
    if (PyErr_Occurred())
        return -1;
    return buf->len >= STREAM_AFTER;
}

int ff_wsgi_dispatch(ff_env *e, const ff_req *r, ff_buf *out)
{
    int code;
    ff_StartResponse *sr = NULL;
    PyObject *result = NULL, *it = NULL;
    int closed = 0;
    size_t mark = ff_buf_used(out);
    ff_headers_seen seen = {.content_length = -1};
    ff_body_src src = {.fd = -1};
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
    int whole = PyList_CheckExact(result) || PyTuple_CheckExact(result);
    uint64_t file_len = 0;
    if (!whole && Py_IS_TYPE(result, e->st->FileWrapper_type)) {
        int w = wrapped_file(result, &src, &file_len);
        if (w < 0)
            goto fail;
        if (w > 0) {
            closed = 1;
            if (call_close(e, result) < 0 || !sr->status) {
                if (!sr->status && !PyErr_Occurred())
                    PyErr_SetString(PyExc_RuntimeError,
                                    "WSGI application did not call start_response");
                goto fail;
            }
            if (begin_head(e, sr, out, &code, &seen) < 0)
                goto unwrite;
            uint64_t len = seen.content_length >= 0 && (uint64_t)seen.content_length < file_len
                               ? (uint64_t)seen.content_length
                               : file_len;
            src.left = len;
            int no_body = code == 204 || code == 304 || code < 200;
            if (ff_response_finish_head(out, NULL, no_body ? (size_t)-1 : (size_t)len,
                                        r->keep_alive, r->http10) < 0 ||
                ff_buf_append(out, body->data, body->len) < 0) /* write() before: none, really */
                goto unwrite;
            if (r->head_only || no_body || len == 0)
                ff_body_src_clear(&src);
            else
                e->src = src;
            src.kind = FF_BODY_NONE;
            goto done;
        }
    }
    int stream = 0;
    if (!whole) {
        if (!(it = PyObject_GetIter(result)) || (stream = collect_some(it, sr, body)) < 0)
            goto fail;
    }
    if (!stream) {
        /* a list or tuple, or an iterable that ended early: the whole body now */
        if (whole && collect_body(result, body) < 0)
            goto fail;
        closed = 1;
        if (call_close(e, result) < 0)
            goto fail;
        if (!sr->status) {
            PyErr_SetString(PyExc_RuntimeError, "WSGI application did not call start_response");
            goto fail;
        }
        if (begin_head(e, sr, out, &code, &seen) < 0)
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
    }
    /* streamed: the head with the first item, the rest as the client drains */
    if (!sr->status) {
        PyErr_SetString(PyExc_RuntimeError, "WSGI application did not call start_response");
        goto fail;
    }
    if (begin_head(e, sr, out, &code, &seen) < 0)
        goto unwrite;
    int no_body = code == 204 || code == 304 || code < 200 || r->head_only;
    int sized = seen.content_length >= 0;
    int chunked = !sized && !r->http10;
    if ((chunked && !no_body && ff_buf_puts(out, "Transfer-Encoding: chunked\r\n") < 0) ||
        ff_response_finish_head(out, NULL, sized ? (size_t)seen.content_length : (size_t)-1,
                                r->keep_alive && (sized || chunked), r->http10) < 0)
        goto unwrite;
    src = (ff_body_src){.kind = FF_BODY_ITER, .fd = -1, .chunked = chunked, .sized = sized,
                        .left = sized ? (uint64_t)seen.content_length : 0};
    if (!no_body && ff_body_src_put(&src, out, body->data,
                                    !sized || body->len < src.left ? body->len
                                                                   : (size_t)src.left) < 0)
        goto unwrite;
    closed = 1; /* from here the source owns close() */
    src.iter = Py_NewRef(it);
    src.close = PyObject_GetAttr(result, e->st->str_close);
    if (!src.close)
        PyErr_Clear();
    if (no_body || (sized && src.left == 0)) {
        if (!no_body && src.chunked && ff_buf_puts(out, "0\r\n\r\n") < 0) {
            ff_body_src_clear(&src);
            goto unwrite;
        }
        ff_body_src_clear(&src); /* PEP 3333: close() once the body is done with */
    } else {
        e->src = src;
        e->src_close = !sized && !chunked;
    }
    goto done;
unwrite: /* drop the half-written response; a 500 takes its place */
    out->len = out->off + mark;
    if (!PyErr_Occurred())
        PyErr_NoMemory();
fail:
    ff_body_src_clear(&src);
    if (result && !closed) {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        if (call_close(e, result) < 0)
            PyErr_Clear();
        PyErr_Restore(t, v, tb);
    }
    code = ff_fail_500(e, r, out, "WSGI application");
done:
    Py_XDECREF(it);
    Py_XDECREF(result);
    Py_XDECREF((PyObject *)sr);
    Py_XDECREF(env);
    return code;
}
