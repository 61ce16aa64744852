/* dispatch/dispatch.h — answering one complete request: the native route
 * table and the WSGI app, and the narrow environment they run in.
 *
 * A dispatcher reads an ff_req (obj/request.h), appends one whole response
 * to the buffer it is given and returns its status. It sees no connection
 * and no worker: the worker (server/) and the in-process engine
 * (server/engine.c) each own an ff_env and call ff_dispatch_run. */
#ifndef FF_DISPATCH_DISPATCH_H
#define FF_DISPATCH_DISPATCH_H

#include "module.h"
#include "dispatch/strcache.h"
#include "dispatch/send.h"
#include "http/response.h"
#include "http/router.h"
#include "obj/request.h"
#include "util/buf.h"

#include <sys/stat.h>
#include <sys/types.h>

typedef struct {
    PyObject *plan;        /* frostfork.Plan */
    PyObject *param_names; /* tuple: the pattern's {names}, in order */
    PyObject *record;      /* the frostfork.routing.Route, or NULL */
    char *label;           /* "GET /users/{id}" for logs */
    int status;            /* of a plain return value: the route's status_code, else 200 */
    PyObject *response;    /* the response model's Schema, or NULL: results encoded as they are */
    int websocket;         /* an @app.websocket route (dispatch/ws.c) */
} ff_route;

/* A folder served by app.static(): files below dirfd under the URL prefix. */
typedef struct {
    char *prefix;     /* "/static", no trailing slash */
    size_t prefix_len;
    int dirfd;        /* O_PATH of the folder, opened at build */
    int precompressed; /* serve name.gz to clients that accept gzip */
} ff_static;

/* The native app: the route trie and, per route id, its plan; static
 * folders; and what App.runtime() gave (each NULL when the app does not use
 * it, so an unused feature costs one pointer test per request at most). */
typedef struct {
    ff_router router;
    ff_route *routes;
    size_t nroutes;
    PyObject *exc_handlers; /* dict: exception class -> fn(request, exc) */
    PyObject *middleware;   /* tuple of fn(request, call_next), outermost first */
    PyObject *http_error;   /* frostfork.HTTPError, rendered {"detail": ...} */
    PyObject *worker_start; /* run in each worker after fork */
    PyObject *worker_stop;  /* run in each worker as it stops */
    int worker_started;     /* worker_start ran and returned */
    ff_static *statics;
    size_t nstatics;
} ff_app;

/* Builds the C route table from App._compile()'s list of
 * (method, pattern, plan, param_names[, route record]). The record's
 * `response_schema` (frostfork.shape.for_route, asked once here) is the
 * response model's Schema, or None. Returns 0, or -1 with err set. */
int ff_app_build(ff_app *app, PyObject *routes, PyTypeObject *plan_type, char *err,
                 size_t errlen);
/* Takes App.runtime()'s dict (or None): exception handlers, middleware,
 * HTTPError, worker hooks. Returns 0, or -1 with a Python exception. */
int ff_app_runtime(ff_app *app, PyObject *runtime);
/* In a worker: worker_start after fork, worker_stop as it stops (only if
 * worker_start returned). Each returns 0, or -1 after printing what raised. */
int ff_app_worker_start(ff_app *app);
void ff_app_worker_stop(ff_app *app);
void ff_app_free(ff_app *app);

struct ff_Asgi; /* dispatch/asgi.h */
struct ff_Ws;   /* dispatch/ws.h */

/* Everything a dispatcher may use besides the request itself. */
typedef struct ff_env {
    ff_state *st;
    const ff_app *app;            /* native routes; NULL when hosting a WSGI app */
    PyObject *wsgi_app;           /* the WSGI callable (borrowed), or NULL */
    const ff_date_cache *date;    /* kept current by the owner */
    ff_buf scratch;               /* response body scratch (JSON encoding); owned */
    pid_t pid;                    /* for request ids and log lines */
    unsigned long long req_seq;   /* request ids generated so far */
    int capture_errors;           /* keep a handler's exception in `error` (test client) */
    PyObject *error;              /* ... the first one of the current request, owned */
    /* async handlers (dispatch/aio.c): where a coroutine that suspended goes, and
     * whether that many are running that new ones are refused (--max-concurrency) */
    int (*suspend)(struct ff_env *e, const ff_req *r, PyObject *coro, PyObject *yielded,
                   PyObject *ctx, const char *label, struct ff_Finalizer *mark,
                   struct ff_Asgi *asgi, const ff_route *rt, struct ff_Ws *ws);
    int busy;
    int inline_step;              /* run a native coroutine's first step inline (no Task) */
    PyObject *loop;               /* the worker's event loop (borrowed), or NULL */
    /* ASGI (dispatch/asgi.c): the app (borrowed), what every scope shares, and how a
     * suspended request's output reaches its socket */
    PyObject *asgi_app;
    PyObject *asgi_state;         /* the lifespan state, copied into each scope, or NULL */
    PyObject *asgi_version;       /* {"version": "3.0", "spec_version": "2.4"} */
    PyObject *asgi_root_path;     /* str */
    PyObject *asgi_server;        /* (host, port) or None */
    void (*stream_flush)(void *stream);
    /* websockets: the 101 was written (the connection carries frames from now on), and
     * the session's receive queue went low (read from the socket again) */
    void (*ws_opened)(void *stream);
    void (*ws_resume)(void *stream);
    /* WSGI: the environ keys that never change, and cached short strings */
    PyObject *environ_base;
    ff_strcache strings;
    struct ff_mw *mw;             /* built-in middleware (dispatch/mw.h), NULL when none; borrowed */
    /* a response body left for the owner to send after the head (send.h) */
    ff_body_src src;
    int src_close;                /* ... and the connection ends with it (HTTP/1.0 stream) */
} ff_env;

/* Sets the env up (the WSGI environ base when wsgi_app is set). Returns 0,
 * or -1 with a Python exception. ff_env_clear releases what it owns. */
int ff_env_init(ff_env *e, ff_state *st, const ff_app *app, PyObject *wsgi_app,
                const ff_date_cache *date, const char *server_name, int server_port);
void ff_env_clear(ff_env *e);

/* Runs one request through the native or WSGI dispatcher and returns its
 * status. Out of memory for the response, it cuts off what part of it was
 * written, clears r->keep_alive and returns 0: the caller closes the
 * connection without sending a truncated response. */
int ff_dispatch_run(ff_env *e, ff_req *r, ff_buf *out);
/* After the request is logged: forgets its id and its secrets. */
void ff_dispatch_end(ff_env *e);

/* The two dispatchers: append one complete response to out and return its
 * status code; any Python error becomes a logged 500. -1 only when out of
 * memory for the response itself (out may then hold part of it). */
int ff_native_dispatch(ff_env *e, const ff_req *r, ff_buf *out);
int ff_wsgi_dispatch(ff_env *e, const ff_req *r, ff_buf *out);
/* The status a dispatcher returns for a request whose async handler
 * suspended: env->suspend took it, and its response is written later. */
#define FF_STATUS_PENDING (-2)

/* Writes what a native handler returned (bytes, str, a Response, or JSON).
 * Returns the status, or -1 with a Python exception and nothing written. */
int ff_native_write_result(ff_env *e, const ff_req *r, ff_buf *out, PyObject *res,
                           const ff_route *rt);
/* An async handler raised (the exception is pending): its exception handler,
 * HTTPError, or 500. Returns the status. */
int ff_native_write_failure(ff_env *e, const ff_req *r, ff_buf *out, const ff_route *rt);
/* dispatch/aio.c: runs an async handler's coroutine to its first suspension.
 * Finished: its result is written. Suspended: handed to env->suspend (the
 * finalizers pushed since `mark` are the request's), FF_STATUS_PENDING. */
int ff_async_run(ff_env *e, const ff_req *r, ff_buf *out, PyObject *coro, const char *label,
                 struct ff_Finalizer *mark, struct ff_Asgi *asgi, const ff_route *rt);
/* dispatch/asgi.c: one request of the ASGI app (env->asgi_app). */
int ff_asgi_dispatch(ff_env *e, ff_req *r, ff_buf *out);
/* Whether calling this handler makes a coroutine (an `async def`). */
int ff_async_callable(PyObject *fn);
/* 503 with Retry-After: the worker runs --max-concurrency async handlers. */
int ff_async_busy(ff_env *e, const ff_req *r, ff_buf *out);

/* The environ keys every request of this env shares (ff_env_init calls it). */
int ff_wsgi_env_init(ff_env *e, const char *server_name, int server_port);

/* How a file is answered (files.c). fd is taken over. */
typedef struct {
    int fd;
    const struct stat *st;
    const char *ctype;
    const char *filename;  /* Content-Disposition filename, or NULL */
    size_t filename_len;
    const char *disposition; /* "attachment" or "inline" */
    PyObject *headers;     /* the user's extra headers, or NULL */
    int status;            /* 0: 200 */
    int gzip;              /* the file is a .gz sibling: Content-Encoding: gzip */
    int vary;              /* Vary: Accept-Encoding */
} ff_file_opts;

/* A file answered with its validators, ranges and conditions (see files.c);
 * the body left in e->src. Returns the status, or -1 when out of memory. */
int ff_file_respond(ff_env *e, const ff_req *r, ff_buf *out, const ff_file_opts *o);
/* A request under a static folder; rest is the path after the prefix. */
int ff_static_serve(ff_env *e, const ff_req *r, ff_buf *out, const ff_static *m,
                    const char *rest, size_t n);
/* A frostfork.FileResponse / StreamingResponse the handler returned: the
 * status, or -1 with a Python exception (nothing left in out). */
int ff_file_response(ff_env *e, const ff_req *r, ff_buf *out, PyObject *resp);
int ff_stream_response(ff_env *e, const ff_req *r, ff_buf *out, PyObject *resp);
/* Sends what is left in e->src into out at once (the engine's way). Returns
 * 0, or -1 with a Python exception (the body is cut short). */
int ff_env_drain_src(ff_env *e, ff_buf *out);

/* The current request's id: its X-Request-Id when that is a sane token,
 * else "<pid hex>-<counter hex>"; made on first use. */
const char *ff_request_id(ff_env *e, const ff_req *r);

/* Logs the pending Python exception with the request id and writes the 500
 * response that carries the same id. Returns 500, or -1 with none of the
 * response left in out when out of memory for it. */
int ff_fail_500(ff_env *e, const ff_req *r, ff_buf *out, const char *what);

#endif
