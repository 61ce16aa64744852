/* dispatch/send.c — response bodies from files and iterators (see send.h). */
#include "dispatch/send.h"

#include <errno.h>
#include <unistd.h>

static void apump_release(struct ff_Apump *p);

void ff_body_src_clear(ff_body_src *s)
{
    if (s->kind == FF_BODY_AITER && s->pump) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        apump_release(s->pump);
        PyErr_Restore(type, value, tb);
        s->pump = NULL;
    }
    if (s->kind == FF_BODY_FILE && s->fd >= 0)
        close(s->fd);
    if (s->kind == FF_BODY_ITER) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        if (s->close) {
            PyObject *r = PyObject_CallNoArgs(s->close);
            if (!r)
                PyErr_WriteUnraisable(s->close);
            Py_XDECREF(r);
        }
        PyErr_Restore(type, value, tb);
        Py_CLEAR(s->close);
        Py_CLEAR(s->iter);
    }
    ff_gzip_stream_free(s->gz);
    s->gz = NULL;
    s->kind = FF_BODY_NONE;
    s->fd = -1;
    s->left = 0;
}

/* A gzipped piece as one chunk: the compressed bytes go after a chunk-size
 * of 8 hex digits (leading zeros are allowed, RFC 9112 7.1), filled in once
 * their length is known. Nothing is written when the compressor held all
 * of it back. */
static int put_gzipped(ff_body_src *s, ff_buf *out, const void *p, size_t n, int finish)
{
    size_t mark = out->len;
    if (ff_buf_append(out, "00000000\r\n", 10) < 0)
        return -1;
    size_t at = out->len;
    if (ff_gzip_stream_put(s->gz, out, p, n, finish) < 0) {
        out->len = mark;
        return -1;
    }
    size_t z = out->len - at;
    if (z == 0) {
        out->len = mark;
        return 0;
    }
    static const char digits[] = "0123456789abcdef";
    for (int k = 7; k >= 0; k--, z >>= 4)
        out->data[mark + (size_t)k] = digits[z & 15];
    if (ff_buf_append(out, "\r\n", 2) < 0) {
        out->len = mark;
        return -1;
    }
    return 0;
}

/* "<hex size>\r\n" before a chunk. */
static int chunk_head(ff_buf *out, size_t n)
{
    char hex[20];
    int k = 0;
    static const char digits[] = "0123456789abcdef";
    do
        hex[k++] = digits[n & 15];
    while ((n >>= 4));
    if (ff_buf_reserve(out, (size_t)k + 2) < 0)
        return -1;
    while (k)
        out->data[out->len++] = hex[--k];
    out->data[out->len++] = '\r';
    out->data[out->len++] = '\n';
    return 0;
}

int ff_body_src_put(ff_body_src *s, ff_buf *out, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (s->gz)
        return put_gzipped(s, out, p, n, 0);
    if ((s->chunked && chunk_head(out, n) < 0) || ff_buf_append(out, p, n) < 0 ||
        (s->chunked && ff_buf_append(out, "\r\n", 2) < 0))
        return -1;
    if (s->sized)
        s->left -= n < s->left ? n : s->left;
    return 0;
}

/* One item per call: the caller flushes it before asking again, which is
 * what makes a slow client pause the iterator and an SSE event go out as
 * soon as it is yielded. Empty items are skipped (an empty chunk would end
 * a chunked body). */
int ff_body_src_pump(ff_body_src *s, ff_buf *out)
{
    for (;;) {
        PyObject *item = PyIter_Next(s->iter);
        if (!item) {
            if (PyErr_Occurred()) {
                PyObject *type, *value, *tb;
                PyErr_Fetch(&type, &value, &tb);
                ff_body_src_clear(s);
                PyErr_Restore(type, value, tb);
                return -1;
            }
            if (s->sized && s->left > 0) {
                ff_body_src_clear(s);
                PyErr_SetString(PyExc_RuntimeError, "the response body ended before the "
                                                    "Content-Length it declared");
                return -1;
            }
            int rc = s->gz ? put_gzipped(s, out, "", 0, 1) : 0; /* the gzip trailer */
            if (rc == 0 && s->chunked)
                rc = ff_buf_append(out, "0\r\n\r\n", 5);
            ff_body_src_clear(s);
            return rc < 0 ? -1 : 0;
        }
        Py_buffer view;
        int got;
        if (PyUnicode_Check(item)) { /* text items are UTF-8 (SSE, CSV) */
            Py_ssize_t n;
            const char *u = PyUnicode_AsUTF8AndSize(item, &n);
            got = u ? PyBuffer_FillInfo(&view, item, (void *)u, n, 1, PyBUF_SIMPLE) : -1;
        } else {
            got = PyObject_GetBuffer(item, &view, PyBUF_SIMPLE);
        }
        if (got < 0) {
            Py_DECREF(item);
            PyObject *type, *value, *tb;
            PyErr_Fetch(&type, &value, &tb);
            ff_body_src_clear(s);
            PyErr_Restore(type, value, tb);
            return -1;
        }
        size_t n = (size_t)view.len;
        if (s->sized && n > s->left)
            n = (size_t)s->left; /* never more than the Content-Length sent */
        int rc = ff_body_src_put(s, out, view.buf, n);
        PyBuffer_Release(&view);
        Py_DECREF(item);
        if (rc < 0) {
            ff_body_src_clear(s);
            PyErr_NoMemory();
            return -1;
        }
        if (s->sized && s->left == 0) {
            ff_body_src_clear(s);
            return 0;
        }
        if (n)
            return 1;
    }
}

int ff_body_src_read(ff_body_src *s, ff_buf *out, size_t max)
{
    size_t n = s->left < max ? (size_t)s->left : max;
    if (n == 0) {
        ff_body_src_clear(s);
        return 0;
    }
    if (ff_buf_reserve(out, n) < 0) {
        ff_body_src_clear(s);
        errno = ENOMEM;
        return -1;
    }
    ssize_t k;
    do
        k = pread(s->fd, out->data + out->len, n, (off_t)s->off);
    while (k < 0 && errno == EINTR);
    if (k <= 0) {
        int saved = k == 0 ? EIO : errno; /* the file shrank under us */
        ff_body_src_clear(s);
        errno = saved;
        return -1;
    }
    out->len += (size_t)k;
    s->off += (uint64_t)k;
    s->left -= (uint64_t)k;
    if (s->left == 0) {
        ff_body_src_clear(s);
        return 0;
    }
    return 1;
}

/* ---- async iterables (FF_BODY_AITER) ----
 *
 * Each item is awaited as a Task of the worker's loop (asyncio.ensure_future
 * over __anext__()); its done callback keeps the result and tells the
 * connection, which writes it once the socket takes it and only then asks
 * for the next: a slow client pauses the generator, as for a sync one. The
 * state is a heap struct behind a capsule: the source and a pending Task's
 * callback each hold the capsule, so whichever lets go last frees it. */

enum { AP_IDLE, AP_WAITING, AP_ITEM, AP_END, AP_FAILED };

typedef struct ff_Apump {
    PyObject *aiter;
    PyObject *loop;
    PyObject *fut;                 /* the Task in flight (AP_WAITING) */
    PyObject *item;                /* AP_ITEM */
    PyObject *et, *ev, *etb;       /* AP_FAILED: the exception */
    int state;
    void (*ready)(void *ctx, void *owner);
    void *ctx, *owner;             /* NULL owner: the source let go */
    PyObject *capsule;             /* borrowed: the capsule that owns this struct */
} ff_Apump;

static void apump_free(PyObject *capsule)
{
    ff_Apump *p = PyCapsule_GetPointer(capsule, "frostfork.apump");
    if (!p)
        return;
    Py_XDECREF(p->aiter);
    Py_XDECREF(p->loop);
    Py_XDECREF(p->fut);
    Py_XDECREF(p->item);
    Py_XDECREF(p->et);
    Py_XDECREF(p->ev);
    Py_XDECREF(p->etb);
    PyMem_Free(p);
}

/* The generator is closed as a Task of the loop (aclose() is a coroutine):
 * its finally runs there. A failure is left pending for the caller. */
static void schedule_aclose(ff_Apump *p)
{
    PyObject *aclose = PyObject_GetAttrString(p->aiter, "aclose");
    PyObject *coro = aclose ? PyObject_CallNoArgs(aclose) : NULL;
    PyObject *task = coro ? PyObject_CallMethod(p->loop, "create_task", "O", coro) : NULL;
    Py_XDECREF(aclose);
    Py_XDECREF(coro);
    Py_XDECREF(task);
}

/* The Task of __anext__ is done: its item, the end, or its exception. */
static PyObject *apump_done(PyObject *capsule, PyObject *fut)
{
    ff_Apump *p = PyCapsule_GetPointer(capsule, "frostfork.apump");
    if (!p)
        return NULL;
    Py_CLEAR(p->fut); /* the cycle through the Task's callbacks ends here */
    if (!p->owner) { /* the client left: an iterator the cancel did not end is closed */
        PyObject *res = PyObject_CallMethod(fut, "cancelled", NULL);
        if (res == Py_False) {
            schedule_aclose(p);
        }
        Py_XDECREF(res);
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    PyObject *item = PyObject_CallMethod(fut, "result", NULL);
    if (item) {
        p->item = item;
        p->state = AP_ITEM;
    } else if (PyErr_ExceptionMatches(PyExc_StopAsyncIteration)) {
        PyErr_Clear();
        p->state = AP_END;
    } else {
        PyErr_Fetch(&p->et, &p->ev, &p->etb);
        p->state = AP_FAILED;
    }
    p->ready(p->ctx, p->owner);
    if (PyErr_Occurred())
        PyErr_WriteUnraisable(capsule);
    Py_RETURN_NONE;
}

static PyMethodDef apump_done_def = {"_frostfork_body_item", apump_done, METH_O, NULL};

/* The source lets go: a Task in flight is cancelled (the generator's
 * finally runs at its await), an idle generator is closed with aclose(). */
static void apump_release(ff_Apump *p)
{
    PyObject *capsule = p->capsule;
    p->owner = NULL;
    if (p->fut) {
        PyObject *res = PyObject_CallMethod(p->fut, "cancel", NULL);
        Py_XDECREF(res);
    } else if (p->state != AP_END && p->state != AP_FAILED) {
        schedule_aclose(p);
    }
    if (PyErr_Occurred())
        PyErr_WriteUnraisable(p->aiter);
    Py_DECREF(capsule);
}

int ff_body_src_aiter(ff_body_src *s, PyObject *aiterable, PyObject *loop, int chunked)
{
    ff_Apump *p = PyMem_Calloc(1, sizeof *p);
    if (!p) {
        PyErr_NoMemory();
        return -1;
    }
    PyObject *capsule = PyCapsule_New(p, "frostfork.apump", apump_free);
    if (!capsule) {
        PyMem_Free(p);
        return -1;
    }
    p->capsule = capsule;
    p->loop = Py_NewRef(loop);
    PyObject *aiter = PyObject_CallMethod(aiterable, "__aiter__", NULL);
    if (!aiter) {
        Py_DECREF(capsule);
        return -1;
    }
    p->aiter = aiter;
    *s = (ff_body_src){.kind = FF_BODY_AITER, .fd = -1, .chunked = chunked, .pump = p};
    return 0;
}

void ff_body_src_attach(ff_body_src *s, void (*ready)(void *ctx, void *owner), void *ctx,
                        void *owner)
{
    if (s->kind != FF_BODY_AITER)
        return;
    s->pump->ready = ready;
    s->pump->ctx = ctx;
    s->pump->owner = owner;
}

int ff_body_src_apump(ff_body_src *s, ff_buf *out)
{
    ff_Apump *p = s->pump;
    switch (p->state) {
    case AP_WAITING:
        return 2;
    case AP_END: {
        if (s->sized && s->left > 0) {
            ff_body_src_clear(s);
            PyErr_SetString(PyExc_RuntimeError, "the response body ended before the "
                                                "Content-Length it declared");
            return -1;
        }
        int rc = s->gz ? put_gzipped(s, out, "", 0, 1) : 0;
        if (rc == 0 && s->chunked)
            rc = ff_buf_append(out, "0\r\n\r\n", 5);
        ff_body_src_clear(s);
        if (rc < 0)
            PyErr_NoMemory();
        return rc < 0 ? -1 : 0;
    }
    case AP_FAILED: {
        PyObject *t = p->et, *v = p->ev, *tb = p->etb;
        p->et = p->ev = p->etb = NULL;
        ff_body_src_clear(s);
        PyErr_Restore(t, v, tb);
        return -1;
    }
    case AP_ITEM: {
        PyObject *item = p->item;
        p->item = NULL;
        p->state = AP_IDLE;
        Py_buffer view;
        int got;
        if (PyUnicode_Check(item)) {
            Py_ssize_t n;
            const char *u = PyUnicode_AsUTF8AndSize(item, &n);
            got = u ? PyBuffer_FillInfo(&view, item, (void *)u, n, 1, PyBUF_SIMPLE) : -1;
        } else {
            got = PyObject_GetBuffer(item, &view, PyBUF_SIMPLE);
        }
        size_t n = got < 0 ? 0 : (size_t)view.len;
        if (s->sized && n > s->left)
            n = (size_t)s->left; /* never more than the Content-Length sent */
        int rc = got < 0 ? -1 : ff_body_src_put(s, out, view.buf, n);
        if (got == 0)
            PyBuffer_Release(&view);
        Py_DECREF(item);
        if (rc == 0 && s->sized && s->left == 0) {
            ff_body_src_clear(s); /* all that was promised: the generator is closed */
            return 0;
        }
        if (rc < 0) {
            PyObject *t, *v, *tb;
            if (!PyErr_Occurred())
                PyErr_NoMemory();
            PyErr_Fetch(&t, &v, &tb);
            ff_body_src_clear(s);
            PyErr_Restore(t, v, tb);
            return -1;
        }
        return 1;
    }
    default: { /* AP_IDLE: ask for the next item */
        PyObject *anext = PyObject_CallMethod(p->aiter, "__anext__", NULL);
        PyObject *ensure = anext ? ff_import_attr("asyncio", "ensure_future") : NULL;
        PyObject *args = ensure ? PyTuple_Pack(1, anext) : NULL;
        PyObject *kw = args ? Py_BuildValue("{s:O}", "loop", p->loop) : NULL;
        PyObject *fut = kw ? PyObject_Call(ensure, args, kw) : NULL;
        Py_XDECREF(args);
        Py_XDECREF(kw);
        PyObject *cb = fut ? PyCFunction_New(&apump_done_def, p->capsule) : NULL;
        PyObject *res = cb ? PyObject_CallMethod(fut, "add_done_callback", "O", cb) : NULL;
        Py_XDECREF(anext);
        Py_XDECREF(ensure);
        Py_XDECREF(cb);
        if (!res) {
            Py_XDECREF(fut);
            PyObject *t, *v, *tb;
            PyErr_Fetch(&t, &v, &tb);
            ff_body_src_clear(s);
            PyErr_Restore(t, v, tb);
            return -1;
        }
        Py_DECREF(res);
        p->fut = fut;
        p->state = AP_WAITING;
        return 2;
    }
    }
}
