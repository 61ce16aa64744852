/* dispatch/stream.c — frostfork.StreamingResponse: the head now, the body
 * from the iterator as the connection drains (see send.h).
 *
 * Without a content_length the body is sent with chunked coding to
 * HTTP/1.1 clients, and to HTTP/1.0 clients as the bytes up to the close.
 * The iterator is not touched here: its first item is asked for by the
 * owner of the connection, once the head is on its way. */
#include "dispatch/dispatch.h"
#include "dispatch/mw.h"
#include "obj/headers.h"

int ff_stream_response(ff_env *e, const ff_req *r, ff_buf *out, PyObject *resp)
{
    PyObject *content = PyObject_GetAttrString(resp, "content");
    PyObject *status = content ? PyObject_GetAttrString(resp, "status") : NULL;
    PyObject *headers = status ? PyObject_GetAttrString(resp, "headers") : NULL;
    PyObject *mtype = headers ? PyObject_GetAttrString(resp, "media_type") : NULL;
    PyObject *length = mtype ? PyObject_GetAttrString(resp, "content_length") : NULL;
    PyObject *iter = NULL;
    int rc = -1;
    if (!length)
        goto done;
    long st = PyLong_AsLong(status);
    long long cl = length == Py_None ? -1 : PyLong_AsLongLong(length);
    const char *ct = mtype == Py_None ? NULL : PyUnicode_AsUTF8(mtype);
    if ((st == -1 || cl == -1) && PyErr_Occurred())
        goto done;
    if (mtype != Py_None && !ct)
        goto done;
    int aiter = !PyObject_HasAttrString(content, "__iter__") &&
                PyObject_HasAttrString(content, "__aiter__");
    if (aiter && !e->loop) {
        /* no event loop in this process (an all-sync app's worker, the in-process
         * engine): each item is awaited on a private loop, as a sync body is drained */
        PyObject *wrap = ff_import_attr("frostfork.aio", "blocking_iter");
        iter = wrap ? PyObject_CallOneArg(wrap, content) : NULL;
        Py_XDECREF(wrap);
        aiter = 0;
        if (!iter)
            goto done;
    } else if (!aiter && !(iter = PyObject_GetIter(content))) {
        goto done;
    }
    size_t mark = ff_buf_used(out);
    int no_body = r->head_only || st == 204 || st == 304 || st < 200;
    int chunked = cl < 0 && !r->http10;
    ff_headers_seen seen = {.content_length = -1};
    int gz = 0;
    if (ff_response_begin(out, (int)st, NULL, 0, e->date) < 0 ||
        ff_put_headers(out, headers, &seen) < 0)
        goto fail_head;
    /* gzipped on the way when the middleware's gzip is on and nothing says otherwise
     * (a length was promised, the handler encoded it already, an event stream) */
    gz = chunked && !no_body && !seen.content_encoding && ff_mw_gzip_stream(e->mw, r, ct);
    if ((gz && ff_buf_puts(out, "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n") < 0) ||
        (chunked && !no_body && ff_buf_puts(out, "Transfer-Encoding: chunked\r\n") < 0) ||
        (ct && ct[0] == 't' && strncmp(ct, "text/event-stream", 17) == 0 &&
         ff_buf_puts(out, "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n") < 0) ||
        ff_response_finish_head(out, seen.content_type ? NULL : ct,
                                cl >= 0 ? (size_t)cl : (size_t)-1,
                                r->keep_alive && (cl >= 0 || chunked), r->http10) < 0) {
    fail_head:
        out->len = out->off + mark;
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto done;
    }
    rc = (int)st;
    if (aiter) { /* awaited item by item on the worker's loop (send.c) */
        if (no_body || cl == 0 || ff_body_src_aiter(&e->src, content, e->loop, chunked) < 0) {
            if (PyErr_Occurred()) {
                out->len = out->off + mark;
                rc = -1;
            }
            goto done; /* nothing to send: a generator never started needs no closing */
        }
        e->src.sized = cl >= 0;
        e->src.left = cl >= 0 ? (uint64_t)cl : 0;
        e->src.gz = gz ? ff_gzip_stream_new(0) : NULL;
        if (gz && !e->src.gz) {
            ff_body_src_clear(&e->src);
            out->len = out->off + mark;
            PyErr_NoMemory();
            rc = -1;
        }
        e->src_close = cl < 0 && !chunked;
        goto done;
    }
    PyObject *close = PyObject_GetAttrString(content, "close");
    if (!close)
        PyErr_Clear();
    if (no_body || cl == 0) {
        /* nothing to send: the iterable is closed at once, as PEP 3333 asks */
        ff_body_src s = {.kind = FF_BODY_ITER, .iter = Py_NewRef(iter), .close = close, .fd = -1};
        ff_body_src_clear(&s);
    } else {
        e->src = (ff_body_src){.kind = FF_BODY_ITER, .fd = -1, .iter = Py_NewRef(iter),
                               .close = close, .chunked = chunked, .sized = cl >= 0,
                               .left = cl >= 0 ? (uint64_t)cl : 0,
                               .gz = gz ? ff_gzip_stream_new(0) : NULL};
        if (gz && !e->src.gz) { /* out of memory for the compressor: the head said gzip */
            ff_body_src_clear(&e->src);
            out->len = out->off + mark;
            PyErr_NoMemory();
            rc = -1;
        }
        e->src_close = cl < 0 && !chunked;
    }
done:
    Py_XDECREF(content);
    Py_XDECREF(status);
    Py_XDECREF(headers);
    Py_XDECREF(mtype);
    Py_XDECREF(length);
    Py_XDECREF(iter);
    return rc;
}

/* The engine's way: the whole body into out now. */
int ff_env_drain_src(ff_env *e, ff_buf *out)
{
    int rc = 1;
    while (rc > 0 && e->src.kind != FF_BODY_NONE)
        rc = e->src.kind == FF_BODY_FILE ? ff_body_src_read(&e->src, out, 1 << 20)
                                         : ff_body_src_pump(&e->src, out);
    if (rc < 0 && !PyErr_Occurred())
        PyErr_SetFromErrno(PyExc_OSError);
    e->src_close = 0;
    return rc < 0 ? -1 : 0;
}
