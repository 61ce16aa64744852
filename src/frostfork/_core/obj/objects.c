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

static PyType_Slot response_slots[] = {
    {Py_tp_new, response_new},
    {Py_tp_dealloc, response_dealloc},
    {Py_tp_traverse, response_traverse},
    {Py_tp_clear, response_clear},
    {Py_tp_repr, response_repr},
    {Py_tp_members, response_members},
    {Py_tp_doc, "Response(status=200, body=None, headers=None)\n\n"
                "bytes go out as application/octet-stream, str as text/plain, "
                "anything else is JSON-encoded in C."},
    {0, NULL},
};

PyType_Spec ff_response_spec = {
    .name = "frostfork.Response",
    .basicsize = sizeof(ff_Response),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = response_slots,
};

/* ---- building a Request ---- */

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
    q->headers = headers_dict(h);
    /* a spooled body stays in its file until request.body or stream() asks */
    q->spool = r->spool ? Py_NewRef(r->spool) : NULL;
    q->body = r->spool ? NULL : PyBytes_FromStringAndSize(r->body, (Py_ssize_t)r->body_len);
    q->path_params = Py_NewRef(path_params);
    q->client = Py_BuildValue("(si)", r->peer_host, r->peer_port);
    PyObject_GC_Track(q);
    if (!q->method || !q->path || !q->query_string || !q->headers || (!q->body && !q->spool) || !q->client) {
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
    Py_VISIT(self->headers);
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
    Py_CLEAR(self->headers);
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

static PyGetSetDef request_getset[] = {
    {"body", (getter)request_body, NULL,
     "the whole body as bytes (a spooled body is copied into memory: prefer stream())", NULL},
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
    {"headers", T_OBJECT, offsetof(ff_Request, headers), READONLY,
     "dict of lower-case header names to values"},
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
