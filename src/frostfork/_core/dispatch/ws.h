/* dispatch/ws.h — one WebSocket session (dispatch/ws.c), for a native
 * `@app.websocket` handler or an ASGI app's websocket scope.
 *
 * The session is a Python object (frostfork.WebSocket; an ASGI app is given
 * its bound `_asgi_receive` / `_asgi_send`). Its handler always runs as a
 * Task (env->suspend). Until the handler accepts, the connection is an HTTP
 * request that may still be refused with an ordinary response; accept
 * writes the 101 and the connection's bytes are frames from then on: the
 * server hands them to ff_wsobj_feed, which answers pings, queues messages
 * for receive(), and reports a close. send() writes frames into the
 * connection's output and waits (a Future) while that output is over its
 * high-water mark: a slow client pauses the sender. */
#ifndef FF_DISPATCH_WS_H
#define FF_DISPATCH_WS_H

#include "dispatch/dispatch.h"
#include "ws/ws.h"

enum ff_ws_state {
    FF_WSS_CONNECTING, /* the handshake is not answered yet */
    FF_WSS_OPEN,       /* 101 sent: frames both ways */
    FF_WSS_CLOSING,    /* we sent a close frame; waiting for the client's */
    FF_WSS_CLOSED,     /* closed both ways, or the connection is gone */
    FF_WSS_REFUSED,    /* answered with an HTTP response instead of 101 */
};

typedef struct ff_Ws {
    PyObject_HEAD
    ff_env *e;
    ff_buf *out;            /* the connection's output; NULL once it is gone */
    void *stream;           /* the server's handle (env->stream_flush, ws_opened, ws_resume) */
    ff_ws *proto;           /* after accept */
    int state;              /* enum ff_ws_state */
    int asgi;               /* an ASGI app's session: receive/send speak ASGI messages */
    int asgi_connected;     /* websocket.connect was handed out */
    int deny_started;       /* ASGI denial response: websocket.http.response.start sent */
    int deny_status;
    PyObject *deny_headers;
    PyObject *deny_body;    /* ... its body so far (bytearray) */
    int http10;
    char key[64];           /* Sec-WebSocket-Key, for the 101's Sec-WebSocket-Accept */
    size_t key_len;
    ff_ws_deflate_params deflate; /* the client's offer we would take (enabled: 0 when none) */
    PyObject *subprotocols; /* list of str the client offered */
    PyObject *headers;      /* dict: lower-case name -> value, made when first asked for */
    const ff_http_request *http; /* the handshake's head while the server keeps it, or NULL */
    PyObject *queue;        /* list of received messages, taken from qhead */
    Py_ssize_t qhead;
    size_t qbytes;          /* payload bytes queued: over the mark, the server stops reading */
    PyObject *recv_fut;     /* Future of a receive() waiting for a message */
    int recv_iter;          /* ... made by __anext__: the close ends the iteration */
    PyObject *drain_fut;    /* Future of a send() waiting for the output to drain */
    int close_code;         /* the close that ended it (1005: none given, 1006: no close frame) */
    PyObject *close_reason; /* str */
    int ping_out;           /* a ping of --ws-ping was sent and no pong came yet */
    int paused;             /* the server stopped reading: the queue is over its mark */
} ff_Ws;

extern PyType_Spec ff_ws_spec;

/* The native route's first part: the handshake checked, a session made
 * (*made, a new reference) — or the status of the HTTP answer written
 * instead, *made NULL. Then the handler's coroutine goes to a Task with
 * ff_ws_start_native (FF_STATUS_PENDING, or a status written). */
int ff_ws_prepare(ff_env *e, const ff_req *r, ff_buf *out, ff_Ws **made);
int ff_ws_start_native(ff_env *e, const ff_req *r, ff_buf *out, PyObject *coro,
                       const ff_route *rt, struct ff_Finalizer *mark, ff_Ws *ws);
/* The same for an ASGI app's websocket scope. */
int ff_ws_dispatch_asgi(ff_env *e, ff_req *r, ff_buf *out);

/* ---- the server's side ---- */

/* Bytes from the client after the 101: consumes whole frames of in[0..len)
 * (*used), answers pings and closes into ws->out, queues messages. Returns 0
 * while the session stays open, 1 when it has ended (the close handshake is
 * done, or the client broke the protocol: the connection closes once the
 * output is written), -1 out of memory. */
int ff_wsobj_feed(ff_Ws *ws, const char *in, size_t len, size_t *used);
/* 1 while the server may read more: the receive queue is under its mark. */
int ff_wsobj_can_read(const ff_Ws *ws);
/* The server stopped reading (the queue is over its mark): take() resumes it. */
void ff_wsobj_pause(ff_Ws *ws);
/* 1 once the 101 was written. */
int ff_wsobj_accepted(const ff_Ws *ws);
/* The connection is gone (or closed by the server): receive() reports the
 * close (code 1006 when no close frame came) and send() raises. */
void ff_wsobj_gone(ff_Ws *ws);
/* The output drained: a send() waiting on it goes on. */
void ff_wsobj_drained(ff_Ws *ws);
/* --ws-ping is due: 0 after writing a ping, -1 when the last one got no pong
 * (the session is closed with 1011). */
int ff_wsobj_ping(ff_Ws *ws);
/* The server is going away (drain, reload): a close frame 1001. */
void ff_wsobj_going_away(ff_Ws *ws);
/* The handler's Task ended (failed: with the exception set). Writes what the
 * handler left unanswered: 403 or 500 before accept, a close frame (1000,
 * 1011 after a failure) when open. Returns the status for the log (101 once
 * accepted), or -1 out of memory. */
int ff_wsobj_finish(ff_Ws *ws, ff_req *r, const char *label, int failed);

#endif
