/* http/response.h — writing response heads and canned error responses.
 *
 * Pure C. The Date header is formatted once per second per worker, and every
 * head is assembled straight into the connection's output buffer. */
#ifndef FF_HTTP_RESPONSE_H
#define FF_HTTP_RESPONSE_H

#include <stddef.h>
#include <time.h>

#include "util/buf.h"

typedef struct {
    time_t sec;
    char line[48]; /* "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" */
    size_t len;
} ff_date_cache;

void ff_date_update(ff_date_cache *d, time_t now);
const char *ff_status_reason(int status);

/* Status line plus Server and Date. reason may be NULL for the standard one. */
int ff_response_begin(ff_buf *out, int status, const char *reason, size_t reason_len,
                      const ff_date_cache *d);
/* Content-Type (when ctype is not NULL), Content-Length (unless body_len is
 * (size_t)-1, for 1xx/204/304), the Connection
 * header when it differs from the version's default, and the blank line. */
int ff_response_finish_head(ff_buf *out, const char *ctype, size_t body_len, int keep_alive,
                            int http10);
/* A whole response with a small JSON body {"detail": msg}. Returns 0, or -1
 * when out of memory, and then none of it is left in out.
 *
 * The other writers return -1 when an append failed and may leave a partial
 * head behind: their callers roll out back to the length it had before. */
int ff_response_error(ff_buf *out, int status, const char *msg, const ff_date_cache *d,
                      int keep_alive, int http10, int head_only);

#endif
