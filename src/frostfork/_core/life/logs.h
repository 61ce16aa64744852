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

#include "server/conn.h"

#include <time.h>

typedef struct ff_logs {
    PyObject *sink[2];  /* access, audit (borrowed from the config) */
    PyObject *put[2];   /* writer-thread queue put, for Python sinks */
    ff_buf buf[2];
    int64_t next_flush_ms;
    int reported[2];
    time_t time_sec;    /* the second `time` was formatted for */
    char time[40];
    size_t time_len;
} ff_logs;

enum { FF_LOG_ACCESS, FF_LOG_AUDIT };

int ff_logs_init(ff_logs *l, ff_worker *w);
void ff_logs_close(ff_logs *l, ff_worker *w);
/* One access-log line for a request just answered. */
void ff_logs_access(ff_logs *l, ff_worker *w, const ff_req *r, int status, size_t bytes_out,
                    int64_t duration_us, const char *request_id);
/* Writes what is buffered (force: regardless of the 100 ms cadence). */
void ff_logs_flush(ff_logs *l, ff_worker *w, int force);
/* Replaces every secret of the current request in text with "***". */
PyObject *ff_scrub(ff_state *st, PyObject *text);
/* The same on bytes, in place into out (used for log lines). */
void ff_scrub_buf(ff_state *st, ff_buf *b, size_t from);

#endif
