/* obj/headers.h — handler-supplied response headers, checked and written. */
#ifndef FF_OBJ_HEADERS_H
#define FF_OBJ_HEADERS_H

#include "module.h"
#include "util/buf.h"

/* User-supplied response headers (a dict or an iterable of (name, value)
 * str pairs), validated against response splitting and appended to out.
 * Content-Length, Transfer-Encoding and Connection are ours to write: they
 * are dropped, but a Content-Length value is remembered (HEAD answers). */
typedef struct {
    int content_type;         /* the user set Content-Type */
    int content_encoding;     /* ... and Content-Encoding (then the body is not gzipped) */
    long long content_length; /* the user's Content-Length, -1 when none */
} ff_headers_seen;
int ff_put_headers(ff_buf *out, PyObject *headers, ff_headers_seen *seen);

#endif
