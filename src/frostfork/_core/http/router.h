/* http/router.h — the route table, built once, matched in C per request.
 *
 * Pure C. Patterns are split on '/' into a trie of segments: literal
 * children are tried before the single `{name}` child, with backtracking, so
 * `/users/me` wins over `/users/{id}` and `/users/{id}/posts` still matches.
 * A route is an integer id the caller maps to its handler. */
#ifndef FF_HTTP_ROUTER_H
#define FF_HTTP_ROUTER_H

#include <stddef.h>

enum ff_method {
    FF_M_GET, FF_M_HEAD, FF_M_POST, FF_M_PUT, FF_M_DELETE, FF_M_PATCH, FF_M_OPTIONS,
    FF_M_COUNT,
    FF_M_OTHER = FF_M_COUNT
};

enum { FF_ROUTE_FOUND = 0, FF_ROUTE_NOT_FOUND = 1, FF_ROUTE_BAD_METHOD = 2 };

#define FF_ROUTE_MAX_PARAMS 16

typedef struct { const char *p; size_t n; } ff_slice;
typedef struct ff_rnode ff_rnode;
typedef struct { ff_rnode *root; } ff_router;

enum ff_method ff_method_from(const char *m, size_t n);
const char *ff_method_name(enum ff_method m);

int ff_router_init(ff_router *r);
void ff_router_free(ff_router *r);
/* Adds `method pattern -> route_id`. Returns 0, or -1 with a message in err
 * (bad pattern, duplicate route, too many parameters, out of memory). */
int ff_router_add(ff_router *r, enum ff_method m, const char *pattern, int route_id,
                  char *err, size_t errlen);
/* Matches a raw (still percent-encoded) path. On FF_ROUTE_FOUND sets
 * *route_id and the captured parameter slices in pattern order. On
 * FF_ROUTE_BAD_METHOD sets *allow to a bitmask of the methods the path has. */
int ff_router_match(const ff_router *r, enum ff_method m, const char *path, size_t len,
                    int *route_id, ff_slice *params, size_t *nparams, unsigned *allow);

/* Percent-decodes src into dst (dst may equal src; never longer). Returns the
 * decoded length, or -1 on a malformed escape. */
long ff_percent_decode(char *dst, const char *src, size_t len);

#endif
