/* http/cors.h — CORS decisions and headers (the Fetch standard's CORS
 * protocol, as Starlette's CORSMiddleware answers it).
 *
 * Pure C: the configuration is copied once into an ff_cors; per request the
 * functions read header values the parser already found and append header
 * lines to a buffer. Nothing here allocates per request except buffer growth. */
#ifndef FF_HTTP_CORS_H
#define FF_HTTP_CORS_H

#include <stddef.h>

#include "util/buf.h"

typedef struct {
    char **origins;      /* exact origins ("https://a.example"), or any_origin */
    size_t norigins;
    int any_origin;      /* "*" was given */
    char **methods;      /* upper-case method names, or any_method */
    size_t nmethods;
    int any_method;
    char *methods_text;  /* "GET, POST": the Allow-Methods value of a preflight */
    char **headers;      /* lower-case request header names allowed, or any_header */
    size_t nheaders;
    int any_header;
    char *headers_text;  /* "accept, content-type, x-token": Allow-Headers of a preflight */
    int credentials;
    long max_age;
} ff_cors;

/* Copies the lists. "*" in a list means any. The CORS-safelisted request
 * headers (accept, accept-language, content-language, content-type) are always
 * allowed. Returns 0, or -1 when out of memory (c is then freed). */
int ff_cors_init(ff_cors *c, const char *const *origins, size_t norigins,
                 const char *const *methods, size_t nmethods, const char *const *headers,
                 size_t nheaders, int credentials, long max_age);
void ff_cors_free(ff_cors *c);

int ff_cors_origin_allowed(const ff_cors *c, const char *origin, size_t n);

/* The header lines a response to an ordinary cross-origin request carries
 * (Allow-Origin, Allow-Credentials, Vary). Appends nothing for an origin not
 * allowed. 0, or -1 when out of memory. */
int ff_cors_simple_headers(const ff_cors *c, ff_buf *out, const char *origin, size_t n);

/* Answers a preflight (OPTIONS with Origin and Access-Control-Request-Method):
 * appends its header lines to out and returns 200, or returns 400 with
 * *reason set ("Disallowed CORS origin", "... method", "... headers") and
 * the header lines that still apply; -1 when out of memory. req_headers is
 * the Access-Control-Request-Headers value (NULL when absent). */
int ff_cors_preflight(const ff_cors *c, ff_buf *out, const char *origin, size_t on,
                      const char *method, size_t mn, const char *req_headers, size_t hn,
                      const char **reason);

#endif
