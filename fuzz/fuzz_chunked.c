/* fuzz/fuzz_chunked.c — libFuzzer target for ff_http_chunked_decode (http/chunked.c).
 *
 * The input is a chunked body (plus whatever follows it). It is decoded under
 * two sets of limits, twice each: whole, and cut into pieces whose sizes come
 * from a generator seeded by the data. Every piece is copied into its own
 * exact-size allocation, so a read or write past the piece is an ASan report.
 * Checked on every call and at the end:
 *   - a call decodes at most the bytes it was given, and the tail it reports
 *     fits behind the decoded bytes; decoded bytes never exceed input bytes
 *     and never exceed max_body;
 *   - the tail is exactly the input's bytes after the message (and with the
 *     pieces not yet fed, the tail count is the input length minus the end of
 *     the message);
 *   - an error is a chunked-body error and sticks: the next call repeats it;
 *     after completion the next call returns all its bytes as tail;
 *   - the split feed gives the same verdict, decoded bytes and message end as
 *     the whole feed;
 *   - a successful decode equals what a naive reference decoder makes of the
 *     same bytes (sizes in hex, data, CRLF, until the zero-size chunk).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parse.h"

static const ff_http_limits LIMITS[2] = {
    {.max_request_line = 8190, .max_header_bytes = 16384, .max_headers = 100,
     .max_body = 16u << 20, .max_chunk_ext = 4096},
    {.max_request_line = 24, .max_header_bytes = 32, .max_headers = 3, .max_body = 64,
     .max_chunk_ext = 8},
};

#define FAIL(...)                                                                             \
    do {                                                                                      \
        fprintf(stderr, "fuzz_chunked invariant broken (%s:%d): ", __FILE__, __LINE__);     \
        fprintf(stderr, __VA_ARGS__);                                                         \
        fputc('\n', stderr);                                                                  \
        abort();                                                                              \
    } while (0)

typedef struct {
    ssize_t ret;            /* -2, -1 or the tail count */
    enum ff_http_error err;
    size_t end;             /* offset of the first byte after the message (ret >= 0) */
    uint8_t *out;           /* decoded bytes, concatenated */
    size_t out_len;
} outcome;

static int chunk_error(enum ff_http_error e)
{
    return e == FF_HTTP_E_CHUNK_SIZE || e == FF_HTTP_E_CHUNK_EXT ||
           e == FF_HTTP_E_CHUNK_FRAMING || e == FF_HTTP_E_TRAILER ||
           e == FF_HTTP_E_BODY_TOO_LARGE;
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

/* Feeds data in pieces (max_piece 0: all at once) and records the outcome. */
static void feed(outcome *o, const uint8_t *data, size_t size, const ff_http_limits *lim,
                 uint64_t seed, size_t max_piece)
{
    ff_http_chunked d;
    size_t fed = 0, n, len;
    char *piece;

    ff_http_chunked_init(&d);
    o->out = malloc(size ? size : 1);
    o->out_len = 0;
    o->ret = -2;
    o->err = FF_HTTP_OK;
    o->end = 0;

    while (fed < size) {
        n = size - fed;
        if (max_piece && n > 1)
            n = 1 + (size_t)(next_rand(&seed) % (n < max_piece ? n : max_piece));
        piece = malloc(n);
        memcpy(piece, data + fed, n);
        len = n;
        o->ret = ff_http_chunked_decode(&d, lim, piece, &len, &o->err);
        if (len > n)
            FAIL("decoded %zu bytes from a piece of %zu", len, n);
        memcpy(o->out + o->out_len, piece, len);
        o->out_len += len;
        fed += n;
        if (o->out_len > fed)
            FAIL("decoded %zu bytes from %zu input bytes", o->out_len, fed);
        if (o->out_len > lim->max_body)
            FAIL("decoded %zu bytes past max_body %llu", o->out_len,
                 (unsigned long long)lim->max_body);
        if (o->ret == -2) {
            if (o->err != FF_HTTP_OK)
                FAIL("-2 with err %d", (int)o->err);
            if (d.total > lim->max_body)
                FAIL("total %llu past max_body", (unsigned long long)d.total);
            free(piece);
            continue;
        }
        if (o->ret == -1) {
            if (!chunk_error(o->err))
                FAIL("-1 with err %d", (int)o->err);
            enum ff_http_error again = FF_HTTP_OK;
            size_t l2 = n;
            if (ff_http_chunked_decode(&d, lim, piece, &l2, &again) != -1 || again != o->err ||
                l2 != 0)
                FAIL("error %d did not stick", (int)o->err);
            free(piece);
            return;
        }
        if (o->ret < 0 || (size_t)o->ret > n - len)
            FAIL("tail %zd does not fit in a piece of %zu with %zu decoded", o->ret, n, len);
        o->end = fed - (size_t)o->ret;
        if (o->ret && memcmp(piece + len, data + o->end, (size_t)o->ret) != 0)
            FAIL("tail bytes are not the input's bytes after the message");
        /* The tail count, with the pieces not fed, is the input after the end. */
        if ((size_t)o->ret + (size - fed) != size - o->end)
            FAIL("tail count inconsistent");
        if (d.total != o->out_len)
            FAIL("total %llu but %zu bytes decoded", (unsigned long long)d.total, o->out_len);
        {
            enum ff_http_error again = FF_HTTP_OK;
            size_t l2 = n;
            if (ff_http_chunked_decode(&d, lim, piece, &l2, &again) != (ssize_t)n || l2 != 0 ||
                again != FF_HTTP_OK)
                FAIL("a finished decoder did not hand back every byte");
        }
        free(piece);
        return;
    }
}

/* A deliberately naive decoder for input the real one accepted: hex size,
 * skip to CRLF, data, CRLF; stop at size 0. Returns the decoded length, or
 * (size_t)-1 when the accepted input does not even have this shape. */
static size_t reference(const uint8_t *in, size_t end, uint8_t *out)
{
    size_t p = 0, w = 0;

    for (;;) {
        uint64_t sz = 0;
        int digits = 0;
        while (p < end) {
            uint8_t c = in[p];
            int v = c >= '0' && c <= '9' ? c - '0'
                    : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
            if (v < 0)
                break;
            sz = sz << 4 | (uint64_t)v;
            digits++;
            p++;
        }
        if (digits == 0)
            return (size_t)-1;
        while (p + 1 < end && !(in[p] == '\r' && in[p + 1] == '\n'))
            p++;
        p += 2;
        if (sz == 0)
            return w;
        if (sz > end - p)
            return (size_t)-1;
        memcpy(out + w, in + p, (size_t)sz);
        w += (size_t)sz;
        p += (size_t)sz;
        if (p + 2 > end || in[p] != '\r' || in[p + 1] != '\n')
            return (size_t)-1;
        p += 2;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    outcome a, b;

    for (size_t i = 0; i < size; i++)
        seed = (seed ^ data[i]) * 0x100000001B3ULL;
    if (seed == 0)
        seed = 1;

    for (int li = 0; li < 2; li++) {
        const ff_http_limits *lim = &LIMITS[li];
        feed(&a, data, size, lim, seed, 0);
        feed(&b, data, size, lim, seed, 1 + seed % 17);
        if (a.ret != b.ret && !(a.ret >= 0 && b.ret >= 0))
            FAIL("whole feed ret %zd, split feed ret %zd", a.ret, b.ret);
        if (a.err != b.err)
            FAIL("whole feed err %d, split feed err %d", (int)a.err, (int)b.err);
        if (a.ret >= 0 && a.end != b.end)
            FAIL("message ends at %zu whole, %zu split", a.end, b.end);
        if (a.ret != -1 && (a.out_len != b.out_len || memcmp(a.out, b.out, a.out_len) != 0))
            FAIL("decoded bytes differ between whole and split feeds");
        if (a.ret >= 0) {
            uint8_t *ref = malloc(size ? size : 1);
            size_t rl = reference(data, a.end, ref);
            if (rl != a.out_len || memcmp(ref, a.out, rl) != 0)
                FAIL("accepted body decodes to %zu bytes, the reference to %zu", a.out_len,
                     rl);
            free(ref);
        }
        free(a.out);
        free(b.out);
    }
    return 0;
}
