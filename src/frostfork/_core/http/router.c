/* http/router.c — segment trie for routes (see router.h for the rules). */
#include "http/router.h"
#include "util/hex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ff_rnode {
    char *seg; /* literal segment text (not for the root or the param child) */
    size_t seg_len;
    ff_rnode **lits;
    size_t nlits;
    ff_rnode *param;
    int handler[FF_M_COUNT]; /* route id per method, -1 when none */
};

static const char *const method_names[FF_M_COUNT] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};

enum ff_method ff_method_from(const char *m, size_t n)
{
    for (int i = 0; i < FF_M_COUNT; i++)
        if (strlen(method_names[i]) == n && memcmp(method_names[i], m, n) == 0)
            return (enum ff_method)i;
    return FF_M_OTHER;
}

const char *ff_method_name(enum ff_method m) { return m < FF_M_COUNT ? method_names[m] : "?"; }

static ff_rnode *node_new(const char *seg, size_t len)
{
    ff_rnode *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    for (int i = 0; i < FF_M_COUNT; i++)
        n->handler[i] = -1;
    if (seg) {
        n->seg = malloc(len + 1);
        if (!n->seg) {
            free(n);
            return NULL;
        }
        memcpy(n->seg, seg, len);
        n->seg[len] = '\0';
        n->seg_len = len;
    }
    return n;
}

static void node_free(ff_rnode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nlits; i++)
        node_free(n->lits[i]);
    free(n->lits);
    node_free(n->param);
    free(n->seg);
    free(n);
}

int ff_router_init(ff_router *r)
{
    r->root = node_new(NULL, 0);
    return r->root ? 0 : -1;
}

void ff_router_free(ff_router *r)
{
    node_free(r->root);
    r->root = NULL;
}

static ff_rnode *child_literal(ff_rnode *n, const char *seg, size_t len, int create)
{
    for (size_t i = 0; i < n->nlits; i++)
        if (n->lits[i]->seg_len == len && memcmp(n->lits[i]->seg, seg, len) == 0)
            return n->lits[i];
    if (!create)
        return NULL;
    ff_rnode **grown = realloc(n->lits, (n->nlits + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    n->lits = grown;
    ff_rnode *c = node_new(seg, len);
    if (!c)
        return NULL;
    n->lits[n->nlits++] = c;
    return c;
}

/* Walks the pattern segment by segment, creating nodes as needed. A segment
 * is either literal text or exactly `{name}`; the names themselves are the
 * binding layer's concern (it reads them from the same pattern). */
int ff_router_add(ff_router *r, enum ff_method m, const char *pattern, int route_id,
                  char *err, size_t errlen)
{
    if (m >= FF_M_COUNT) {
        snprintf(err, errlen, "unsupported method");
        return -1;
    }
    if (pattern[0] != '/') {
        snprintf(err, errlen, "route %s must start with '/'", pattern);
        return -1;
    }
    ff_rnode *n = r->root;
    const char *p = pattern;
    int nparams = 0;
    if (strcmp(pattern, "/") != 0) {
        while (*p == '/') {
            const char *seg = p + 1;
            const char *end = strchr(seg, '/');
            size_t len = end ? (size_t)(end - seg) : strlen(seg);
            if (len >= 2 && seg[0] == '{' && seg[len - 1] == '}') {
                if (len == 2 || memchr(seg + 1, '{', len - 2) || memchr(seg + 1, '}', len - 2)) {
                    snprintf(err, errlen, "route %s has a malformed parameter", pattern);
                    return -1;
                }
                if (++nparams > FF_ROUTE_MAX_PARAMS) {
                    snprintf(err, errlen, "route %s has more than %d parameters", pattern,
                             FF_ROUTE_MAX_PARAMS);
                    return -1;
                }
                if (!n->param && !(n->param = node_new(NULL, 0)))
                    goto nomem;
                n = n->param;
            } else {
                if (memchr(seg, '{', len) || memchr(seg, '}', len)) {
                    snprintf(err, errlen, "route %s: a parameter must fill a whole segment",
                             pattern);
                    return -1;
                }
                if (!(n = child_literal(n, seg, len, 1)))
                    goto nomem;
            }
            p = seg + len;
        }
    }
    if (n->handler[m] != -1) {
        snprintf(err, errlen, "duplicate route %s %s", ff_method_name(m), pattern);
        return -1;
    }
    n->handler[m] = route_id;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory");
    return -1;
}

typedef struct {
    ff_slice *params;
    size_t nparams;
} match_state;

/* Depth-first match of the remaining path (which starts just after a '/').
 * Returns the node reached by the whole path or NULL. Literal children are
 * preferred; the parameter child is tried when they fail deeper down. */
static const ff_rnode *match_node(const ff_rnode *n, const char *p, const char *end,
                                  match_state *st)
{
    const char *slash = memchr(p, '/', (size_t)(end - p));
    const char *segend = slash ? slash : end;
    size_t len = (size_t)(segend - p);
    for (size_t i = 0; i < n->nlits; i++) {
        const ff_rnode *c = n->lits[i];
        if (c->seg_len == len && memcmp(c->seg, p, len) == 0) {
            const ff_rnode *hit = slash ? match_node(c, slash + 1, end, st) : c;
            if (hit)
                return hit;
            break;
        }
    }
    if (n->param && len > 0 && st->nparams < FF_ROUTE_MAX_PARAMS) {
        size_t mark = st->nparams;
        st->params[st->nparams].p = p;
        st->params[st->nparams].n = len;
        st->nparams++;
        const ff_rnode *hit = slash ? match_node(n->param, slash + 1, end, st) : n->param;
        if (hit)
            return hit;
        st->nparams = mark;
    }
    return NULL;
}

int ff_router_match(const ff_router *r, enum ff_method m, const char *path, size_t len,
                    int *route_id, ff_slice *params, size_t *nparams, unsigned *allow)
{
    match_state st = {params, 0};
    const ff_rnode *n;
    if (len == 0 || path[0] != '/')
        return FF_ROUTE_NOT_FOUND;
    if (len == 1)
        n = r->root;
    else
        n = match_node(r->root, path + 1, path + len, &st);
    if (!n)
        return FF_ROUTE_NOT_FOUND;
    int id = m < FF_M_COUNT ? n->handler[m] : -1;
    if (id < 0 && m == FF_M_HEAD)
        id = n->handler[FF_M_GET];
    if (id < 0) {
        unsigned mask = 0;
        for (int i = 0; i < FF_M_COUNT; i++)
            if (n->handler[i] >= 0)
                mask |= 1u << i;
        if (mask & (1u << FF_M_GET))
            mask |= 1u << FF_M_HEAD;
        if (!mask)
            return FF_ROUTE_NOT_FOUND;
        *allow = mask;
        return FF_ROUTE_BAD_METHOD;
    }
    *route_id = id;
    *nparams = st.nparams;
    return FF_ROUTE_FOUND;
}

long ff_percent_decode(char *dst, const char *src, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '%') {
            int hi, lo;
            if (i + 2 >= len)
                return -1;
            hi = ff_hexval(src[i + 1]);
            lo = ff_hexval(src[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            dst[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            dst[o++] = src[i];
        }
    }
    return (long)o;
}
