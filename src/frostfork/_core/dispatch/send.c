/* dispatch/send.c — response bodies from files and iterators (see send.h). */
#include "dispatch/send.h"

#include <errno.h>
#include <unistd.h>

void ff_body_src_clear(ff_body_src *s)
{
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
