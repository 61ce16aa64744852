/* fuzz/fuzz_parse.c — libFuzzer target for ff_http_parse_request (http/parse.c).
 *
 * Every input is parsed under two sets of limits (the server's defaults, and
 * tiny ones so that the 414/431 paths are reached by short inputs), three
 * ways each:
 *   1. whole, from an exact-size copy, so any read past len is an ASan report;
 *   2. split at a point derived from the data: the prefix first, from its own
 *      exact-size copy, then, if that asked for more, the whole input with
 *      prev_len set to the split point;
 *   3. fed incrementally in steps of a data-derived size with the prev_len
 *      protocol, as the worker does when bytes trickle in.
 * A decisive answer (n or -1) on any prefix must be the whole input's answer,
 * since the parser promises that a split never changes the result. On success
 * every pointer the parser hands back lies inside the parsed head, path and
 * query lie inside the target (except the literal "/" an absolute-form target
 * without a path gets), and field names and values hold only the bytes the
 * grammar allows. Any violation aborts, which libFuzzer records as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parse.h"

#define MAX_HEADERS 100

static const ff_http_limits LIMITS[2] = {
    /* frostfork serve's defaults */
    {.max_request_line = 8190, .max_header_bytes = 16384, .max_headers = MAX_HEADERS,
     .max_body = 16u << 20, .max_chunk_ext = 4096},
    /* tiny: every limit is reachable by a short input */
    {.max_request_line = 24, .max_header_bytes = 64, .max_headers = 3, .max_body = 100,
     .max_chunk_ext = 8},
};

#define FAIL(...)                                                                             \
    do {                                                                                      \
        fprintf(stderr, "fuzz_parse invariant broken (%s:%d): ", __FILE__, __LINE__);       \
        fprintf(stderr, __VA_ARGS__);                                                         \
        fputc('\n', stderr);                                                                  \
        abort();                                                                              \
    } while (0)

typedef struct {
    ssize_t ret;
    enum ff_http_error err;
    ff_http_request req;
    ff_http_header headers[MAX_HEADERS];
} result;

static int inside(const char *p, size_t n, const char *lo, size_t lo_len)
{
    return p >= lo && n <= lo_len && (size_t)(p - lo) <= lo_len - n;
}

static int is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* The result of one call must be one of the three the contract allows, and a
 * success must describe the buffer it was given. */
static void check_result(const result *r, const char *buf, size_t len, const ff_http_limits *lim)
{
    const ff_http_request *q = &r->req;
    size_t i, j;

    if (r->ret == -2) {
        if (r->err != FF_HTTP_OK)
            FAIL("-2 with err %d", (int)r->err);
        return;
    }
    if (r->ret == -1) {
        int st = ff_http_error_status(r->err);
        if (r->err <= FF_HTTP_OK || r->err >= FF_HTTP_E__COUNT)
            FAIL("-1 with err %d", (int)r->err);
        if (st != 400 && st != 413 && st != 414 && st != 431 && st != 501 && st != 505)
            FAIL("err %d maps to status %d", (int)r->err, st);
        if (ff_http_error_text(r->err) == NULL)
            FAIL("no text for err %d", (int)r->err);
        return;
    }
    if (r->ret <= 0 || (size_t)r->ret > len)
        FAIL("ret %zd outside (0, %zu]", r->ret, len);
    if (r->err != FF_HTTP_OK)
        FAIL("success with err %d", (int)r->err);

    size_t n = (size_t)r->ret;
    if (n < 2 || buf[n - 1] != '\n')
        FAIL("head of %zu bytes does not end in LF", n);
    if (q->method_len == 0 || !inside(q->method, q->method_len, buf, n))
        FAIL("method outside the head");
    for (i = 0; i < q->method_len; i++)
        if (!is_tchar((unsigned char)q->method[i]))
            FAIL("method byte 0x%02x is not a tchar", (unsigned char)q->method[i]);
    if (q->target_len == 0 || !inside(q->target, q->target_len, buf, n))
        FAIL("target outside the head");
    for (i = 0; i < q->target_len; i++) {
        unsigned char c = (unsigned char)q->target[i];
        if (c <= 0x20 || c >= 0x7f || c == '#')
            FAIL("target byte 0x%02x", c);
    }
    if (q->target_len > lim->max_request_line)
        FAIL("target of %zu bytes passed a request-line limit of %zu", q->target_len,
             lim->max_request_line);
    if (!inside(q->path, q->path_len, q->target, q->target_len) &&
        !((q->flags & FF_HTTP_F_ABSOLUTE_FORM) && q->path_len == 1 && q->path[0] == '/'))
        FAIL("path outside the target");
    if (q->path_len == 0 || (q->path[0] != '/' && !(q->path_len == 1 && q->path[0] == '*')))
        FAIL("path does not start with '/'");
    if (q->query != NULL) {
        if (!inside(q->query, q->query_len, q->target, q->target_len))
            FAIL("query outside the target");
        if (q->query == q->target || q->query[-1] != '?')
            FAIL("query not preceded by '?'");
    } else if (q->query_len != 0) {
        FAIL("NULL query with length %zu", q->query_len);
    }
    if (q->version_minor != 0 && q->version_minor != 1)
        FAIL("version_minor %d", q->version_minor);
    if (q->headers != r->headers)
        FAIL("headers array is not the caller's");
    if (q->num_headers > lim->max_headers)
        FAIL("%zu headers over the limit %zu", q->num_headers, lim->max_headers);
    if (n > lim->max_header_bytes + 4 * 2 /* leading empty lines */)
        FAIL("head of %zu bytes passed a limit of %zu", n, lim->max_header_bytes);
    for (i = 0; i < q->num_headers; i++) {
        const ff_http_header *h = &q->headers[i];
        if (h->name_len == 0 || !inside(h->name, h->name_len, buf, n))
            FAIL("header %zu name outside the head", i);
        if (!inside(h->value, h->value_len, buf, n))
            FAIL("header %zu value outside the head", i);
        if (h->value < h->name + h->name_len)
            FAIL("header %zu value before its name", i);
        for (j = 0; j < h->name_len; j++)
            if (!is_tchar((unsigned char)h->name[j]))
                FAIL("header %zu name byte 0x%02x", i, (unsigned char)h->name[j]);
        for (j = 0; j < h->value_len; j++) {
            unsigned char c = (unsigned char)h->value[j];
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                FAIL("header %zu value byte 0x%02x", i, c);
        }
        if (h->value_len && (h->value[0] == ' ' || h->value[0] == '\t' ||
                             h->value[h->value_len - 1] == ' ' ||
                             h->value[h->value_len - 1] == '\t'))
            FAIL("header %zu value not trimmed", i);
    }
    if (q->content_length < -1 || (q->content_length >= 0 &&
                                   (uint64_t)q->content_length > lim->max_body))
        FAIL("content_length %lld (max_body %llu)", (long long)q->content_length,
             (unsigned long long)lim->max_body);
    if ((q->flags & FF_HTTP_F_CHUNKED) && q->content_length != -1)
        FAIL("chunked with a content_length");
    if ((q->flags & FF_HTTP_F_CHUNKED) && q->version_minor == 0)
        FAIL("chunked on HTTP/1.0");
    if (q->flags & ~(unsigned)(FF_HTTP_F_CHUNKED | FF_HTTP_F_KEEP_ALIVE |
                               FF_HTTP_F_EXPECT_CONTINUE | FF_HTTP_F_ABSOLUTE_FORM))
        FAIL("unknown flags 0x%x", q->flags);
}

/* Two successful parses of the same bytes must agree on everything. Pointers
 * are compared as offsets, since the two may come from different copies. */
static void check_same(const result *a, const char *abuf, const result *b, const char *bbuf,
                       const char *what)
{
    if (a->ret != b->ret || a->err != b->err)
        FAIL("%s: ret %zd err %d, whole input: ret %zd err %d", what, b->ret, (int)b->err,
             a->ret, (int)a->err);
    if (a->ret <= 0)
        return;
    const ff_http_request *x = &a->req, *y = &b->req;
    if (x->method - abuf != y->method - bbuf || x->method_len != y->method_len ||
        x->target - abuf != y->target - bbuf || x->target_len != y->target_len ||
        x->path_len != y->path_len || x->query_len != y->query_len ||
        (x->query == NULL) != (y->query == NULL) || x->version_minor != y->version_minor ||
        x->num_headers != y->num_headers || x->content_length != y->content_length ||
        x->flags != y->flags)
        FAIL("%s: request differs from the whole-input parse", what);
    for (size_t i = 0; i < x->num_headers; i++)
        if (x->headers[i].name - abuf != y->headers[i].name - bbuf ||
            x->headers[i].name_len != y->headers[i].name_len ||
            x->headers[i].value - abuf != y->headers[i].value - bbuf ||
            x->headers[i].value_len != y->headers[i].value_len)
            FAIL("%s: header %zu differs from the whole-input parse", what, i);
}

static void parse(result *r, const char *buf, size_t len, size_t prev_len,
                  const ff_http_limits *lim)
{
    r->err = FF_HTTP_OK;
    r->ret = ff_http_parse_request(buf, len, prev_len, lim, &r->req, r->headers, &r->err);
    check_result(r, buf, len, lim);
}

static result whole, part, tail;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t h = 2166136261u;
    size_t i, k, step, at;
    char *buf, *pre;

    for (i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    buf = malloc(size ? size : 1);
    memcpy(buf, data, size);

    for (int li = 0; li < 2; li++) {
        const ff_http_limits *lim = &LIMITS[li];

        parse(&whole, buf, size, 0, lim);

        /* A split at a data-derived point, the prefix in its own exact copy. */
        k = size ? h % (size + 1) : 0;
        pre = malloc(k ? k : 1);
        memcpy(pre, buf, k);
        parse(&part, pre, k, 0, lim);
        if (part.ret == -2) {
            parse(&tail, buf, size, k, lim);
            check_same(&whole, buf, &tail, buf, "after a split");
        } else {
            check_same(&whole, buf, &part, pre, "on a prefix");
        }
        free(pre);

        /* Incremental feed with the prev_len protocol. */
        step = 1 + (h >> 8) % 97;
        for (at = 0, k = 0;;) {
            k = k + step > size ? size : k + step;
            parse(&part, buf, k, at, lim);
            if (part.ret != -2 || k == size)
                break;
            at = k;
        }
        check_same(&whole, buf, &part, buf, "fed incrementally");
    }
    free(buf);
    return 0;
}
