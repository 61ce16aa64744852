/* life/sinks.h — DataSinks: the structural check, and the built-in sinks.
 *
 * A DataSink is anything with write(data: bytes) -> int (flush() and close()
 * optional). The check runs once, at registration, and names the member
 * that is missing or has the wrong shape. Built-in sinks are C objects the
 * worker writes to without calling Python: a file descriptor (stdout,
 * stderr, an append-only file reopened on SIGUSR1) and a SQLite table. */
#ifndef FF_LIFE_SINKS_H
#define FF_LIFE_SINKS_H

#include "module.h"

/* check_sink(obj, role) -> obj; TypeError naming the problem. */
PyObject *ff_py_check_sink(PyObject *module, PyObject *args);

/* If sink is a built-in C sink, writes buf[0..len) (whole lines, one call)
 * and returns 1 (0 when the write failed or would block: the batch is
 * dropped). Returns -2 when sink is not a C sink. */
int ff_sink_write_c(ff_state *st, PyObject *sink, const char *buf, size_t len);
/* Reopens file sinks (logrotate moved the file): SIGUSR1. */
void ff_sink_reopen(ff_state *st, PyObject *sink);

extern PyType_Spec ff_filesink_spec;
extern PyType_Spec ff_sqlitesink_spec;

#endif
