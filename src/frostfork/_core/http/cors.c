/* http/cors.c — CORS: origin, method and header checks, and the headers that
 * answer them. See cors.h for the contract. */
#include "http/cors.h"

#include <ctype.h>
#include <strings.h>
#include <stdio.h>

static const char *const SAFELISTED[] = {"accept", "accept-language", "content-language",
                                         "content-type"};

static char *dup_mapped(const char *s, int (*map)(int))
{
    size_t n = strlen(s);
    char *d = ff_malloc(n + 1);
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++)
        d[i] = (char)map((unsigned char)s[i]);
    d[n] = '\0';
    return d;
}

static int keep(int ch) { return ch; }

/* Copies a list, mapping each character; "*" sets *any instead of being kept. */
static int copy_list(char ***dst, size_t *ndst, int *any, const char *const *src, size_t n,
                     size_t extra, int (*map)(int))
{
    *dst = ff_malloc((n + extra + 1) * sizeof(char *));
    if (!*dst)
        return -1;
    *ndst = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(src[i], "*") == 0) {
            *any = 1;
            continue;
        }
        if (!((*dst)[(*ndst)++] = dup_mapped(src[i], map)))
            return -1;
    }
    return 0;
}

/* "a, b, c" from a list. */
static char *join(char *const *items, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(items[i]) + 2;
    char *s = ff_malloc(len);
    if (!s)
        return NULL;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(items[i]);
        if (i) {
            memcpy(s + at, ", ", 2);
            at += 2;
        }
        memcpy(s + at, items[i], k);
        at += k;
    }
    s[at] = '\0';
    return s;
}

int ff_cors_init(ff_cors *c, const char *const *origins, size_t norigins,
                 const char *const *methods, size_t nmethods, const char *const *headers,
                 size_t nheaders, int credentials, long max_age)
{
    memset(c, 0, sizeof *c);
    c->credentials = credentials;
    c->max_age = max_age;
    size_t nsafe = sizeof SAFELISTED / sizeof *SAFELISTED;
    if (copy_list(&c->origins, &c->norigins, &c->any_origin, origins, norigins, 0, keep) < 0 ||
        copy_list(&c->methods, &c->nmethods, &c->any_method, methods, nmethods, 0, toupper) < 0 ||
        copy_list(&c->headers, &c->nheaders, &c->any_header, headers, nheaders, nsafe,
                  tolower) < 0)
        goto oom;
    for (size_t i = 0; i < nsafe; i++) {
        int have = 0;
        for (size_t j = 0; j < c->nheaders; j++)
            have |= strcmp(c->headers[j], SAFELISTED[i]) == 0;
        if (!have && !(c->headers[c->nheaders++] = dup_mapped(SAFELISTED[i], keep)))
            goto oom;
    }
    static char *const ALL_METHODS[] = {"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST",
                                        "PUT"};
    c->methods_text = c->any_method ? join(ALL_METHODS, sizeof ALL_METHODS / sizeof *ALL_METHODS)
                                    : join(c->methods, c->nmethods);
    c->headers_text = join(c->headers, c->nheaders);
    if (!c->methods_text || !c->headers_text)
        goto oom;
    return 0;
oom:
    ff_cors_free(c);
    return -1;
}

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; l && i < n; i++)
        ff_free(l[i]);
    ff_free(l);
}

void ff_cors_free(ff_cors *c)
{
    free_list(c->origins, c->norigins);
    free_list(c->methods, c->nmethods);
    free_list(c->headers, c->nheaders);
    ff_free(c->methods_text);
    ff_free(c->headers_text);
    memset(c, 0, sizeof *c);
}

int ff_cors_origin_allowed(const ff_cors *c, const char *origin, size_t n)
{
    if (c->any_origin)
        return 1;
    for (size_t i = 0; i < c->norigins; i++)
        if (strlen(c->origins[i]) == n && memcmp(c->origins[i], origin, n) == 0)
            return 1;
    return 0;
}

static int method_allowed(const ff_cors *c, const char *m, size_t n)
{
    if (c->any_method)
        return 1;
    for (size_t i = 0; i < c->nmethods; i++)
        if (strlen(c->methods[i]) == n && memcmp(c->methods[i], m, n) == 0)
            return 1;
    return 0;
}

static int header_allowed(const ff_cors *c, const char *h, size_t n)
{
    for (size_t i = 0; i < c->nheaders; i++)
        if (strlen(c->headers[i]) == n && strncasecmp(c->headers[i], h, n) == 0)
            return 1;
    return 0;
}

/* Every name of a comma-separated Access-Control-Request-Headers value is
 * allowed (empty items, as "a,,b" has, are skipped). */
static int headers_allowed(const ff_cors *c, const char *v, size_t n)
{
    if (c->any_header)
        return 1;
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < n && v[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        if (end > start && !header_allowed(c, v + start, end - start))
            return 0;
    }
    return 1;
}

static int line(ff_buf *out, const char *name, const char *v, size_t n)
{
    return ff_buf_puts(out, name) < 0 || ff_buf_append(out, ": ", 2) < 0 ||
                   ff_buf_append(out, v, n) < 0 || ff_buf_append(out, "\r\n", 2) < 0
               ? -1
               : 0;
}

/* Allow-Origin (echoed, or "*" when any origin may read it and no
 * credentials are involved), Allow-Credentials, and Vary when the answer
 * depends on the origin. */
static int origin_lines(const ff_cors *c, ff_buf *out, const char *origin, size_t n)
{
    if (c->any_origin && !c->credentials)
        return line(out, "Access-Control-Allow-Origin", "*", 1);
    if (line(out, "Access-Control-Allow-Origin", origin, n) < 0 ||
        line(out, "Vary", "Origin", 6) < 0)
        return -1;
    return c->credentials ? line(out, "Access-Control-Allow-Credentials", "true", 4) : 0;
}

int ff_cors_simple_headers(const ff_cors *c, ff_buf *out, const char *origin, size_t n)
{
    if (!ff_cors_origin_allowed(c, origin, n))
        return 0;
    return origin_lines(c, out, origin, n);
}

int ff_cors_preflight(const ff_cors *c, ff_buf *out, const char *origin, size_t on,
                      const char *method, size_t mn, const char *req_headers, size_t hn,
                      const char **reason)
{
    *reason = NULL;
    if (!ff_cors_origin_allowed(c, origin, on))
        *reason = "Disallowed CORS origin";
    else if (!method_allowed(c, method, mn))
        *reason = "Disallowed CORS method";
    else if (req_headers && !headers_allowed(c, req_headers, hn))
        *reason = "Disallowed CORS headers";
    char age[24];
    int an = snprintf(age, sizeof age, "%ld", c->max_age);
    if ((!*reason && origin_lines(c, out, origin, on) < 0) ||
        line(out, "Access-Control-Allow-Methods", c->methods_text, strlen(c->methods_text)) < 0 ||
        line(out, "Access-Control-Max-Age", age, (size_t)an) < 0)
        return -1;
    /* any header: the ones asked for are the ones allowed */
    if (c->any_header && req_headers && hn) {
        if (line(out, "Access-Control-Allow-Headers", req_headers, hn) < 0)
            return -1;
    } else if (line(out, "Access-Control-Allow-Headers", c->headers_text,
                    strlen(c->headers_text)) < 0) {
        return -1;
    }
    return *reason ? 400 : 200;
}
