/* server/objects.c — Request (built in C for handlers that ask for it) and
 * Response (what a handler returns to choose status and headers). */
#include "server/objects.h"
#include "life/finalize.h"
#include "server/body.h"

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
