/* tests/c/http/test_chunked.c — unit tests of http/chunked.c.
 *
 * Every vector was written for this file from RFC 9112 7.1. Each is fed
 * whole, one byte at a time and in 20 deterministic random splits, every
 * piece placed so that it ends at a guard page. The decoded bytes of all
 * calls, concatenated, must equal the expected payload, and the bytes after
 * the message (those left behind the decoded data of the completing call,
 * plus any pieces not yet fed) must be exactly the input's tail.
 */
#include "harness.h"

#include "http/parse.h"

typedef struct {
    int line;
    const char *in;
    size_t len;
    const ff_http_limits *lim; /* NULL: L_DEF */
    ssize_t ret;               /* bytes after the message, or -2 (-1 is implied by .err) */
    enum ff_http_error err;
    int status;
    const char *out; /* decoded payload (so far, for -2) */
    size_t out_len;
} cvec;

static const ff_http_limits L_DEF = {
    .max_request_line = 128,
    .max_header_bytes = 1024,
    .max_headers = 16,
    .max_body = 1000000,
    .max_chunk_ext = 32,
};
/* Bodies of at most 16 bytes. */
static const ff_http_limits L_BODY = {128, 1024, 16, 16, 32};
/* A trailer section of at most 24 bytes. */
static const ff_http_limits L_TR = {128, 24, 16, 1000000, 32};
/* No chunk extensions at all. */
static const ff_http_limits L_NOEXT = {128, 1024, 16, 1000000, 0};

/* A complete message `body`, followed by `tail` (a pipelined next request),
 * decoding to `out`. */
#define CV(body, tail, o)                                                                    \
    {                                                                                        \
        .line = __LINE__, .in = body tail, .len = sizeof(body tail) - 1,                     \
        .ret = sizeof(tail) - 1, .out = (o), .out_len = sizeof(o) - 1                        \
    }
#define CVL(body, tail, o, l)                                                                \
    {                                                                                        \
        .line = __LINE__, .in = body tail, .len = sizeof(body tail) - 1,                     \
        .ret = sizeof(tail) - 1, .out = (o), .out_len = sizeof(o) - 1, .lim = (l)            \
    }
/* An incomplete message that has decoded to `out` so far. */
#define CMORE(body, o)                                                                       \
    {                                                                                        \
        .line = __LINE__, .in = body, .len = sizeof(body) - 1, .ret = -2, .out = (o),        \
        .out_len = sizeof(o) - 1                                                             \
    }
#define CBAD(body, e, st, ...)                                                               \
    {                                                                                        \
        .line = __LINE__, .in = body, .len = sizeof(body) - 1, .ret = -1, .err = (e),        \
        .status = (st), __VA_ARGS__                                                          \
    }

#define D10 "0123456789"
#define D100 D10 D10 D10 D10 D10 D10 D10 D10 D10 D10
#define D300 D100 D100 D100
#define NEXT "GET /next HTTP/1.1\r\nHost: a\r\n\r\n"

static const cvec vectors[] = {
    /* ---------------------------------------------------------------- valid */
    CV("5\r\nhello\r\n0\r\n\r\n", "", "hello"),
    CV("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "", "hello world"),
    CV("1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n", "", "abc"),
    CV("a\r\n0123456789\r\nA\r\nabcdefghij\r\n1f\r\n0123456789012345678901234567890\r\n0\r\n\r\n", "",
       "0123456789abcdefghij0123456789012345678901234567890"),
    CV("aA\r\n" D100 D10 D10 D10 D10 D10 D10 D10 "\r\n0\r\n\r\n", "", D100 D10 D10 D10 D10 D10 D10 D10),
    CV("12C\r\n" D300 "\r\n0\r\n\r\n", "", D300),
    CV("0\r\n\r\n", "", ""),
    CV("000\r\n\r\n", "", ""),
    CV("0005\r\nhello\r\n0000\r\n\r\n", "", "hello"),
    CV("0000000000000005\r\nhello\r\n0\r\n\r\n", "", "hello"),
    CV("5;name=value\r\nhello\r\n0;last\r\n\r\n", "", "hello"),
    CV("5;a;b;c=d\r\nhello\r\n0\r\n\r\n", "", "hello"),
    CV("5 ; a = b ;c\r\nhello\r\n0\r\n\r\n", "", "hello"),
    CV("5\t;\ta\t=\tb\r\nhello\r\n0\r\n\r\n", "", "hello"),
    CV("5;a=\"q \\\" s;\"\r\nhello\r\n0\r\n\r\n", "", "hello"),
    CV("5;a=\"\" ;b=\"\\\\\"\r\nhello\r\n0\r\n\r\n", "", "hello"),
    CV("5;a=\"caf\xc3\xa9\"\r\nhello\r\n0\r\n\r\n", "", "hello"),
    CV("5;abcdefghijabcdefghijabcdefghij1\r\nhello\r\n0\r\n\r\n", "", "hello"),
    CV("5\r\nhello\r\n0\r\nExpires: never\r\nX-Checksum: abc\r\n\r\n", "", "hello"),
    CV("5\r\nhello\r\n0\r\nX:\r\nY: \t\x80\xff v \t\r\n\r\n", "", "hello"),
    CV("0\r\nOnly-Trailer: 1\r\n\r\n", "", ""),
    CV("4\r\n\r\n\0\xff\r\n0\r\n\r\n", "", "\r\n\0\xff"),
    CV("3\r\n0\r\n\r\n0\r\n\r\n", "", "0\r\n"),
    CV("5\r\nhello\r\n0\r\n\r\n", NEXT, "hello"),
    CV("0\r\n\r\n", NEXT, ""),
    CV("5\r\nhello\r\n0\r\nT: v\r\n\r\n", "\r\n" NEXT, "hello"),
    CV("2\r\nhi\r\n0\r\n\r\n", "x", "hi"),
    CVL("10\r\n0123456789abcdef\r\n0\r\n\r\n", "", "0123456789abcdef", &L_BODY),
    CVL("8\r\n01234567\r\n8\r\n89abcdef\r\n0\r\n\r\n", "", "0123456789abcdef", &L_BODY),
    CVL("5\r\nhello\r\n0\r\nX-Trailer-Name: 0123\r\n\r\n", NEXT, "hello", &L_TR),
    CVL("5\r\nhello\r\n0\r\n\r\n", "", "hello", &L_NOEXT),
    /* ----------------------------------------------------------- incomplete */
    CMORE("", ""),
    CMORE("5", ""),
    CMORE("5\r\nhel", "hel"),
    CMORE("5\r\nhello", "hello"),
    CMORE("5\r\nhello\r\n", "hello"),
    CMORE("5\r\nhello\r\n0\r\n", "hello"),
    CMORE("5\r\nhello\r\n0\r\nX: y\r\n", "hello"),
    CMORE("5\r\nhello\r\n0\r\n\r", "hello"),
    CMORE("5;a=\"open", ""),
    /* ----------------------------------------------------------- chunk size */
    CBAD("x\r\n", FF_HTTP_E_CHUNK_SIZE, 400),
    CBAD("\r\n", FF_HTTP_E_CHUNK_SIZE, 400),
    CBAD("5x\r\nhello\r\n0\r\n\r\n", FF_HTTP_E_CHUNK_SIZE, 400),
    CBAD("00000000000000005\r\nhello\r\n0\r\n\r\n", FF_HTTP_E_CHUNK_SIZE, 400),
    CBAD("-5\r\nhello\r\n", FF_HTTP_E_CHUNK_SIZE, 400),
    CBAD(" 5\r\nhello\r\n", FF_HTTP_E_CHUNK_SIZE, 400),
    CBAD("0x5\r\nhello\r\n", FF_HTTP_E_CHUNK_SIZE, 400),
    CBAD("5\r\nhello\r\n\r\n", FF_HTTP_E_CHUNK_SIZE, 400, .out = "hello", .out_len = 5),
    CBAD("5\r\nhello\r\n+1\r\n", FF_HTTP_E_CHUNK_SIZE, 400, .out = "hello", .out_len = 5),
    CBAD(";a\r\n", FF_HTTP_E_CHUNK_SIZE, 400),
    /* ------------------------------------------------------ chunk extension */
    CBAD("5;abcdefghijabcdefghijabcdefghij12\r\nhello\r\n0\r\n\r\n", FF_HTTP_E_CHUNK_EXT, 400),
    CBAD("5                                 ;a\r\n", FF_HTTP_E_CHUNK_EXT, 400),
    CBAD("5;a\r\nhello\r\n0\r\n\r\n", FF_HTTP_E_CHUNK_EXT, 400, .lim = &L_NOEXT),
    CBAD("5 \r\nhello\r\n0\r\n\r\n", FF_HTTP_E_CHUNK_EXT, 400),
    CBAD("5;\r\nhello\r\n0\r\n\r\n", FF_HTTP_E_CHUNK_EXT, 400),
    CBAD("5;a=\r\nhello\r\n0\r\n\r\n", FF_HTTP_E_CHUNK_EXT, 400),
    CBAD("5;a \r\nhello\r\n0\r\n\r\n", FF_HTTP_E_CHUNK_EXT, 400),
    CBAD("5;a b\r\nhello\r\n0\r\n\r\n", FF_HTTP_E_CHUNK_EXT, 400),
    CBAD("5;a=\"open\r\nhello\r\n0\r\n\r\n", FF_HTTP_E_CHUNK_EXT, 400),
    CBAD("5;a=b\"\r\nhello\r\n0\r\n\r\n", FF_HTTP_E_CHUNK_EXT, 400),
    CBAD("5;a=\"x\"y\r\nhello\r\n0\r\n\r\n", FF_HTTP_E_CHUNK_EXT, 400),
    CBAD("5;(\r\nhello\r\n0\r\n\r\n", FF_HTTP_E_CHUNK_EXT, 400),
    CBAD("5;a=\"\x01\"\r\nhello\r\n0\r\n\r\n", FF_HTTP_E_CHUNK_EXT, 400),
    CBAD("5;a=\"\\\x01\"\r\nhello\r\n0\r\n\r\n", FF_HTTP_E_CHUNK_EXT, 400),
    CBAD("5;a\0\r\nhello\r\n0\r\n\r\n", FF_HTTP_E_CHUNK_EXT, 400),
    CBAD("5\r\nhello\r\n0;=x\r\n\r\n", FF_HTTP_E_CHUNK_EXT, 400, .out = "hello", .out_len = 5),
    /* -------------------------------------------------------------- framing */
    CBAD("\n", FF_HTTP_E_CHUNK_FRAMING, 400),
    CBAD("5\nhello\r\n0\r\n\r\n", FF_HTTP_E_CHUNK_FRAMING, 400),
    CBAD("5\rhello\r\n0\r\n\r\n", FF_HTTP_E_CHUNK_FRAMING, 400),
    CBAD("5;a\nhello\r\n0\r\n\r\n", FF_HTTP_E_CHUNK_FRAMING, 400),
    CBAD("5;a=\"x\nhello\r\n0\r\n\r\n", FF_HTTP_E_CHUNK_FRAMING, 400),
    CBAD("5;a\rhello\r\n0\r\n\r\n", FF_HTTP_E_CHUNK_FRAMING, 400),
    CBAD("5\r\nhelloX\r\n0\r\n\r\n", FF_HTTP_E_CHUNK_FRAMING, 400, .out = "hello", .out_len = 5),
    CBAD("5\r\nhello\n0\r\n\r\n", FF_HTTP_E_CHUNK_FRAMING, 400, .out = "hello", .out_len = 5),
    CBAD("5\r\nhello\rX0\r\n\r\n", FF_HTTP_E_CHUNK_FRAMING, 400, .out = "hello", .out_len = 5),
    CBAD("5\r\nhello world\r\n0\r\n\r\n", FF_HTTP_E_CHUNK_FRAMING, 400, .out = "hello", .out_len = 5),
    CBAD("5\r\nhello\r\n0\n\r\n", FF_HTTP_E_CHUNK_FRAMING, 400, .out = "hello", .out_len = 5),
    CBAD("0\r\n\n", FF_HTTP_E_CHUNK_FRAMING, 400),
    CBAD("0\r\n\rX", FF_HTTP_E_CHUNK_FRAMING, 400),
    CBAD("0\r\nX: y\n\r\n", FF_HTTP_E_CHUNK_FRAMING, 400),
    CBAD("0\r\nX: y\rZ\r\n\r\n", FF_HTTP_E_CHUNK_FRAMING, 400),
    CBAD("0\r\nAb\n\r\n", FF_HTTP_E_CHUNK_FRAMING, 400),
    /* -------------------------------------------------------------- trailer */
    CBAD("0\r\n folded: v\r\n\r\n", FF_HTTP_E_TRAILER, 400),
    CBAD("5\r\nhello\r\n0\r\nX: a\r\n b\r\n\r\n", FF_HTTP_E_TRAILER, 400, .out = "hello", .out_len = 5),
    CBAD("0\r\nX: a\r\n\tb\r\n\r\n", FF_HTTP_E_TRAILER, 400),
    CBAD("0\r\nBad Name: v\r\n\r\n", FF_HTTP_E_TRAILER, 400),
    CBAD("0\r\nX : v\r\n\r\n", FF_HTTP_E_TRAILER, 400),
    CBAD("0\r\n: v\r\n\r\n", FF_HTTP_E_TRAILER, 400),
    CBAD("0\r\nX: a\0b\r\n\r\n", FF_HTTP_E_TRAILER, 400),
    CBAD("0\r\nX: a\x7f\r\n\r\n", FF_HTTP_E_TRAILER, 400),
    CBAD("0\r\nNoColon\r\n\r\n", FF_HTTP_E_TRAILER, 400),
    CBAD("0\r\nCaf\xc3\xa9: v\r\n\r\n", FF_HTTP_E_TRAILER, 400),
    CBAD("5\r\nhello\r\n0\r\nX-Trailer-Name: 01234\r\n\r\n", FF_HTTP_E_TRAILER, 400, .lim = &L_TR,
         .out = "hello", .out_len = 5),
    CBAD("0\r\nX-Trailer-Name: 0123456789", FF_HTTP_E_TRAILER, 400, .lim = &L_TR),
    /* ---------------------------------------------------------------- 413 */
    CBAD("11\r\n0123456789abcdefg\r\n0\r\n\r\n", FF_HTTP_E_BODY_TOO_LARGE, 413, .lim = &L_BODY),
    CBAD("10\r\n0123456789abcdef\r\n1\r\nx\r\n0\r\n\r\n", FF_HTTP_E_BODY_TOO_LARGE, 413, .lim = &L_BODY,
         .out = "0123456789abcdef", .out_len = 16),
    CBAD("FFFFFFFFFFFFFFFF\r\n", FF_HTTP_E_BODY_TOO_LARGE, 413),
    CBAD("f4241\r\n", FF_HTTP_E_BODY_TOO_LARGE, 413),
};

#define NVEC (sizeof(vectors) / sizeof(vectors[0]))

/* Feeds the vector in the pieces ending at cuts[0..k) (the last cut is the
 * input's length), each piece placed at the guard page, and checks the
 * outcome. */
static void feed(const cvec *v, const size_t *cuts, size_t k, const char *mode, th_guard *g,
                 char *acc)
{
    const ff_http_limits *lim = v->lim ? v->lim : &L_DEF;
    ff_http_chunked d;
    enum ff_http_error err = FF_HTTP_OK;
    ssize_t r = -2, want = v->err ? -1 : v->ret;
    size_t pos = 0, acc_len = 0, i, n, plen, cut = 0;
    char *buf = NULL;
    char ctx[96];

    snprintf(ctx, sizeof(ctx), "vector at line %d (%s)", v->line, mode);
    ff_http_chunked_init(&d);
    for (i = 0; i < k; i++) {
        cut = cuts[i];
        plen = cut - pos;
        buf = th_guard_place(g, v->in + pos, plen);
        n = plen;
        r = ff_http_chunked_decode(&d, lim, buf, &n, &err);
        CHECK(n <= plen, "%s: *len grew from %zu to %zu", ctx, plen, n);
        memcpy(acc + acc_len, buf, n);
        acc_len += n;
        pos = cut;
        if (r != -2)
            break;
    }

    /* The bytes after the message: those the completing call left behind
     * its decoded data, plus the pieces not fed yet. */
    CHECK_EQ_LL(r >= 0 ? r + (ssize_t)(v->len - cut) : r, want, ctx);
    CHECK_EQ_LL(err, v->err, ctx);
    if (r >= 0) {
        CHECK(r <= (ssize_t)(plen - n), "%s: %zd trailing bytes in a piece of %zu", ctx, r, plen);
        if (r <= (ssize_t)(plen - n))
            CHECK(memcmp(buf + n, v->in + cut - r, (size_t)r) == 0, "%s: trailing bytes", ctx);
    }
    if (r == -1 && v->out == NULL) {
        CHECK_EQ_LL(acc_len, 0, ctx);
    } else if (v->out != NULL) {
        CHECK(acc_len == v->out_len && memcmp(acc, v->out, acc_len) == 0,
              "%s: decoded %zu bytes '%.*s', expected %zu", ctx, acc_len, (int)acc_len, acc,
              v->out_len);
    }

    /* The decoder stays put: after completion everything is trailing, after an
     * error the same error comes back. */
    if (r != -2) {
        char extra[4] = "abc";
        enum ff_http_error err2;
        n = 3;
        CHECK_EQ_LL(ff_http_chunked_decode(&d, lim, extra, &n, &err2), r >= 0 ? 3 : -1, ctx);
        CHECK_EQ_LL(err2, v->err, ctx);
        CHECK_EQ_LL(n, 0, ctx);
    }
}

static void run_vector(const cvec *v, uint64_t *seed)
{
    th_guard g;
    size_t *cuts = malloc(sizeof(size_t) * (v->len + 1));
    char *acc = malloc(v->len + 1);
    size_t i, k;
    int split;
    char mode[32];

    th_guard_init(&g, v->len);

    cuts[0] = v->len;
    feed(v, cuts, 1, "whole", &g, acc);

    for (i = 0; i < v->len; i++)
        cuts[i] = i + 1;
    feed(v, cuts, v->len, "byte by byte", &g, acc);

    for (split = 0; split < 20; split++) {
        k = th_random_cuts(seed, v->len, cuts, 8);
        cuts[k++] = v->len;
        snprintf(mode, sizeof(mode), "split %d", split);
        feed(v, cuts, k, mode, &g, acc);
    }

    th_guard_free(&g);
    free(acc);
    free(cuts);
}

static void check_coverage(void)
{
    int seen[FF_HTTP_E__COUNT] = {0};
    size_t i;

    for (i = 0; i < NVEC; i++) {
        if (vectors[i].err) {
            seen[vectors[i].err] = 1;
            CHECK(ff_http_error_status(vectors[i].err) == vectors[i].status,
                  "vector at line %d: status %d, expected %d", vectors[i].line,
                  ff_http_error_status(vectors[i].err), vectors[i].status);
        }
    }
    CHECK(seen[FF_HTTP_E_CHUNK_SIZE], "no CHUNK_SIZE vector");
    CHECK(seen[FF_HTTP_E_CHUNK_EXT], "no CHUNK_EXT vector");
    CHECK(seen[FF_HTTP_E_CHUNK_FRAMING], "no CHUNK_FRAMING vector");
    CHECK(seen[FF_HTTP_E_TRAILER], "no TRAILER vector");
    CHECK(seen[FF_HTTP_E_BODY_TOO_LARGE], "no BODY_TOO_LARGE vector");
}

/* A body of many large chunks decoded in 4 KiB reads, the way the worker
 * will drive it, checked byte for byte. */
static void check_large_body(void)
{
    static const ff_http_limits lim = {128, 1024, 16, 1 << 24, 32};
    size_t cap = 1 << 21, n = 0, i, pos, out_len = 0, piece;
    char *in = malloc(cap), *out = malloc(cap), *buf = malloc(4096);
    ff_http_chunked d;
    enum ff_http_error err;
    ssize_t r = -2;
    int c, j;

    for (c = 0; c < 64; c++) {
        size_t sz = (size_t)(c * 977 + 13);
        n += (size_t)sprintf(in + n, "%zx;chunk=%d\r\n", sz, c);
        for (i = 0; i < sz; i++)
            in[n++] = (char)('a' + (c + i) % 26);
        in[n++] = '\r';
        in[n++] = '\n';
    }
    n += (size_t)sprintf(in + n, "0\r\nDigest: x\r\n\r\n");

    ff_http_chunked_init(&d);
    for (pos = 0; pos < n && r == -2; pos += piece) {
        piece = n - pos < 4096 ? n - pos : 4096;
        memcpy(buf, in + pos, piece);
        i = piece;
        r = ff_http_chunked_decode(&d, &lim, buf, &i, &err);
        memcpy(out + out_len, buf, i);
        out_len += i;
    }
    CHECK_EQ_LL(r, 0, "large body");
    for (pos = 0, c = 0, j = 0; c < 64 && j == 0; c++) {
        size_t sz = (size_t)(c * 977 + 13);
        for (i = 0; i < sz; i++, pos++)
            if (pos >= out_len || out[pos] != (char)('a' + (c + i) % 26))
                j = 1;
    }
    CHECK(j == 0 && pos == out_len, "large body content (%zu of %zu bytes)", pos, out_len);
    free(in);
    free(out);
    free(buf);
}

int main(void)
{
    uint64_t seed = 0xC0FFEE1234567ULL;
    size_t i;

    for (i = 0; i < NVEC; i++)
        run_vector(&vectors[i], &seed);
    check_coverage();
    check_large_body();
    printf("test_chunked: %zu vectors\n", NVEC);
    return th_summary("test_chunked");
}
