/* server/worker.h — the state of one serve() call: config, app, workers.
 *
 * The master fills an ff_server before forking; each worker inherits it and
 * adds its own ff_worker (loop, connections, timeouts) after the fork. */
#ifndef FF_SERVER_WORKER_H
#define FF_SERVER_WORKER_H

#include "module.h"

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "dispatch/dispatch.h"
#include "http/parse.h"
#include "server/stats.h"

/* A worker's exit status that stops the server: an ASGI app's
 * lifespan.startup.failed (the message is in the log). sysexits.h's
 * EX_CONFIG, a code an app's own os._exit() is unlikely to pick. */
#define FF_EXIT_LIFESPAN 78

enum ff_freeze { FF_FREEZE_COLLECT, FF_FREEZE_EARLY, FF_FREEZE_OFF, FF_FREEZE_IMMORTAL };


typedef struct {
    int listen_fd;
    int workers;
    int64_t timeout_ms;
    int64_t graceful_ms;
    int64_t keepalive_ms;
    int64_t header_timeout_ms;
    int64_t body_timeout_ms;
    long max_requests;
    long max_requests_jitter;
    int max_connections;
    enum ff_freeze freeze;
    int wsgi;
    ff_http_limits limits;
    int server_port;
    const char *server_name;
    int metrics;            /* serve /_frostfork/{metrics,status,stats.json} */
    int metrics_fd;         /* a separate listener for them, or -1 */
    const char *stats_path; /* unix socket for `frostfork stats`, or NULL */
    int64_t stats_interval_ms;
    int64_t max_worker_uss_kb;
    const char *spool_root;   /* parent of the master's spool directory */
    uint64_t spool_threshold; /* Content-Length above this goes to a file */
    PyObject *access_sink;    /* a DataSink, or NULL (borrowed from serve()'s caller) */
    int access_json;          /* JSON lines, else the common log format */
    PyObject *audit_sink;
    PyObject *mask_names;     /* tuple of extra sensitive names for logs */
} ff_config;

/* The longest --spool-dir accepted, in bytes. Every spool path is built in
 * a fixed buffer below it (this struct's spool, ff_state.spool_dir, a spool
 * file's name), so a longer one is refused at startup rather than cut. */
#define FF_SPOOL_ROOT_MAX 160

typedef struct ff_server {
    ff_config cfg;
    ff_state *st;
    PyObject *wsgi_app; /* borrowed from the caller of serve() */
    ff_app app;
    struct ff_mw *mw;   /* built-in middleware (dispatch/mw.h), NULL when none */
    ff_shared *shared; /* MAP_SHARED: header and FF_MAX_SLOTS slots */
    ff_slot *slots;    /* shared->slots */
    char spool[FF_SPOOL_ROOT_MAX + 24]; /* <spool_root>/frostfork-<master pid> */
} ff_server;

/* Runs one worker in the calling (freshly forked) process until it is told
 * to stop or has served its quota; returns the exit status to _exit with. */
int ff_worker_main(ff_server *srv, int slot, long max_requests);

#endif
