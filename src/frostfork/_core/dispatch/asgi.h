/* dispatch/asgi.h — one ASGI http request (dispatch/asgi.c), as the server
 * sees it while the app's Task runs: where its response goes, and the calls
 * that tell it the client left or the socket drained. */
#ifndef FF_DISPATCH_ASGI_H
#define FF_DISPATCH_ASGI_H

#include "dispatch/dispatch.h"

enum { FF_ASGI_NONE, FF_ASGI_STARTED, FF_ASGI_BODY, FF_ASGI_DONE };

typedef struct ff_Asgi {
    PyObject_HEAD
    ff_env *e;
    ff_buf *out;          /* the response buffer; NULL once the connection is gone */
    void *stream;         /* the server's handle once the app suspended (env->stream_flush) */
    PyObject *body;       /* the request body, handed out in chunks */
    Py_ssize_t body_off;
    int body_done;
    PyObject *disconnect; /* Future of receive() after the body, or NULL */
    PyObject *drain;      /* Future of send() while the output is above its mark, or NULL */
    PyObject *headers;    /* from http.response.start until the head is written */
    int state;            /* FF_ASGI_* */
    int status;
    int chunked, no_body, keep_alive, http10, head_only, gone;
} ff_Asgi;

extern PyType_Spec ff_asgi_spec;
extern PyType_Spec ff_ready_spec;

/* The client left: receive() says http.disconnect, send() raises OSError. */
void ff_asgi_gone(ff_Asgi *a);
/* The socket took enough of the output: a send() waiting on it goes on. */
void ff_asgi_drained(ff_Asgi *a);
/* The app's coroutine ended; see asgi.c. Returns the status answered. */
int ff_asgi_finish(ff_Asgi *a, ff_req *r, const char *label, int failed, int timed_out);

/* Shared with dispatch/ws.c. An awaitable already done with value (stolen;
 * NULL: None). */
PyObject *ff_ready_new(ff_state *st, PyObject *value);
/* Resolves *fut with value (stolen) unless it is done, and clears *fut. */
void ff_future_resolve(PyObject **fut, PyObject *value);
/* msg[key] (key one of the state's interned strings), NULL without an
 * exception when missing. */
PyObject *ff_asgi_get_item(PyObject *msg, PyObject *key);
/* A new {"type": type} message. */
PyObject *ff_asgi_message(ff_state *st, enum ff_asgi_string type);
/* 1 when v is bytes fit for a header name (name=1) or value; else 0 with an exception. */
int ff_asgi_header_ok(PyObject *v, int name);
/* The scope dict of this request: "http", or "websocket" (scheme ws). */
PyObject *ff_asgi_scope(ff_env *e, const ff_req *r, int websocket);

#endif
