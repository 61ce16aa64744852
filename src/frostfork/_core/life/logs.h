/* life/logs.h — a worker's access log and audit trail.
 *
 * Lines are formatted in C into per-worker buffers and written as whole-line
 * batches every 100 ms (and when a buffer passes 64 KiB, and at exit), so
 * logging costs no syscall per request and lines from different workers
 * never interleave. Built-in sinks are written from C; any other DataSink
 * gets its batches on a writer thread through a bounded queue, so a sink
 * that raises or blocks loses lines (reported once) but never stalls the
 * worker. Secrets are masked before a line is formatted: query parameters
 * with sensitive names, and every Sensitive value the request carried. */
#ifndef FF_LIFE_LOGS_H
#define FF_LIFE_LOGS_H

#include "module.h"
#include "http/parse.h"
#include "util/buf.h"

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

typedef struct ff_logs {
    ff_state *st;
    pid_t pid;
    int json;           /* access lines as JSON, else the common log format */
    PyObject *mask_names; /* tuple of extra sensitive names (borrowed), or NULL */
    PyObject *sink[2];  /* access, audit (borrowed from the config) */
    PyObject *put[2];   /* writer-thread queue put, for Python sinks */
    ff_buf buf[2];
    ff_buf tmp;         /* the masked request target of the line being written */
    int64_t next_flush_ms;
    int reported[2];
    time_t time_sec;    /* the second `time` was formatted for */
    char time[40];
    size_t time_len;
} ff_logs;

enum { FF_LOG_ACCESS, FF_LOG_AUDIT };

/* One request just answered, as the access log sees it: a plain record the
 * worker fills, so this layer knows nothing of connections or workers. */
typedef struct {
    const ff_http_request *http;
    const char *peer_host;  /* "" when unknown */
    size_t bytes_in, bytes_out;
    int status;
    int64_t duration_us;
    const char *request_id;
} ff_access;

/* Sinks may be NULL (that log is off). Returns 0, or -1 with an exception. */
int ff_logs_init(ff_logs *l, ff_state *st, PyObject *access_sink, PyObject *audit_sink,
                 int access_json, PyObject *mask_names);
void ff_logs_close(ff_logs *l);
/* One access-log line. */
void ff_logs_access(ff_logs *l, const ff_access *a, int64_t now_ms);
/* Writes what is buffered (force: regardless of the 100 ms cadence). */
void ff_logs_flush(ff_logs *l, int64_t now_ms, int force);
/* Replaces every secret of the current request in text with "***". */
PyObject *ff_scrub(ff_state *st, PyObject *text);
/* The same on bytes, in place into out (used for log lines). */
void ff_scrub_buf(ff_state *st, ff_buf *b, size_t from);

#endif
