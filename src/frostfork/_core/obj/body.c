/* obj/body.c — spooled request bodies and the readers over them (see
 * body.h). */
#include "obj/body.h"
#include "util/fault.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
    PyObject_HEAD
    int fd;            /* -1 once closed */
    char *path;        /* malloc'd; NULL once closed */
    Py_ssize_t size;
    PyObject *readers; /* list of the BufferedReaders made over it, NULL until the first */
} ff_Spool;

typedef struct {
    PyObject_HEAD
    ff_Spool *spool;   /* NULL only after a collector's tp_clear */
    Py_ssize_t start;  /* the range of the file this reader shows: a whole body, */
    Py_ssize_t size;   /* or one uploaded file inside a multipart body */
    Py_ssize_t pos;
    int closed;        /* this reader was closed (the spool may live on) */
} ff_SpoolRaw;

static const char GONE[] = "the request body is gone: its request has ended";

/* Reads up to n bytes at off, short only at the end of the file. The GIL is
 * kept: the worker closes the fd at the end of the request, and another
 * thread must not see that fd number reused in the middle of a read. */
static Py_ssize_t pread_full(int fd, char *buf, Py_ssize_t n, Py_ssize_t off)
{
    Py_ssize_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, (size_t)(n - got), (off_t)(off + got));
        if (r < 0) {
            if (errno == EINTR) {
                if (PyErr_CheckSignals() < 0)
                    return -1;
                continue;
            }
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        if (r == 0)
            break;
        got += r;
    }
    return got;
}

/* ---- Spool ---- */

/* Takes over the file the worker spooled a body into: from here on its
 * lifetime is this object's close(), which the worker registers as a
 * request finalizer. */
PyObject *ff_spool_new(ff_state *st, int fd, char *path, size_t size)
{
    if (size > (size_t)PY_SSIZE_T_MAX) {
        PyErr_SetString(PyExc_OverflowError, "request body too large");
        return NULL;
    }
    ff_Spool *s = PyObject_GC_New(ff_Spool, st->Spool_type);
    if (!s)
        return NULL;
    s->fd = fd;
    s->path = path;
    s->size = (Py_ssize_t)size;
    s->readers = NULL;
    PyObject_GC_Track(s);
    return (PyObject *)s;
}

int ff_spool_fd(PyObject *spool)
{
    return ((ff_Spool *)spool)->fd;
}

/* The file itself: closed and removed, once. */
static void release_file(ff_Spool *s)
{
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
    if (s->path) {
        unlink(s->path);
        ff_free(s->path); /* made by the worker's ff_strdup */
        s->path = NULL;
    }
}

/* Readers are detached first (their later use raises ValueError, even for
 * bytes they had buffered), then the file goes. Any exception pending in
 * the caller survives. */
void ff_spool_close(PyObject *spool)
{
    ff_Spool *s = (ff_Spool *)spool;
    PyObject *readers = s->readers;
    s->readers = NULL;
    if (readers) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(readers); i++) {
            PyObject *raw = PyObject_CallMethod(PyList_GET_ITEM(readers, i), "detach", NULL);
            if (!raw)
                PyErr_Clear(); /* detached already by the application */
            Py_XDECREF(raw);
        }
        PyErr_Restore(type, value, tb);
        Py_DECREF(readers);
    }
    release_file(s);
}

static PyObject *spool_close(ff_Spool *self, PyObject *unused)
{
    (void)unused;
    ff_spool_close((PyObject *)self);
    Py_RETURN_NONE;
}

static int spool_traverse(ff_Spool *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->readers);
    return 0;
}

static int spool_clear(ff_Spool *self)
{
    Py_CLEAR(self->readers);
    return 0;
}

static void spool_dealloc(ff_Spool *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    spool_clear(self);
    release_file(self); /* normally done by the request's finalizer already */
    PyObject_GC_Del(self);
    Py_DECREF(tp);
}

/* request.body of a spooled body: the one place the whole file is copied,
 * and only when the handler asks for it. */
PyObject *ff_spool_read_all(PyObject *spool)
{
    ff_Spool *s = (ff_Spool *)spool;
    if (s->fd < 0) {
        PyErr_SetString(PyExc_ValueError, GONE);
        return NULL;
    }
    PyObject *b = PyBytes_FromStringAndSize(NULL, s->size);
    if (!b)
        return NULL;
    Py_ssize_t got = pread_full(s->fd, PyBytes_AS_STRING(b), s->size, 0);
    if (got < 0 || (got < s->size && _PyBytes_Resize(&b, got) < 0)) {
        Py_XDECREF(b);
        return NULL;
    }
    return b;
}

static PyMethodDef spool_methods[] = {
    {"close", (PyCFunction)spool_close, METH_NOARGS,
     "close(): detach the readers, close and remove the file (idempotent)."},
    {NULL},
};

static PyType_Slot spool_slots[] = {
    {Py_tp_dealloc, spool_dealloc},
    {Py_tp_traverse, spool_traverse},
    {Py_tp_clear, spool_clear},
    {Py_tp_methods, spool_methods},
    {Py_tp_doc, "A spooled request body: its file lives until the request ends."},
    {0, NULL},
};

PyType_Spec ff_spool_spec = {
    .name = "frostfork._core.Spool",
    .basicsize = sizeof(ff_Spool),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = spool_slots,
};

/* ---- the raw reader under io.BufferedReader ----
 *
 * Duck-typed io.RawIOBase: BufferedReader supplies read(n), readline,
 * iteration and peek on top of readinto/read/readall/seek/tell. Each reader
 * keeps its own position and reads with pread, so two readers of one body do
 * not disturb each other. */

static int raw_check(ff_SpoolRaw *r)
{
    if (r->closed) {
        PyErr_SetString(PyExc_ValueError, "I/O operation on closed file.");
        return -1;
    }
    if (!r->spool || r->spool->fd < 0) {
        PyErr_SetString(PyExc_ValueError, GONE);
        return -1;
    }
    return 0;
}

static Py_ssize_t raw_left(ff_SpoolRaw *r)
{
    return r->pos < r->size ? r->size - r->pos : 0;
}

/* What BufferedReader calls for every refill and for large reads, straight
 * into the caller's buffer (for read(n) that is the result bytes): no
 * intermediate copy. Returns 0 at the end of the body. */
static PyObject *raw_readinto(ff_SpoolRaw *r, PyObject *arg)
{
    if (raw_check(r) < 0)
        return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_WRITABLE) < 0)
        return NULL;
    Py_ssize_t n = raw_left(r) < view.len ? raw_left(r) : view.len;
    Py_ssize_t got = n > 0 ? pread_full(r->spool->fd, view.buf, n, r->start + r->pos) : 0;
    PyBuffer_Release(&view);
    if (got < 0)
        return NULL;
    r->pos += got;
    return PyLong_FromSsize_t(got);
}

/* read(size=-1): None or a negative size reads to the end. */
static PyObject *raw_read(ff_SpoolRaw *r, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t size = -1;
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "read() takes at most one argument");
        return NULL;
    }
    if (nargs == 1 && args[0] != Py_None) {
        size = PyNumber_AsSsize_t(args[0], PyExc_OverflowError);
        if (size == -1 && PyErr_Occurred())
            return NULL;
    }
    if (raw_check(r) < 0)
        return NULL;
    Py_ssize_t n = size < 0 || size > raw_left(r) ? raw_left(r) : size;
    PyObject *b = PyBytes_FromStringAndSize(NULL, n);
    if (!b)
        return NULL;
    Py_ssize_t got = n > 0 ? pread_full(r->spool->fd, PyBytes_AS_STRING(b), n, r->start + r->pos) : 0;
    if (got < 0 || (got < n && _PyBytes_Resize(&b, got) < 0)) {
        Py_XDECREF(b);
        return NULL;
    }
    r->pos += got;
    return b;
}

static PyObject *raw_readall(ff_SpoolRaw *r, PyObject *unused)
{
    (void)unused;
    return raw_read(r, NULL, 0);
}

/* seek(offset, whence=0) as io defines it; a position past the end is
 * allowed and reads return b"" there. */
static PyObject *raw_seek(ff_SpoolRaw *r, PyObject *args)
{
    Py_ssize_t off;
    int whence = 0;
    if (!PyArg_ParseTuple(args, "n|i:seek", &off, &whence) || raw_check(r) < 0)
        return NULL;
    if (whence < 0 || whence > 2) {
        PyErr_Format(PyExc_ValueError, "invalid whence (%d, should be 0, 1 or 2)", whence);
        return NULL;
    }
    Py_ssize_t base = whence == 0 ? 0 : whence == 1 ? r->pos : r->size;
    if ((off > 0 && base > PY_SSIZE_T_MAX - off) || base + off < 0) {
        PyErr_SetString(PyExc_ValueError, "negative seek position");
        return NULL;
    }
    r->pos = base + off;
    return PyLong_FromSsize_t(r->pos);
}

static PyObject *raw_tell(ff_SpoolRaw *r, PyObject *unused)
{
    (void)unused;
    return raw_check(r) < 0 ? NULL : PyLong_FromSsize_t(r->pos);
}

static PyObject *raw_true(ff_SpoolRaw *r, PyObject *unused)
{
    (void)unused;
    if (raw_check(r) < 0)
        return NULL;
    Py_RETURN_TRUE;
}

static PyObject *raw_false(ff_SpoolRaw *r, PyObject *unused)
{
    (void)unused;
    if (raw_check(r) < 0)
        return NULL;
    Py_RETURN_FALSE;
}

/* A no-op, also when closed: BufferedReader.detach() flushes first. */
static PyObject *raw_flush(ff_SpoolRaw *r, PyObject *unused)
{
    (void)r;
    (void)unused;
    Py_RETURN_NONE;
}

static PyObject *raw_close(ff_SpoolRaw *r, PyObject *unused)
{
    (void)unused;
    r->closed = 1;
    Py_RETURN_NONE;
}

static PyObject *raw_closed(ff_SpoolRaw *r, void *closure)
{
    (void)closure;
    return PyBool_FromLong(r->closed || !r->spool || r->spool->fd < 0);
}

static int raw_traverse(ff_SpoolRaw *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->spool);
    return 0;
}

static int raw_clear(ff_SpoolRaw *self)
{
    Py_CLEAR(self->spool);
    return 0;
}

static void raw_dealloc(ff_SpoolRaw *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    raw_clear(self);
    PyObject_GC_Del(self);
    Py_DECREF(tp);
}

static PyMethodDef raw_methods[] = {
    {"readinto", (PyCFunction)raw_readinto, METH_O, NULL},
    {"read", (PyCFunction)(void (*)(void))raw_read, METH_FASTCALL, NULL},
    {"readall", (PyCFunction)raw_readall, METH_NOARGS, NULL},
    {"seek", (PyCFunction)raw_seek, METH_VARARGS, NULL},
    {"tell", (PyCFunction)raw_tell, METH_NOARGS, NULL},
    {"readable", (PyCFunction)raw_true, METH_NOARGS, NULL},
    {"seekable", (PyCFunction)raw_true, METH_NOARGS, NULL},
    {"writable", (PyCFunction)raw_false, METH_NOARGS, NULL},
    {"isatty", (PyCFunction)raw_false, METH_NOARGS, NULL},
    {"flush", (PyCFunction)raw_flush, METH_NOARGS, NULL},
    {"close", (PyCFunction)raw_close, METH_NOARGS, NULL},
    {NULL},
};

static PyGetSetDef raw_getset[] = {
    {"closed", (getter)raw_closed, NULL, NULL, NULL},
    {NULL},
};

static PyType_Slot raw_slots[] = {
    {Py_tp_dealloc, raw_dealloc},
    {Py_tp_traverse, raw_traverse},
    {Py_tp_clear, raw_clear},
    {Py_tp_methods, raw_methods},
    {Py_tp_getset, raw_getset},
    {Py_tp_doc, "Raw reader over a spooled request body (under an io.BufferedReader)."},
    {0, NULL},
};

PyType_Spec ff_spool_raw_spec = {
    .name = "frostfork._core.SpoolRaw",
    .basicsize = sizeof(ff_SpoolRaw),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = raw_slots,
};

/* A BufferedReader (64 KiB buffer) over a new raw reader of bytes
 * [start, start + size) of the file. The spool keeps it in its list so that
 * close() can detach it when the request ends. */
PyObject *ff_spool_range_reader(ff_state *st, PyObject *spool, Py_ssize_t start, Py_ssize_t size)
{
    ff_Spool *s = (ff_Spool *)spool;
    if (s->fd < 0) {
        PyErr_SetString(PyExc_ValueError, GONE);
        return NULL;
    }
    if (!s->readers && !(s->readers = PyList_New(0)))
        return NULL;
    ff_SpoolRaw *raw = PyObject_GC_New(ff_SpoolRaw, st->SpoolRaw_type);
    if (!raw)
        return NULL;
    raw->spool = (ff_Spool *)Py_NewRef(spool);
    raw->start = start;
    raw->size = size;
    raw->pos = 0;
    raw->closed = 0;
    PyObject_GC_Track(raw);
    PyObject *reader = PyObject_CallFunction(st->BufferedReader, "On", raw, (Py_ssize_t)65536);
    Py_DECREF(raw);
    if (!reader)
        return NULL;
    if (PyList_Append(s->readers, reader) < 0) {
        Py_DECREF(reader);
        return NULL;
    }
    return reader;
}

PyObject *ff_spool_reader(ff_state *st, PyObject *spool)
{
    return ff_spool_range_reader(st, spool, 0, ((ff_Spool *)spool)->size);
}
