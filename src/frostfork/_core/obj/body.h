/* obj/body.h — a spooled request body as a Python object, and the
 * file-like readers handed to handlers (request.stream()) and WSGI apps
 * (wsgi.input) over it.
 *
 * A body larger than --spool-threshold lives in a file in the worker's spool
 * directory. The worker wraps that file in a Spool, which owns its fd and
 * path, and registers Spool.close() as a request-scope finalizer: once the
 * response is written the file is closed and removed, and every reader made
 * over it is detached, so a reader that outlives its request raises
 * ValueError instead of keeping the file alive. Readers read with pread()
 * into the caller's buffer: nothing maps or copies the whole body. */
#ifndef FF_OBJ_BODY_H
#define FF_OBJ_BODY_H

#include "module.h"

extern PyType_Spec ff_spool_spec;
extern PyType_Spec ff_spool_raw_spec;

/* A Spool over fd (open for reading) holding `size` body bytes at `path`.
 * On success it owns both: fd is closed and path unlinked and free()d by
 * its close(). Returns NULL with an exception, and fd and path untouched,
 * on failure. */
PyObject *ff_spool_new(ff_state *st, int fd, char *path, size_t size);
/* The spool's fd, -1 once it was closed. */
int ff_spool_fd(PyObject *spool);
/* Detaches its readers, closes the fd and removes the file; idempotent. */
void ff_spool_close(PyObject *spool);
/* A new io.BufferedReader over the whole body, at position 0. */
PyObject *ff_spool_reader(ff_state *st, PyObject *spool);
/* ... over bytes [start, start + size) of the body only (an uploaded file
 * inside a multipart body), reading as if they were a file of their own. */
PyObject *ff_spool_range_reader(ff_state *st, PyObject *spool, Py_ssize_t start, Py_ssize_t size);
/* The whole body as one bytes object (the copying choice). */
PyObject *ff_spool_read_all(PyObject *spool);

#endif
