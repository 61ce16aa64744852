/* obj/objects.c — Request (built in C for handlers that ask for it) and
 * Response (what a handler returns to choose status and headers). */
#include "obj/objects.h"
#include "life/finalize.h"
#include "obj/body.h"
#include "obj/request.h"

#include <ctype.h>

#include <structmember.h>

/* ---- Response ---- */

static PyObject *response_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"status", "body", "headers", NULL};
    int status = 200;
    PyObject *body = Py_None, *headers = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|iOO:Response", kwlist, &status, &body,
                                     &headers))
        return NULL;
    if (status < 100 || status > 999) {
        PyErr_Format(PyExc_ValueError, "status must be a 3-digit code, got %d", status);
        return NULL;
    }
    ff_Response *self = (ff_Response *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    self->status = status;
    self->body = Py_NewRef(body);
    self->headers = Py_NewRef(headers);
    return (PyObject *)self;
}

static int response_traverse(ff_Response *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->body);
    Py_VISIT(self->headers);
    return 0;
}

static int response_clear(ff_Response *self)
{
    Py_CLEAR(self->body);
    Py_CLEAR(self->headers);
    return 0;
}

static void response_dealloc(ff_Response *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    response_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *response_repr(ff_Response *self)
{
    return PyUnicode_FromFormat("Response(status=%d, body=%R)", self->status, self->body);
}

static PyMemberDef response_members[] = {
    {"status", T_INT, offsetof(ff_Response, status), READONLY, "HTTP status code"},
    {"body", T_OBJECT, offsetof(ff_Response, body), READONLY, "response body"},
    {"headers", T_OBJECT, offsetof(ff_Response, headers), READONLY, "extra headers"},
    {NULL},
};

/* _headers: the same field, writable, for frostfork.Response (a Python
 * subclass) to swap in its MutableHeaders. Never NULL: the writer reads it. */
static PyObject *response_get_headers(ff_Response *self, void *closure)
{
    (void)closure;
    return Py_NewRef(self->headers);
}

static int response_set_headers(ff_Response *self, PyObject *value, void *closure)
{
    (void)closure;
    if (!value) {
        PyErr_SetString(PyExc_AttributeError, "response headers cannot be deleted");
        return -1;
    }
    Py_SETREF(self->headers, Py_NewRef(value));
    return 0;
}

static PyGetSetDef response_getset[] = {
    {"_headers", (getter)response_get_headers, (setter)response_set_headers,
     "the headers as stored (None, a dict, pairs, or MutableHeaders)", NULL},
    {NULL},
};

static PyType_Slot response_slots[] = {
    {Py_tp_new, response_new},
    {Py_tp_dealloc, response_dealloc},
    {Py_tp_traverse, response_traverse},
    {Py_tp_clear, response_clear},
    {Py_tp_repr, response_repr},
    {Py_tp_members, response_members},
    {Py_tp_getset, response_getset},
    {Py_tp_doc, "Response(status=200, body=None, headers=None)\n\n"
                "bytes go out as application/octet-stream, str as text/plain, "
                "anything else is JSON-encoded in C."},
    {0, NULL},
};

PyType_Spec ff_response_spec = {
    .name = "frostfork.Response",
    .basicsize = sizeof(ff_Response),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
             Py_TPFLAGS_BASETYPE,
    .slots = response_slots,
};

/* ---- building a Request ---- */

/* The head's fields as a list of (lower-case name, value) pairs, repeats
 * kept: copied out of the connection's buffer, which the request outlives.
 * request.headers wraps it (frostfork.datastructures.Headers) on first use. */
static PyObject *header_pairs(const ff_http_request *h)
{
    PyObject *list = PyList_New((Py_ssize_t)h->num_headers);
    if (!list)
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
        PyObject *pair = v ? PyTuple_Pack(2, k, v) : NULL;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (!pair) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, pair);
    }
    return list;
}

PyObject *ff_request_new(ff_state *st, const ff_req *r, PyObject *path_params)
{
    const ff_http_request *h = r->http;
    ff_Request *q = PyObject_GC_New(ff_Request, st->Request_type);
    if (!q)
        return NULL;
    q->weakreflist = NULL;
    q->method = PyUnicode_DecodeLatin1(h->method, (Py_ssize_t)h->method_len, NULL);
    char *tmp = PyMem_Malloc(h->path_len + 1);
    long n = tmp ? ff_percent_decode(tmp, h->path, h->path_len) : -1;
    q->path = n < 0 ? PyUnicode_DecodeLatin1(h->path, (Py_ssize_t)h->path_len, NULL)
                    : PyUnicode_DecodeUTF8(tmp, n, "surrogateescape");
    PyMem_Free(tmp);
    q->query_string = PyUnicode_DecodeLatin1(h->query ? h->query : "", (Py_ssize_t)h->query_len,
                                             NULL);
    q->raw_headers = header_pairs(h);
    q->headers = q->query = q->cookies = q->url = q->state = NULL;
    /* a spooled body stays in its file until request.body or stream() asks */
    q->spool = r->spool ? Py_NewRef(r->spool) : NULL;
    q->body = r->spool ? NULL : PyBytes_FromStringAndSize(r->body, (Py_ssize_t)r->body_len);
    q->path_params = Py_NewRef(path_params);
    q->client = Py_BuildValue("(si)", r->peer_host, r->peer_port);
    PyObject_GC_Track(q);
    if (!q->method || !q->path || !q->query_string || !q->raw_headers || (!q->body && !q->spool) || !q->client) {
        Py_DECREF(q);
        return NULL;
    }
    return (PyObject *)q;
}

/* ---- Request ---- */

static int request_traverse(ff_Request *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->method);
    Py_VISIT(self->path);
    Py_VISIT(self->query_string);
    Py_VISIT(self->raw_headers);
    Py_VISIT(self->headers);
    Py_VISIT(self->query);
    Py_VISIT(self->cookies);
    Py_VISIT(self->url);
    Py_VISIT(self->state);
    Py_VISIT(self->body);
    Py_VISIT(self->spool);
    Py_VISIT(self->path_params);
    Py_VISIT(self->client);
    return 0;
}

static int request_clear(ff_Request *self)
{
    Py_CLEAR(self->method);
    Py_CLEAR(self->path);
    Py_CLEAR(self->query_string);
    Py_CLEAR(self->raw_headers);
    Py_CLEAR(self->headers);
    Py_CLEAR(self->query);
    Py_CLEAR(self->cookies);
    Py_CLEAR(self->url);
    Py_CLEAR(self->state);
    Py_CLEAR(self->body);
    Py_CLEAR(self->spool);
    Py_CLEAR(self->path_params);
    Py_CLEAR(self->client);
    return 0;
}

static void request_dealloc(ff_Request *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (self->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)self);
    request_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *request_repr(ff_Request *self)
{
    return PyUnicode_FromFormat("<Request %S %S>", self->method, self->path);
}

/* request.defer(fn, *args): run fn(*args) once this request's response is
 * written — also when the handler raised. */
static PyObject *request_defer(ff_Request *self, PyObject *args)
{
    if (PyTuple_GET_SIZE(args) < 1 || !PyCallable_Check(PyTuple_GET_ITEM(args, 0))) {
        PyErr_SetString(PyExc_TypeError, "defer(fn, *args) needs a callable");
        return NULL;
    }
    PyObject *rest = PyTuple_GetSlice(args, 1, PyTuple_GET_SIZE(args));
    if (!rest)
        return NULL;
    int rc = ff_defer(PyType_GetModuleState(Py_TYPE(self)), PyTuple_GET_ITEM(args, 0), rest);
    Py_DECREF(rest);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* request.body: the whole body as bytes. A spooled body is read from its
 * file on first use — a copy the size of the upload, which is why
 * request.stream() exists; once the request has ended an unread spooled
 * body is gone (ValueError). */
static PyObject *request_body(ff_Request *self, void *closure)
{
    (void)closure;
    if (!self->body) {
        if (!self->spool) {
            PyErr_SetString(PyExc_ValueError, "the request has no body");
            return NULL;
        }
        if (!(self->body = ff_spool_read_all(self->spool)))
            return NULL;
    }
    return Py_NewRef(self->body);
}

/* request.stream(): a new binary reader at the start of the body. Over a
 * spooled body it reads the spool file (io.BufferedReader, detached when
 * the request ends); over an in-memory body it is an io.BytesIO sharing
 * request.body's bytes. */
static PyObject *request_stream(ff_Request *self, PyObject *unused)
{
    (void)unused;
    ff_state *st = PyType_GetModuleState(Py_TYPE(self));
    if (self->spool && !self->body)
        return ff_spool_reader(st, self->spool);
    PyObject *body = request_body(self, NULL);
    PyObject *stream = body ? PyObject_CallOneArg(st->BytesIO, body) : NULL;
    Py_XDECREF(body);
    return stream;
}

/* headers, query, cookies and url are made by frostfork.datastructures on
 * first use and kept: a handler that never reads them pays nothing. */
static PyObject *request_lazy(ff_Request *self, PyObject **slot, const char *name)
{
    if (!*slot) {
        PyObject *make = ff_import_attr("frostfork.datastructures", "_request_attr");
        PyObject *v = make ? PyObject_CallFunction(make, "Os", (PyObject *)self, name) : NULL;
        Py_XDECREF(make);
        if (!v)
            return NULL;
        *slot = v;
    }
    return Py_NewRef(*slot);
}

static PyObject *request_headers(ff_Request *self, void *closure)
{
    (void)closure;
    return request_lazy(self, &self->headers, "headers");
}

static PyObject *request_query(ff_Request *self, void *closure)
{
    (void)closure;
    return request_lazy(self, &self->query, "query");
}

static PyObject *request_cookies(ff_Request *self, void *closure)
{
    (void)closure;
    return request_lazy(self, &self->cookies, "cookies");
}

static PyObject *request_url(ff_Request *self, void *closure)
{
    (void)closure;
    return request_lazy(self, &self->url, "url");
}

/* request.state: a types.SimpleNamespace of this request's own, made on
 * first use (middleware and handler share it). */
static PyObject *request_state(ff_Request *self, void *closure)
{
    (void)closure;
    if (!self->state) {
        PyObject *ns = ff_import_attr("types", "SimpleNamespace");
        self->state = ns ? PyObject_CallNoArgs(ns) : NULL;
        Py_XDECREF(ns);
        if (!self->state)
            return NULL;
    }
    return Py_NewRef(self->state);
}

static PyGetSetDef request_getset[] = {
    {"body", (getter)request_body, NULL,
     "the whole body as bytes (a spooled body is copied into memory: prefer stream())", NULL},
    {"headers", (getter)request_headers, NULL,
     "frostfork.datastructures.Headers: case-insensitive, multi-valued", NULL},
    {"query", (getter)request_query, NULL,
     "frostfork.datastructures.QueryParams: the decoded query, multi-valued", NULL},
    {"cookies", (getter)request_cookies, NULL, "dict of the Cookie header's name=value pairs",
     NULL},
    {"url", (getter)request_url, NULL, "the URL as a str with scheme/hostname/path/query parts",
     NULL},
    {"state", (getter)request_state, NULL, "a namespace for this request's own values", NULL},
    {NULL},
};

static PyMethodDef request_methods[] = {
    {"stream", (PyCFunction)request_stream, METH_NOARGS,
     "stream() -> a binary file-like reader over the body, at its start. A spooled body is "
     "read from its file; the reader raises ValueError once the request has ended."},
    {"defer", (PyCFunction)request_defer, METH_VARARGS,
     "defer(fn, *args): run fn(*args) when this request ends (also after an exception)."},
    {NULL},
};

static PyMemberDef request_members[] = {
    {"method", T_OBJECT, offsetof(ff_Request, method), READONLY, "request method"},
    {"path", T_OBJECT, offsetof(ff_Request, path), READONLY, "percent-decoded path"},
    {"query_string", T_OBJECT, offsetof(ff_Request, query_string), READONLY, "raw query"},
    {"raw_headers", T_OBJECT, offsetof(ff_Request, raw_headers), READONLY,
     "list of (lower-case name, value) pairs, in the order sent"},
    {"path_params", T_OBJECT, offsetof(ff_Request, path_params), READONLY, "path parameters"},
    {"client", T_OBJECT, offsetof(ff_Request, client), READONLY, "(host, port) of the peer"},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(ff_Request, weakreflist), READONLY},
    {NULL},
};

static PyType_Slot request_slots[] = {
    {Py_tp_dealloc, request_dealloc},
    {Py_tp_traverse, request_traverse},
    {Py_tp_clear, request_clear},
    {Py_tp_repr, request_repr},
    {Py_tp_members, request_members},
    {Py_tp_methods, request_methods},
    {Py_tp_getset, request_getset},
    {Py_tp_doc, "The request as a handler sees it when it asks for a `Request` parameter."},
    {0, NULL},
};

PyType_Spec ff_request_spec = {
    .name = "frostfork.Request",
    .basicsize = sizeof(ff_Request),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = request_slots,
};
