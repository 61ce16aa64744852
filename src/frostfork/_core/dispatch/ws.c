/* dispatch/ws.c — a WebSocket session: frostfork.WebSocket for native
 * handlers, `_asgi_receive` / `_asgi_send` for an ASGI app's websocket scope.
 *
 * The protocol (frames, deflate, UTF-8, close codes) is ws/, pure C; this
 * file is the Python side of one connection: the handshake's answer, a
 * queue of received messages with the Future a receive() waits on, and
 * sends written straight into the connection's output with a Future to wait
 * on while that output is over its mark (the server resolves it as the
 * socket drains). Every call that can be answered at once returns an
 * awaitable that is already done, so an echo loop makes no Future while the
 * client keeps up. */
#include "dispatch/ws.h"
#include "dispatch/asgi.h"
#include "bind/plan.h"
#include "json/encode.h"

#include <stdio.h>
#include <string.h>

#define WS_OUT_HIGH (256 * 1024)   /* send() waits while more than this is unsent */
#define WS_QUEUE_HIGH (1u << 20)   /* received bytes queued before the server stops reading */
#define WS_DEFLATE_MIN 64          /* shorter messages go out uncompressed */
#define ASTR(ws, id) ((ws)->e->st->astr[FF_S_##id]) /* an interned ASGI string */

/* ---- helpers ---- */

static PyObject *new_future(ff_Ws *ws)
{
    if (!ws->e->loop) {
        PyErr_SetString(PyExc_RuntimeError, "no event loop to wait on here");
        return NULL;
    }
    return PyObject_CallMethod(ws->e->loop, "create_future", NULL);
}

/* Fails *fut with exc (stolen) unless it is done, and clears *fut. */
static void fail_future(PyObject **fut, PyObject *exc)
{
    PyObject *f = *fut;
    *fut = NULL;
    if (f && exc) {
        PyObject *done = PyObject_CallMethod(f, "done", NULL);
        if (done == Py_False) {
            PyObject *r = PyObject_CallMethod(f, "set_exception", "O", exc);
            Py_XDECREF(r);
        }
        Py_XDECREF(done);
    }
    if (PyErr_Occurred())
        PyErr_WriteUnraisable(f ? f : Py_None);
    Py_XDECREF(exc);
    Py_XDECREF(f);
}

static PyObject *reason_str(ff_Ws *ws)
{
    return ws->close_reason ? Py_NewRef(ws->close_reason) : PyUnicode_FromString("");
}

/* frostfork.WebSocketDisconnect(code, reason), as an object. */
static PyObject *disconnect_exc(ff_Ws *ws)
{
    ff_state *st = ws->e->st;
    PyObject *reason = reason_str(ws);
    PyObject *cls = st->ws_disconnect ? st->ws_disconnect : PyExc_ConnectionError;
    PyObject *exc = reason ? PyObject_CallFunction(cls, "iO", ws->close_code, reason) : NULL;
    Py_XDECREF(reason);
    return exc;
}

static PyObject *asgi_disconnect_msg(ff_Ws *ws)
{
    PyObject *reason = reason_str(ws);
    PyObject *code = reason ? PyLong_FromLong(ws->close_code) : NULL;
    PyObject *m = code ? ff_asgi_message(ws->e->st, FF_S_WS_DISCONNECT) : NULL;
    if (m && (PyDict_SetItem(m, ASTR(ws, CODE), code) < 0 ||
              PyDict_SetItem(m, ASTR(ws, REASON), reason) < 0))
        Py_CLEAR(m);
    Py_XDECREF(code);
    Py_XDECREF(reason);
    return m;
}

static void flush(ff_Ws *ws)
{
    if (ws->stream && ws->e->stream_flush)
        ws->e->stream_flush(ws->stream); /* may find the client gone: ws->out is NULL then */
}

/* The session ended (close received or sent and answered, protocol error,
 * connection gone): a waiting receive() gets the close, a waiting send()
 * fails. */
static void notify_closed(ff_Ws *ws)
{
    if (ws->recv_fut) {
        if (ws->asgi)
            ff_future_resolve(&ws->recv_fut, asgi_disconnect_msg(ws));
        else if (ws->recv_iter)
            fail_future(&ws->recv_fut, PyObject_CallNoArgs(PyExc_StopAsyncIteration));
        else
            fail_future(&ws->recv_fut, disconnect_exc(ws));
    }
    if (ws->drain_fut)
        fail_future(&ws->drain_fut, ws->asgi ? PyObject_CallFunction(PyExc_OSError, "s",
                                                                     "the client disconnected")
                                             : disconnect_exc(ws));
}

static void set_close(ff_Ws *ws, int code, const char *reason, size_t len)
{
    if (ws->close_code)
        return;
    ws->close_code = code;
    Py_XSETREF(ws->close_reason, PyUnicode_DecodeUTF8(reason ? reason : "", (Py_ssize_t)len,
                                                      "replace"));
    if (!ws->close_reason)
        PyErr_Clear();
}

/* The next queued message, or NULL (no exception) when the queue is empty. */
static PyObject *dequeue(ff_Ws *ws)
{
    if (!ws->queue || ws->qhead >= PyList_GET_SIZE(ws->queue))
        return NULL;
    PyObject *item = PyList_GET_ITEM(ws->queue, ws->qhead);
    PyList_SET_ITEM(ws->queue, ws->qhead, Py_NewRef(Py_None));
    ws->qhead++;
    if (ws->qhead == PyList_GET_SIZE(ws->queue)) {
        Py_CLEAR(ws->queue);
        ws->qhead = 0;
    }
    return item;
}

static size_t message_size(ff_Ws *ws, PyObject *m)
{
    if (ws->asgi) {
        PyObject *v = PyDict_GetItem(m, ASTR(ws, BYTES));
        if (!v || v == Py_None)
            v = PyDict_GetItem(m, ASTR(ws, TEXT));
        m = v;
    }
    if (!m)
        return 0;
    if (PyBytes_Check(m))
        return (size_t)PyBytes_GET_SIZE(m);
    if (PyUnicode_Check(m))
        return (size_t)PyUnicode_GET_LENGTH(m);
    return 0;
}

/* Takes a queued message; resumes the reader once the queue is low again. */
static PyObject *take(ff_Ws *ws)
{
    PyObject *m = dequeue(ws);
    if (!m)
        return NULL;
    size_t n = message_size(ws, m);
    ws->qbytes = ws->qbytes > n ? ws->qbytes - n : 0;
    if (ws->paused && ws->qbytes <= WS_QUEUE_HIGH / 2 && ws->stream && ws->e->ws_resume) {
        ws->paused = 0;
        ws->e->ws_resume(ws->stream);
    }
    return m;
}

/* ---- the object ---- */

static int ws_traverse(PyObject *self, visitproc visit, void *arg)
{
    ff_Ws *ws = (ff_Ws *)self;
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(ws->subprotocols);
    Py_VISIT(ws->headers);
    Py_VISIT(ws->queue);
    Py_VISIT(ws->recv_fut);
    Py_VISIT(ws->drain_fut);
    Py_VISIT(ws->close_reason);
    Py_VISIT(ws->deny_headers);
    Py_VISIT(ws->deny_body);
    return 0;
}

static int ws_clear(PyObject *self)
{
    ff_Ws *ws = (ff_Ws *)self;
    Py_CLEAR(ws->subprotocols);
    Py_CLEAR(ws->headers);
    Py_CLEAR(ws->queue);
    Py_CLEAR(ws->recv_fut);
    Py_CLEAR(ws->drain_fut);
    Py_CLEAR(ws->close_reason);
    Py_CLEAR(ws->deny_headers);
    Py_CLEAR(ws->deny_body);
    return 0;
}

static void ws_dealloc(PyObject *self)
{
    ff_Ws *ws = (ff_Ws *)self;
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    ws_clear(self);
    if (ws->proto)
        ff_ws_free(ws->proto);
    tp->tp_free(self);
    Py_DECREF(tp);
}

/* ---- native API ---- */

static int check_open(ff_Ws *ws, const char *what)
{
    if (ws->state == FF_WSS_CONNECTING) {
        PyErr_Format(PyExc_RuntimeError, "WebSocket.%s() before accept()", what);
        return -1;
    }
    if (ws->state == FF_WSS_REFUSED) {
        PyErr_Format(PyExc_RuntimeError, "WebSocket.%s() after the handshake was refused", what);
        return -1;
    }
    return 0;
}

/* The 101: Sec-WebSocket-Accept, the chosen subprotocol, permessage-deflate
 * when the client offered it and it is on, and the handler's own headers. */
static int write_accept(ff_Ws *ws, PyObject *subprotocol, PyObject *headers)
{
    const char *sp = NULL;
    Py_ssize_t spn = 0;
    if (subprotocol && subprotocol != Py_None) {
        if (!(sp = PyUnicode_AsUTF8AndSize(subprotocol, &spn)))
            return -1;
        for (Py_ssize_t i = 0; i < spn; i++)
            if (sp[i] == '\r' || sp[i] == '\n' || sp[i] == '\0') {
                PyErr_SetString(PyExc_ValueError, "invalid subprotocol");
                return -1;
            }
    }
    ff_buf extra = {0};
    int rc = -1;
    if (headers && headers != Py_None) {
        PyObject *it = PyMapping_Check(headers) && !PyList_Check(headers) && !PyTuple_Check(headers)
                           ? PyMapping_Items(headers) : PySequence_List(headers);
        if (!it)
            return -1;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(it); i++) {
            PyObject *pair = PySequence_Tuple(PyList_GET_ITEM(it, i));
            if (!pair)
                goto out_it;
            int ok = PyTuple_GET_SIZE(pair) == 2;
            for (int k = 0; ok && k < 2; k++) {
                PyObject *v = PyTuple_GET_ITEM(pair, k);
                PyObject *b = PyUnicode_Check(v) ? PyUnicode_AsEncodedString(v, "latin-1", NULL)
                                                 : Py_NewRef(v);
                ok = b && ff_asgi_header_ok(b, k == 0) &&
                     ff_buf_append(&extra, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b)) == 0 &&
                     ff_buf_append(&extra, k == 0 ? ": " : "\r\n", 2) == 0;
                Py_XDECREF(b);
            }
            Py_DECREF(pair);
            if (!ok) {
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_TypeError, "accept(headers=...): (name, value) pairs");
                goto out_it;
            }
        }
        rc = 0;
    out_it:
        Py_DECREF(it);
        if (rc < 0) {
            ff_buf_free(&extra);
            return -1;
        }
    }
    ff_state *st = ws->e->st;
    ff_ws_handshake hs;
    memset(&hs, 0, sizeof hs);
    hs.key = ws->key;
    hs.key_len = ws->key_len;
    hs.deflate = ws->deflate;
    ff_ws_config cfg = {.max_message = st->ws_max_message, .deflate = ws->deflate,
                        .deflate_min = WS_DEFLATE_MIN};
    if (!(ws->proto = ff_ws_new(&cfg)) ||
        ff_ws_write_accept(ws->out, &hs, sp, (size_t)spn, extra.data, ff_buf_used(&extra)) < 0) {
        ff_buf_free(&extra);
        PyErr_NoMemory();
        return -1;
    }
    ff_buf_free(&extra);
    ws->state = FF_WSS_OPEN;
    if (ws->stream && ws->e->ws_opened)
        ws->e->ws_opened(ws->stream);
    flush(ws);
    return 0;
}

static PyObject *raise_disconnect(ff_Ws *ws)
{
    PyObject *exc = disconnect_exc(ws);
    if (exc) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
        Py_DECREF(exc);
    }
    return NULL;
}

/* accept(subprotocol=None, headers=None) */
static PyObject *ws_accept(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"subprotocol", "headers", NULL};
    ff_Ws *ws = (ff_Ws *)self;
    PyObject *sp = Py_None, *headers = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OO:accept", kwlist, &sp, &headers))
        return NULL;
    if (sp != Py_None && !PyUnicode_Check(sp)) {
        PyErr_SetString(PyExc_TypeError, "accept(): subprotocol must be a str or None");
        return NULL;
    }
    if (ws->state != FF_WSS_CONNECTING) {
        PyErr_SetString(PyExc_RuntimeError, "WebSocket.accept() called twice");
        return NULL;
    }
    if (!ws->out) {
        ws->close_code = ws->close_code ? ws->close_code : 1006;
        return raise_disconnect(ws);
    }
    if (write_accept(ws, sp, headers) < 0)
        return NULL;
    return ff_ready_new(ws->e->st, NULL);
}

/* receive() / __anext__: a queued message at once, the close as an
 * exception, else a Future the reader resolves. */
static PyObject *receive_any(ff_Ws *ws, int iter)
{
    if (check_open(ws, "receive") < 0)
        return NULL;
    PyObject *m = take(ws);
    if (m)
        return ff_ready_new(ws->e->st, m);
    if (PyErr_Occurred())
        return NULL;
    if (ws->state == FF_WSS_CLOSED || !ws->out) {
        if (iter) {
            PyErr_SetNone(PyExc_StopAsyncIteration);
            return NULL;
        }
        return raise_disconnect(ws);
    }
    if (ws->recv_fut) {
        PyErr_SetString(PyExc_RuntimeError, "another receive() is already waiting");
        return NULL;
    }
    if (!(ws->recv_fut = new_future(ws)))
        return NULL;
    ws->recv_iter = iter;
    return Py_NewRef(ws->recv_fut);
}

static PyObject *ws_receive(PyObject *self, PyObject *unused)
{
    (void)unused;
    return receive_any((ff_Ws *)self, 0);
}

static PyObject *ws_anext(PyObject *self)
{
    return receive_any((ff_Ws *)self, 1);
}

static PyObject *ws_aiter(PyObject *self)
{
    return Py_NewRef(self);
}

/* What a send() returns: done at once, or a Future while the output is
 * over its mark. */
static PyObject *after_send(ff_Ws *ws)
{
    flush(ws);
    if (ws->out && ff_buf_used(ws->out) > WS_OUT_HIGH && ws->e->loop) {
        if (!ws->drain_fut && !(ws->drain_fut = new_future(ws)))
            return NULL;
        return Py_NewRef(ws->drain_fut);
    }
    return ff_ready_new(ws->e->st, NULL);
}

static PyObject *send_frame(ff_Ws *ws, int opcode, const char *p, size_t n)
{
    if (check_open(ws, "send") < 0)
        return NULL;
    if (ws->state != FF_WSS_OPEN || !ws->out) {
        if (ws->asgi) {
            PyErr_SetString(PyExc_OSError, "the WebSocket is closed");
            return NULL;
        }
        if (!ws->close_code)
            ws->close_code = 1006;
        return raise_disconnect(ws);
    }
    if (ff_ws_write_message(ws->proto, ws->out, opcode, p, n) < 0)
        return PyErr_NoMemory();
    return after_send(ws);
}

/* send(data): text for str, binary for bytes-like. */
static PyObject *ws_send(PyObject *self, PyObject *data)
{
    ff_Ws *ws = (ff_Ws *)self;
    if (PyUnicode_Check(data)) {
        Py_ssize_t n;
        const char *p = PyUnicode_AsUTF8AndSize(data, &n);
        return p ? send_frame(ws, FF_WS_OP_TEXT, p, (size_t)n) : NULL;
    }
    if (PyBytes_Check(data))
        return send_frame(ws, FF_WS_OP_BINARY, PyBytes_AS_STRING(data),
                          (size_t)PyBytes_GET_SIZE(data));
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0) {
        PyErr_Format(PyExc_TypeError, "WebSocket.send() takes str or bytes, not %.50s",
                     Py_TYPE(data)->tp_name);
        return NULL;
    }
    PyObject *r = send_frame(ws, FF_WS_OP_BINARY, view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    return r;
}

static PyObject *ws_send_text(PyObject *self, PyObject *data)
{
    if (!PyUnicode_Check(data)) {
        PyErr_Format(PyExc_TypeError, "send_text() takes a str, not %.50s", Py_TYPE(data)->tp_name);
        return NULL;
    }
    return ws_send(self, data);
}

static PyObject *ws_send_bytes(PyObject *self, PyObject *data)
{
    if (PyUnicode_Check(data)) {
        PyErr_SetString(PyExc_TypeError, "send_bytes() takes bytes, not str");
        return NULL;
    }
    return ws_send(self, data);
}

/* send_json(obj, binary=False): encoded by the C encoder. */
static PyObject *ws_send_json(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"data", "binary", NULL};
    ff_Ws *ws = (ff_Ws *)self;
    PyObject *obj;
    int binary = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|p:send_json", kwlist, &obj, &binary))
        return NULL;
    ff_buf *scratch = &ws->e->scratch;
    scratch->off = scratch->len = 0;
    if (ff_json_encode(scratch, obj, ws->e->st, 0) < 0)
        return NULL;
    return send_frame(ws, binary ? FF_WS_OP_BINARY : FF_WS_OP_TEXT, scratch->data + scratch->off,
                      ff_buf_used(scratch));
}

/* Refuses the handshake with an HTTP response (close() before accept, an
 * ASGI websocket.close or denial response). */
static int refuse(ff_Ws *ws, int status, const char *ctype, const char *body, size_t n,
                  PyObject *headers)
{
    ff_buf *out = ws->out;
    size_t mark = ff_buf_used(out);
    int rc = ff_response_begin(out, status, NULL, 0, ws->e->date);
    for (Py_ssize_t i = 0; rc == 0 && headers && i < PyList_GET_SIZE(headers); i++) {
        PyObject *pair = PyList_GET_ITEM(headers, i);
        PyObject *k = PyTuple_GET_ITEM(pair, 0), *v = PyTuple_GET_ITEM(pair, 1);
        if (PyBytes_GET_SIZE(k) == 14 && strncasecmp(PyBytes_AS_STRING(k), "content-length", 14) == 0)
            continue;
        if (PyBytes_GET_SIZE(k) == 10 && strncasecmp(PyBytes_AS_STRING(k), "connection", 10) == 0)
            continue;
        rc = ff_buf_append(out, PyBytes_AS_STRING(k), (size_t)PyBytes_GET_SIZE(k)) < 0 ||
             ff_buf_append(out, ": ", 2) < 0 ||
             ff_buf_append(out, PyBytes_AS_STRING(v), (size_t)PyBytes_GET_SIZE(v)) < 0 ||
             ff_buf_append(out, "\r\n", 2) < 0 ? -1 : 0;
    }
    if (rc == 0)
        rc = ff_response_finish_head(out, ctype, n, 0, ws->http10);
    if (rc == 0 && n)
        rc = ff_buf_append(out, body, n);
    if (rc < 0) {
        out->len = out->off + mark;
        PyErr_NoMemory();
        return -1;
    }
    ws->state = FF_WSS_REFUSED;
    ws->deny_status = status;
    flush(ws);
    return 0;
}

/* close(code=1000, reason=""): before accept, the handshake is refused
 * with 403. */
static PyObject *ws_close(PyObject *self, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"code", "reason", NULL};
    ff_Ws *ws = (ff_Ws *)self;
    int code = 1000;
    const char *reason = "";
    Py_ssize_t rn = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|is#:close", kwlist, &code, &reason, &rn))
        return NULL;
    if (!ff_ws_close_code_valid(code) || code == 1005 || code == 1006 || code == 1015) {
        PyErr_Format(PyExc_ValueError, "close(): %d is not a code that may be sent", code);
        return NULL;
    }
    if (ws->state == FF_WSS_CONNECTING && ws->out) {
        static const char body[] = "{\"detail\":\"Forbidden: the WebSocket was not accepted\"}";
        if (refuse(ws, 403, "application/json", body, sizeof body - 1, NULL) < 0)
            return NULL;
    } else if (ws->state == FF_WSS_OPEN && ws->out) {
        if (ff_ws_write_close(ws->out, code, reason, (size_t)rn) < 0)
            return PyErr_NoMemory();
        ws->state = FF_WSS_CLOSING;
        flush(ws);
    }
    return ff_ready_new(ws->e->st, NULL);
}

static PyObject *ws_get_subprotocols(PyObject *self, void *unused)
{
    (void)unused;
    ff_Ws *ws = (ff_Ws *)self;
    return ws->subprotocols ? Py_NewRef(ws->subprotocols) : PyList_New(0);
}

/* The handshake's headers as frostfork.datastructures.Headers (case-
 * insensitive, repeats kept), made on first use from the head the server
 * keeps: most handlers never ask, and 10,000 idle sessions should not each
 * hold one. */
static PyObject *ws_get_headers(PyObject *self, void *unused)
{
    (void)unused;
    ff_Ws *ws = (ff_Ws *)self;
    if (ws->headers)
        return Py_NewRef(ws->headers);
    const ff_http_request *h = ws->http;
    PyObject *pairs = PyList_New(0);
    for (size_t i = 0; pairs && h && i < h->num_headers; i++) {
        const ff_http_header *f = &h->headers[i];
        PyObject *pair = Py_BuildValue("(NN)", PyUnicode_DecodeLatin1(f->name, (Py_ssize_t)f->name_len, NULL),
                                       PyUnicode_DecodeLatin1(f->value, (Py_ssize_t)f->value_len, NULL));
        if (!pair || PyList_Append(pairs, pair) < 0)
            Py_CLEAR(pairs);
        Py_XDECREF(pair);
    }
    PyObject *make = pairs ? ff_import_attr("frostfork.datastructures", "Headers") : NULL;
    PyObject *headers = make ? PyObject_CallOneArg(make, pairs) : NULL;
    Py_XDECREF(make);
    Py_XDECREF(pairs);
    if (headers && h)
        ws->headers = Py_NewRef(headers); /* kept once made: the head may go away later */
    return headers;
}

static PyObject *ws_get_close_code(PyObject *self, void *unused)
{
    (void)unused;
    ff_Ws *ws = (ff_Ws *)self;
    if (!ws->close_code)
        Py_RETURN_NONE;
    return PyLong_FromLong(ws->close_code);
}

static PyObject *ws_get_close_reason(PyObject *self, void *unused)
{
    (void)unused;
    ff_Ws *ws = (ff_Ws *)self;
    if (!ws->close_code)
        Py_RETURN_NONE;
    return reason_str(ws);
}

static PyObject *ws_get_state(PyObject *self, void *unused)
{
    (void)unused;
    static const char *names[] = {"connecting", "open", "closing", "closed", "refused"};
    return PyUnicode_FromString(names[((ff_Ws *)self)->state]);
}

/* ---- ASGI ---- */

static PyObject *asgi_receive(PyObject *self, PyObject *unused)
{
    (void)unused;
    ff_Ws *ws = (ff_Ws *)self;
    ff_state *st = ws->e->st;
    if (!ws->asgi_connected) {
        ws->asgi_connected = 1;
        PyObject *m = ff_asgi_message(st, FF_S_WS_CONNECT);
        return m ? ff_ready_new(st, m) : NULL;
    }
    PyObject *m = take(ws);
    if (m)
        return ff_ready_new(st, m);
    if (PyErr_Occurred())
        return NULL;
    if (ws->state == FF_WSS_CLOSED || ws->state == FF_WSS_REFUSED || !ws->out) {
        if (!ws->close_code)
            ws->close_code = 1006;
        m = asgi_disconnect_msg(ws);
        return m ? ff_ready_new(st, m) : NULL;
    }
    if (ws->recv_fut) {
        PyErr_SetString(PyExc_RuntimeError, "ASGI: receive() called while another waits");
        return NULL;
    }
    if (!(ws->recv_fut = new_future(ws)))
        return NULL;
    ws->recv_iter = 0;
    return Py_NewRef(ws->recv_fut);
}

/* The headers of websocket.accept or websocket.http.response.start as a
 * list of (bytes, bytes), checked. */
static PyObject *asgi_headers(ff_Ws *ws, PyObject *msg)
{
    PyObject *headers = ff_asgi_get_item(msg, ASTR(ws, HEADERS));
    if (!headers) {
        if (PyErr_Occurred())
            return NULL;
        return PyList_New(0);
    }
    PyObject *list = PyList_New(0);
    PyObject *it = list ? PyObject_GetIter(headers) : NULL;
    Py_DECREF(headers);
    if (!it) {
        Py_XDECREF(list);
        return NULL;
    }
    PyObject *item;
    while ((item = PyIter_Next(it))) {
        PyObject *pair = PySequence_Tuple(item);
        Py_DECREF(item);
        int ok = pair && PyTuple_GET_SIZE(pair) == 2 && ff_asgi_header_ok(PyTuple_GET_ITEM(pair, 0), 1) &&
                 ff_asgi_header_ok(PyTuple_GET_ITEM(pair, 1), 0);
        if (pair && !ok && !PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "ASGI: each header is a (name, value) pair");
        if (!ok || PyList_Append(list, pair) < 0) {
            Py_XDECREF(pair);
            Py_DECREF(it);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(pair);
    }
    Py_DECREF(it);
    if (PyErr_Occurred()) {
        Py_DECREF(list);
        return NULL;
    }
    return list;
}

static PyObject *asgi_send_accept(ff_Ws *ws, PyObject *msg)
{
    if (ws->state != FF_WSS_CONNECTING || ws->deny_started) {
        PyErr_SetString(PyExc_RuntimeError, "ASGI: websocket.accept after the handshake was answered");
        return NULL;
    }
    PyObject *sp = ff_asgi_get_item(msg, ASTR(ws, SUBPROTOCOL));
    if (!sp && PyErr_Occurred())
        return NULL;
    if (sp && sp != Py_None && !PyUnicode_Check(sp)) {
        Py_DECREF(sp);
        PyErr_SetString(PyExc_TypeError, "ASGI: websocket.accept subprotocol must be a str");
        return NULL;
    }
    PyObject *headers = asgi_headers(ws, msg);
    int rc = headers ? write_accept(ws, sp, headers) : -1;
    Py_XDECREF(sp);
    Py_XDECREF(headers);
    return rc < 0 ? NULL : ff_ready_new(ws->e->st, NULL);
}

static PyObject *asgi_send_data(ff_Ws *ws, PyObject *msg)
{
    PyObject *b = ff_asgi_get_item(msg, ASTR(ws, BYTES));
    if (!b && PyErr_Occurred())
        return NULL;
    if (b && b != Py_None) {
        if (!PyBytes_Check(b)) {
            Py_DECREF(b);
            PyErr_SetString(PyExc_TypeError, "ASGI: websocket.send bytes must be bytes");
            return NULL;
        }
        PyObject *r = send_frame(ws, FF_WS_OP_BINARY, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b));
        Py_DECREF(b);
        return r;
    }
    Py_XDECREF(b);
    PyObject *t = ff_asgi_get_item(msg, ASTR(ws, TEXT));
    if (!t || t == Py_None || !PyUnicode_Check(t)) {
        Py_XDECREF(t);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "ASGI: websocket.send needs bytes or text");
        return NULL;
    }
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(t, &n);
    PyObject *r = p ? send_frame(ws, FF_WS_OP_TEXT, p, (size_t)n) : NULL;
    Py_DECREF(t);
    return r;
}

static PyObject *asgi_send_close(ff_Ws *ws, PyObject *msg)
{
    PyObject *c = ff_asgi_get_item(msg, ASTR(ws, CODE)), *r = ff_asgi_get_item(msg, ASTR(ws, REASON));
    long code = c && c != Py_None ? PyLong_AsLong(c) : 1000;
    Py_XDECREF(c);
    const char *reason = "";
    Py_ssize_t rn = 0;
    /* a reason that is not a str (FastAPI sends its validation errors' list) is left out,
     * as uvicorn does */
    if (r && PyUnicode_Check(r) && !(reason = PyUnicode_AsUTF8AndSize(r, &rn))) {
        Py_DECREF(r);
        return NULL;
    }
    PyObject *kw = Py_BuildValue("{s:l,s:s#}", "code", code, "reason", reason, rn);
    Py_XDECREF(r);
    if (PyErr_Occurred() || !kw) {
        Py_XDECREF(kw);
        return NULL;
    }
    PyObject *args = PyTuple_New(0);
    PyObject *res = args ? ws_close((PyObject *)ws, args, kw) : NULL;
    Py_XDECREF(args);
    Py_DECREF(kw);
    return res;
}

/* websocket.http.response.start / .body: a denial response, collected
 * whole and written with a Content-Length. */
static PyObject *asgi_send_deny(ff_Ws *ws, PyObject *msg, int start)
{
    if (ws->state != FF_WSS_CONNECTING || (start ? ws->deny_started : !ws->deny_started)) {
        PyErr_SetString(PyExc_RuntimeError, start ? "ASGI: websocket.http.response.start out of order"
                                                  : "ASGI: websocket.http.response.body before start");
        return NULL;
    }
    if (start) {
        PyObject *s = ff_asgi_get_item(msg, ASTR(ws, STATUS));
        long status = s && PyLong_Check(s) ? PyLong_AsLong(s) : -1;
        Py_XDECREF(s);
        if (status < 100 || status > 999) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "ASGI: websocket.http.response.start needs a status");
            return NULL;
        }
        if (!(ws->deny_headers = asgi_headers(ws, msg)))
            return NULL;
        if (!(ws->deny_body = PyByteArray_FromStringAndSize("", 0)))
            return NULL;
        ws->deny_status = (int)status;
        ws->deny_started = 1;
        return ff_ready_new(ws->e->st, NULL);
    }
    PyObject *b = ff_asgi_get_item(msg, ASTR(ws, BODY)), *more_o = ff_asgi_get_item(msg, ASTR(ws, MORE_BODY));
    int more = more_o ? PyObject_IsTrue(more_o) : 0;
    Py_XDECREF(more_o);
    if (more < 0 || (b && b != Py_None && !PyBytes_Check(b))) {
        Py_XDECREF(b);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "ASGI: websocket.http.response.body body must be bytes");
        return NULL;
    }
    if (b && b != Py_None) {
        PyObject *r = PySequence_InPlaceConcat(ws->deny_body, b);
        Py_XDECREF(r);
        if (!r) {
            Py_DECREF(b);
            return NULL;
        }
    }
    Py_XDECREF(b);
    if (!more && ws->out &&
        refuse(ws, ws->deny_status, NULL, PyByteArray_AS_STRING(ws->deny_body),
               (size_t)PyByteArray_GET_SIZE(ws->deny_body), ws->deny_headers) < 0)
        return NULL;
    return ff_ready_new(ws->e->st, NULL);
}

static PyObject *asgi_send(PyObject *self, PyObject *msg)
{
    ff_Ws *ws = (ff_Ws *)self;
    PyObject *type = PyMapping_Check(msg) ? ff_asgi_get_item(msg, ASTR(ws, TYPE)) : NULL;
    if (!type || !PyUnicode_Check(type)) {
        Py_XDECREF(type);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "ASGI: a message is a dict with a str 'type'");
        return NULL;
    }
    const char *t = PyUnicode_AsUTF8(type);
    PyObject *res = NULL;
    if (!t)
        ;
    else if (!ws->out || ws->state == FF_WSS_CLOSED || ws->state == FF_WSS_REFUSED ||
             (ws->state == FF_WSS_CLOSING && strcmp(t, "websocket.close") != 0))
        PyErr_SetString(PyExc_OSError, "ASGI: the WebSocket is closed");
    else if (strcmp(t, "websocket.send") == 0)
        res = asgi_send_data(ws, msg);
    else if (strcmp(t, "websocket.accept") == 0)
        res = asgi_send_accept(ws, msg);
    else if (strcmp(t, "websocket.close") == 0)
        res = asgi_send_close(ws, msg);
    else if (strcmp(t, "websocket.http.response.start") == 0)
        res = asgi_send_deny(ws, msg, 1);
    else if (strcmp(t, "websocket.http.response.body") == 0)
        res = asgi_send_deny(ws, msg, 0);
    else
        PyErr_Format(PyExc_RuntimeError, "ASGI: unexpected message type %R in a websocket scope", type);
    Py_DECREF(type);
    return res;
}

static PyMethodDef ws_methods[] = {
    {"accept", (PyCFunction)(void (*)(void))ws_accept, METH_VARARGS | METH_KEYWORDS,
     "accept(subprotocol=None, headers=None): answer the handshake with 101"},
    {"receive", ws_receive, METH_NOARGS, "the next message: str (text) or bytes (binary)"},
    {"send", ws_send, METH_O, "send(str | bytes): one text or binary message"},
    {"send_text", ws_send_text, METH_O, "send_text(str)"},
    {"send_bytes", ws_send_bytes, METH_O, "send_bytes(bytes)"},
    {"send_json", (PyCFunction)(void (*)(void))ws_send_json, METH_VARARGS | METH_KEYWORDS,
     "send_json(obj, binary=False): encoded by frostfork's JSON encoder"},
    {"close", (PyCFunction)(void (*)(void))ws_close, METH_VARARGS | METH_KEYWORDS,
     "close(code=1000, reason=''): before accept, refuses the handshake with 403"},
    {"_asgi_receive", asgi_receive, METH_NOARGS, NULL},
    {"_asgi_send", asgi_send, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef ws_getset[] = {
    {"subprotocols", ws_get_subprotocols, NULL, "the subprotocols the client offered", NULL},
    {"headers", ws_get_headers, NULL, "the handshake's headers (case-insensitive, read-only)", NULL},
    {"close_code", ws_get_close_code, NULL, "the code the session closed with, or None", NULL},
    {"close_reason", ws_get_close_reason, NULL, "the reason it closed with, or None", NULL},
    {"state", ws_get_state, NULL, "connecting, open, closing, closed or refused", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot ws_slots[] = {
    {Py_tp_dealloc, ws_dealloc},
    {Py_tp_traverse, ws_traverse},
    {Py_tp_clear, ws_clear},
    {Py_tp_methods, ws_methods},
    {Py_tp_getset, ws_getset},
    {Py_am_aiter, ws_aiter},
    {Py_am_anext, ws_anext},
    {Py_tp_doc, "one WebSocket connection (RFC 6455), as its handler sees it"},
    {0, NULL},
};

PyType_Spec ff_ws_spec = {
    .name = "frostfork._core.WebSocket",
    .basicsize = sizeof(ff_Ws),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = ws_slots,
};

/* ---- dispatching ---- */

/* Answers a request that cannot become a WebSocket with status and why;
 * 426 carries the version (or protocol) the client must ask for. The
 * connection closes after it. */
static int refuse_http(ff_env *e, const ff_req *r, ff_buf *out, int status, const char *extra,
                       const char *msg)
{
    char body[256];
    int n = snprintf(body, sizeof body, "{\"detail\":\"%s\"}", msg);
    size_t mark = ff_buf_used(out);
    if (ff_response_begin(out, status, NULL, 0, e->date) < 0 ||
        (extra && ff_buf_puts(out, extra) < 0) ||
        ff_response_finish_head(out, "application/json", (size_t)n, 0, r->http10) < 0 ||
        (!r->head_only && ff_buf_append(out, body, (size_t)n) < 0)) {
        out->len = out->off + mark;
        return -1;
    }
    ((ff_req *)r)->keep_alive = 0;
    return status;
}

/* The handshake checks every websocket request gets first. Returns 0 with
 * hs filled when the session may start, else the status written. */
static int precheck(ff_env *e, const ff_req *r, ff_buf *out, ff_ws_handshake *hs)
{
    memset(hs, 0, sizeof *hs);
    hs->allow_deflate = e->st->ws_deflate;
    if (!ff_ws_is_upgrade(r->http))
        return refuse_http(e, r, out, 426, "Upgrade: websocket\r\n",
                           "Upgrade Required: this path is a WebSocket");
    if (ff_ws_check_request(r->http, hs) < 0)
        return refuse_http(e, r, out, hs->status ? hs->status : 400,
                           hs->status == 426 ? "Sec-WebSocket-Version: 13\r\n" : NULL,
                           hs->reason ? hs->reason : "bad WebSocket handshake");
    if (!e->ws_opened) /* only a worker's connections become sessions */
        return refuse_http(e, r, out, 501, NULL,
                           "WebSockets need the worker's event loop (not available in process)");
    if (e->busy)
        return ff_async_busy(e, r, out);
    return 0;
}

/* A new session for a checked handshake: what the answer needs (the key,
 * the deflate offer), and what the handler may ask (headers, subprotocols)
 * copied out of the head, which the connection's reader will overwrite. */
static ff_Ws *session_new(ff_env *e, const ff_req *r, const ff_ws_handshake *hs, int asgi)
{
    ff_state *st = e->st;
    PyTypeObject *tp = asgi || !st->ws_class ? st->WebSocket_type : (PyTypeObject *)st->ws_class;
    ff_Ws *ws = (ff_Ws *)tp->tp_alloc(tp, 0);
    if (!ws)
        return NULL;
    ws->e = e;
    ws->asgi = asgi;
    ws->http10 = r->http10;
    if (hs->key_len >= sizeof ws->key) {
        Py_DECREF(ws);
        PyErr_SetString(PyExc_ValueError, "Sec-WebSocket-Key too long");
        return NULL;
    }
    memcpy(ws->key, hs->key, hs->key_len);
    ws->key_len = hs->key_len;
    ws->deflate = hs->deflate;
    if (!st->ws_deflate)
        ws->deflate.enabled = 0;
    if (hs->protocols && !(ws->subprotocols = PyList_New(0)))
        goto fail;
    const char *p = hs->protocols, *end = p ? p + hs->protocols_len : NULL;
    while (p && p < end) {
        const char *q = memchr(p, ',', (size_t)(end - p));
        if (!q)
            q = end;
        const char *a = p, *b = q;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a) {
            PyObject *s = PyUnicode_DecodeLatin1(a, b - a, NULL);
            if (!s || PyList_Append(ws->subprotocols, s) < 0) {
                Py_XDECREF(s);
                goto fail;
            }
            Py_DECREF(s);
        }
        p = q + 1;
    }
    return ws;
fail:
    Py_DECREF(ws);
    return NULL;
}

/* Hands the session's coroutine to a Task (always: it lives as long as the
 * connection). */
static int start(ff_env *e, const ff_req *r, ff_buf *out, PyObject *coro, const char *label,
                 struct ff_Finalizer *mark, const ff_route *rt, ff_Ws *ws)
{
    ws->out = out;
    PyObject *ctx = PyContext_CopyCurrent();
    int status = ctx ? e->suspend(e, r, coro, NULL, ctx, label, mark, NULL, rt, ws) : -1;
    Py_XDECREF(ctx);
    if (status == -1) {
        ws->out = NULL;
        status = ff_fail_500(e, r, out, label);
    }
    return status;
}

int ff_ws_prepare(ff_env *e, const ff_req *r, ff_buf *out, ff_Ws **made)
{
    ff_ws_handshake hs;
    *made = NULL;
    int status = precheck(e, r, out, &hs);
    if (status)
        return status;
    if (!(*made = session_new(e, r, &hs, 0)))
        return ff_fail_500(e, r, out, "WebSocket");
    return 0;
}

int ff_ws_start_native(ff_env *e, const ff_req *r, ff_buf *out, PyObject *coro,
                       const ff_route *rt, struct ff_Finalizer *mark, ff_Ws *ws)
{
    return start(e, r, out, coro, rt->label, mark, rt, ws);
}

int ff_ws_dispatch_asgi(ff_env *e, ff_req *r, ff_buf *out)
{
    ff_state *st = e->st;
    struct ff_Finalizer *mark = st->request_fins.head;
    ff_ws_handshake hs;
    int status = precheck(e, r, out, &hs);
    if (status)
        return status;
    ff_Ws *ws = session_new(e, r, &hs, 1);
    PyObject *scope = ws ? ff_asgi_scope(e, r, 1) : NULL;
    PyObject *ext = scope ? Py_BuildValue("{s:{}}", "websocket.http.response") : NULL;
    PyObject *protos = ws ? ws_get_subprotocols((PyObject *)ws, NULL) : NULL;
    if (scope && (PyDict_DelItem(scope, ASTR(ws, METHOD)) < 0 || !ext || !protos ||
                  PyDict_SetItem(scope, ASTR(ws, EXTENSIONS), ext) < 0 ||
                  PyDict_SetItem(scope, ASTR(ws, SUBPROTOCOLS), protos) < 0))
        Py_CLEAR(scope);
    Py_XDECREF(protos);
    Py_XDECREF(ext);
    PyObject *recv = scope ? PyObject_GetAttr((PyObject *)ws, ASTR(ws, ASGI_RECEIVE)) : NULL;
    PyObject *send = recv ? PyObject_GetAttr((PyObject *)ws, ASTR(ws, ASGI_SEND)) : NULL;
    PyObject *coro = send ? PyObject_CallFunctionObjArgs(e->asgi_app, scope, recv, send, NULL) : NULL;
    Py_XDECREF(scope);
    Py_XDECREF(recv);
    Py_XDECREF(send);
    if (coro && !PyCoro_CheckExact(coro) && !Py_TYPE(coro)->tp_as_async) {
        Py_CLEAR(coro);
        PyErr_SetString(PyExc_TypeError, "an ASGI app call must return an awaitable");
    }
    if (!coro)
        status = ff_fail_500(e, r, out, "ASGI app (websocket)");
    else
        status = start(e, r, out, coro, "ASGI app (websocket)", mark, NULL, ws);
    Py_XDECREF(coro);
    Py_XDECREF(ws);
    if (status != FF_STATUS_PENDING)
        r->keep_alive = 0;
    return status;
}

/* ---- the server's side ---- */

/* One message for the handler: straight to a waiting receive(), else queued. */
static int deliver(ff_Ws *ws, int text, const char *p, size_t n)
{
    PyObject *v = text ? PyUnicode_DecodeUTF8(p, (Py_ssize_t)n, NULL)
                       : PyBytes_FromStringAndSize(p, (Py_ssize_t)n);
    if (v && ws->asgi) {
        PyObject *m = ff_asgi_message(ws->e->st, FF_S_WS_RECEIVE);
        if (m && PyDict_SetItem(m, text ? ASTR(ws, TEXT) : ASTR(ws, BYTES), v) < 0)
            Py_CLEAR(m);
        Py_DECREF(v);
        v = m;
    }
    if (!v)
        return -1;
    if (ws->recv_fut && (!ws->queue || ws->qhead >= PyList_GET_SIZE(ws->queue))) {
        ff_future_resolve(&ws->recv_fut, v);
        return 0;
    }
    if (!ws->queue && !(ws->queue = PyList_New(0))) {
        Py_DECREF(v);
        return -1;
    }
    int rc = PyList_Append(ws->queue, v);
    ws->qbytes += message_size(ws, v); /* counted as take() will count it off */
    Py_DECREF(v);
    return rc;
}

int ff_wsobj_feed(ff_Ws *ws, const char *in, size_t len, size_t *used)
{
    size_t off = 0;
    *used = 0;
    while (ws->proto && ws->out) {
        ff_ws_event ev;
        size_t n = 0;
        int rc = ff_ws_read(ws->proto, in + off, len - off, &n, &ev);
        off += n;
        *used = off;
        if (rc < 0)
            return -1;
        if (rc == 0)
            return 0;
        switch (ev.kind) {
        case FF_WS_EV_TEXT:
        case FF_WS_EV_BINARY:
            if (ws->state != FF_WSS_OPEN)
                break; /* after our close: read and dropped (RFC 6455 §1.4) */
            if (deliver(ws, ev.kind == FF_WS_EV_TEXT, ev.data, ev.len) < 0) {
                PyErr_WriteUnraisable((PyObject *)ws);
                return -1;
            }
            break;
        case FF_WS_EV_PING:
            if (ws->state == FF_WSS_OPEN && ff_ws_write_control(ws->out, FF_WS_OP_PONG, ev.data, ev.len) < 0)
                return -1;
            break;
        case FF_WS_EV_PONG:
            ws->ping_out = 0;
            break;
        case FF_WS_EV_CLOSE:
            if (ws->state == FF_WSS_OPEN &&
                ff_ws_write_close(ws->out, ev.code == 1005 ? 0 : ev.code, NULL, 0) < 0)
                return -1;
            set_close(ws, ev.code, ev.reason, ev.reason_len);
            ws->state = FF_WSS_CLOSED;
            notify_closed(ws);
            return 1;
        case FF_WS_EV_ERROR:
            if (ws->state == FF_WSS_OPEN &&
                ff_ws_write_close(ws->out, ev.code, ev.reason, ev.reason_len) < 0)
                return -1;
            set_close(ws, ev.code, ev.reason, ev.reason_len);
            ws->state = FF_WSS_CLOSED;
            notify_closed(ws);
            return 1;
        }
    }
    return 0;
}

int ff_wsobj_can_read(const ff_Ws *ws)
{
    return ws->qbytes < WS_QUEUE_HIGH;
}

void ff_wsobj_pause(ff_Ws *ws)
{
    ws->paused = 1;
}

void ff_wsobj_gone(ff_Ws *ws)
{
    ws->out = NULL;
    ws->stream = NULL;
    if (!ws->close_code)
        set_close(ws, 1006, "", 0);
    if (ws->state != FF_WSS_REFUSED)
        ws->state = FF_WSS_CLOSED;
    notify_closed(ws);
}

void ff_wsobj_drained(ff_Ws *ws)
{
    if (ws->drain_fut && ws->out && ff_buf_used(ws->out) <= WS_OUT_HIGH / 2)
        ff_future_resolve(&ws->drain_fut, NULL);
}

int ff_wsobj_ping(ff_Ws *ws)
{
    if (ws->state != FF_WSS_OPEN || !ws->out)
        return 0;
    if (ws->ping_out) {
        static const char why[] = "keepalive ping timeout";
        if (ff_ws_write_close(ws->out, 1011, why, sizeof why - 1) < 0)
            return -1;
        set_close(ws, 1006, why, sizeof why - 1);
        ws->state = FF_WSS_CLOSED;
        notify_closed(ws);
        return -1;
    }
    ws->ping_out = 1;
    return ff_ws_write_control(ws->out, FF_WS_OP_PING, "ff", 2) < 0 ? -1 : 0;
}

void ff_wsobj_going_away(ff_Ws *ws)
{
    static const char why[] = "server shutting down";
    if (ws->state != FF_WSS_OPEN || !ws->out)
        return;
    if (ff_ws_write_close(ws->out, 1001, why, sizeof why - 1) == 0)
        ws->state = FF_WSS_CLOSING;
}

int ff_wsobj_accepted(const ff_Ws *ws)
{
    return ws->proto != NULL;
}

int ff_wsobj_finish(ff_Ws *ws, ff_req *r, const char *label, int failed)
{
    ff_env *e = ws->e;
    r->keep_alive = 0;
    if (!ws->out) {
        if (failed)
            PyErr_Clear();
        return ws->proto ? 101 : 499;
    }
    switch (ws->state) {
    case FF_WSS_CONNECTING: {
        ws->state = FF_WSS_REFUSED;
        if (failed || ws->asgi) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_RuntimeError, ws->asgi && !failed
                                ? "ASGI app returned without accepting the WebSocket"
                                : "the WebSocket handler was cancelled before accepting");
            return ff_fail_500(e, r, ws->out, label);
        }
        static const char body[] = "{\"detail\":\"Forbidden: the WebSocket was not accepted\"}";
        size_t mark = ff_buf_used(ws->out);
        if (ff_response_begin(ws->out, 403, NULL, 0, e->date) < 0 ||
            ff_response_finish_head(ws->out, "application/json", sizeof body - 1, 0, r->http10) < 0 ||
            ff_buf_append(ws->out, body, sizeof body - 1) < 0) {
            ws->out->len = ws->out->off + mark;
            return -1;
        }
        return 403;
    }
    case FF_WSS_REFUSED:
        if (failed)
            PyErr_Clear();
        return ws->deny_status ? ws->deny_status : 403;
    case FF_WSS_OPEN: {
        int code = 1000;
        if (failed) {
            if (PyErr_Occurred()) {
                ff_request_id(e, r);
                PyErr_WriteUnraisable(NULL); /* logged; the client is told 1011 */
            }
            code = 1011;
        }
        ws->state = FF_WSS_CLOSING;
        return ff_ws_write_close(ws->out, code, NULL, 0) < 0 ? -1 : 101;
    }
    default:
        if (failed)
            PyErr_Clear();
        return 101;
    }
}

/* frostfork._core.ws_config(websocket_class, disconnect, max_message, deflate, ping),
 * in the master before fork. */
PyObject *ff_py_ws_config(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"websocket_class", "disconnect", "max_message", "deflate", "ping", NULL};
    PyObject *cls, *disc;
    unsigned long long max_message = 16u << 20;
    int deflate = 1;
    double ping = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|Kpd:ws_config", kwlist, &cls, &disc,
                                     &max_message, &deflate, &ping))
        return NULL;
    ff_state *st = ff_get_state(module);
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, st->WebSocket_type)) {
        PyErr_SetString(PyExc_TypeError, "ws_config: websocket_class must subclass _core.WebSocket");
        return NULL;
    }
    if (!PyExceptionClass_Check(disc)) {
        PyErr_SetString(PyExc_TypeError, "ws_config: disconnect must be an exception class");
        return NULL;
    }
    if (max_message == 0 || ping < 0) {
        PyErr_SetString(PyExc_ValueError, "ws_config: max_message > 0 and ping >= 0");
        return NULL;
    }
    Py_XSETREF(st->ws_class, Py_NewRef(cls));
    Py_XSETREF(st->ws_disconnect, Py_NewRef(disc));
    st->ws_max_message = max_message;
    st->ws_deflate = deflate;
    st->ws_ping_ms = (long)(ping * 1000);
    Py_RETURN_NONE;
}
