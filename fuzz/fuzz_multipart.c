/* fuzz/fuzz_multipart.c — libFuzzer target for ff_mp_next (http/multipart.c).
 *
 * The first input byte picks a boundary (an ordinary one, a single "-" whose
 * delimiter overlaps itself, a browser-style long one); the rest is the body.
 * It is parsed under two sets of limits, twice each: whole, and fed in pieces
 * whose sizes come from a generator seeded by the data, with the caller
 * keeping unconsumed bytes as a server does. Each call's buffer is an
 * exact-size allocation, so a read past it is an ASan report. Checked:
 *   - a call consumes at least one byte and at most what it was given, or
 *     returns -2 having consumed nothing; what the caller must keep stays
 *     under the header limit plus a delimiter;
 *   - events come in order (part, data*, part end; done only between parts),
 *     data events cover exactly the bytes consumed, part fields point into the
 *     buffer, header counts respect the limit;
 *   - an error sticks; whole and split feeds agree on the verdict, on done,
 *     and (without an error) on the whole transcript;
 *   - for a complete body, each part's data equals what a naive splitter on
 *     CRLF "--boundary" finds.
 */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/form.h"

static const ff_form_limits LIMITS[2] = {
    {.max_fields = 1000, .max_name = 1000, .max_value = 1 << 20,
     .max_part_header_bytes = 8192, .max_part_headers = 32},
    {.max_fields = 3, .max_name = 8, .max_value = 8, .max_part_header_bytes = 48,
     .max_part_headers = 2},
};
static const char *const BOUNDARIES[3] = {"XyZ", "-", "----WebKitFormBoundaryABC"};

#define FAIL(...)                                                                             \
    do {                                                                                      \
        fprintf(stderr, "fuzz_multipart invariant broken (%s:%d): ", __FILE__, __LINE__);   \
        fprintf(stderr, __VA_ARGS__);                                                         \
        fputc('\n', stderr);                                                                  \
        abort();                                                                              \
    } while (0)

typedef struct {
    int verdict;             /* 1 done, 0 waiting for more, -1 error */
    enum ff_form_error err;
    char *out;               /* transcript: [name|filename] data $ ... # */
    size_t out_len;
    char *data;              /* data only: each part's bytes then '$' */
    size_t data_len;
} outcome;

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static void put(char *dst, size_t *n, const void *src, size_t len)
{
    memcpy(dst + *n, src, len);
    *n += len;
}

static void feed(outcome *o, const char *b, const uint8_t *in, size_t size,
                 const ff_form_limits *lim, uint64_t seed, size_t max_piece)
{
    ff_http_header headers[32];
    ff_multipart p;
    ff_mp_event ev;
    char *pending = malloc(size + 1);
    size_t plen = 0, fed = 0, n, cap = 4 * size + 16;
    int in_part = 0, done = 0;
    ssize_t r = -2;

    o->out = malloc(cap);
    o->data = malloc(cap);
    o->out_len = o->data_len = 0;
    o->err = FF_FORM_OK;
    ff_mp_init(&p, b, strlen(b));
    while (fed < size) {
        n = size - fed;
        if (max_piece && n > 1)
            n = 1 + (size_t)(next_rand(&seed) % (n < max_piece ? n : max_piece));
        memcpy(pending + plen, in + fed, n);
        plen += n;
        fed += n;
        for (;;) {
            char *buf = malloc(plen ? plen : 1);
            memcpy(buf, pending, plen);
            r = ff_mp_next(&p, buf, plen, lim, headers, &ev, &o->err);
            if (r == -1) {
                enum ff_form_error again = FF_FORM_OK;
                if (ff_mp_next(&p, buf, plen, lim, headers, &ev, &again) != -1 ||
                    again != o->err || o->err == FF_FORM_OK)
                    FAIL("error %d did not stick", (int)o->err);
                free(buf);
                free(pending);
                o->verdict = -1;
                return;
            }
            if (r == -2) {
                free(buf);
                break;
            }
            if (r <= 0 || (size_t)r > plen)
                FAIL("consumed %zd of %zu", r, plen);
            switch (ev.type) {
            case FF_MP_PART:
                if (in_part || done)
                    FAIL("part event inside a part or after done");
                if (ev.num_headers > lim->max_part_headers || ev.headers != headers)
                    FAIL("headers");
                if (ev.name < buf || ev.name + ev.name_len > buf + r)
                    FAIL("name outside the consumed bytes");
                if (ev.filename && (ev.filename < buf || ev.filename + ev.filename_len > buf + r))
                    FAIL("filename outside the consumed bytes");
                if ((size_t)r > lim->max_part_header_bytes)
                    FAIL("header section of %zd bytes", r);
                in_part = 1;
                put(o->out, &o->out_len, "[", 1);
                put(o->out, &o->out_len, ev.name, ev.name_len);
                if (ev.filename) {
                    put(o->out, &o->out_len, "|", 1);
                    put(o->out, &o->out_len, ev.filename, ev.filename_len);
                }
                put(o->out, &o->out_len, "]", 1);
                break;
            case FF_MP_DATA:
                if (!in_part || ev.data != buf || ev.data_len != (size_t)r)
                    FAIL("data event");
                put(o->out, &o->out_len, ev.data, ev.data_len);
                put(o->data, &o->data_len, ev.data, ev.data_len);
                break;
            case FF_MP_PART_END:
                if (!in_part)
                    FAIL("part end outside a part");
                in_part = 0;
                put(o->out, &o->out_len, "$", 1);
                put(o->data, &o->data_len, "$", 1);
                break;
            case FF_MP_DONE:
                if (in_part || done)
                    FAIL("done inside a part or twice");
                done = 1;
                put(o->out, &o->out_len, "#", 1);
                break;
            case FF_MP_NONE:
                break;
            }
            memmove(pending, pending + r, plen - (size_t)r);
            plen -= (size_t)r;
            free(buf);
        }
        if (plen >= lim->max_part_header_bytes + FF_MP_MAX_PADDING + 4 + FF_MP_MAX_BOUNDARY)
            FAIL("%zu bytes kept between calls", plen);
    }
    if (done != ff_mp_done(&p))
        FAIL("done event and ff_mp_done disagree");
    o->verdict = done;
    free(pending);
}

static const uint8_t *find(const uint8_t *h, size_t hl, const char *n, size_t nl)
{
    return nl <= hl ? memmem(h, hl, n, nl) : NULL;
}

/* The naive splitter for a body the parser completed: the data of each part
 * runs from the first CRLFCRLF after its boundary line to the next CRLF
 * "--boundary". Returns 0, or -1 when the body does not have that shape. */
static int reference(const char *b, const uint8_t *in, size_t size, char *out, size_t *out_len)
{
    char delim[4 + FF_MP_MAX_BOUNDARY];
    size_t dl = 4 + strlen(b), pos;
    const uint8_t *q, *end = in + size;

    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, b, dl - 4);
    *out_len = 0;
    if (size >= dl - 2 && memcmp(in, delim + 2, dl - 2) == 0) {
        pos = dl - 2;
    } else {
        if (!(q = find(in, size, delim, dl)))
            return -1;
        pos = (size_t)(q - in) + dl;
    }
    for (;;) {
        if (pos + 2 <= size && in[pos] == '-' && in[pos + 1] == '-')
            return 0;
        if (!(q = find(in + pos, size - pos, "\r\n", 2)))
            return -1;
        pos = (size_t)(q - in) + 2;
        if (!(q = find(in + pos - 2, size - pos + 2, "\r\n\r\n", 4)))
            return -1;
        pos = (size_t)(q - in) + 4;
        if (!(q = find(in + pos, size - pos, delim, dl)) || q > end)
            return -1;
        memcpy(out + *out_len, in + pos, (size_t)(q - in) - pos);
        *out_len += (size_t)(q - in) - pos;
        out[(*out_len)++] = '$';
        pos = (size_t)(q - in) + dl;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    const char *b;
    outcome a, s;

    if (size == 0)
        return 0;
    b = BOUNDARIES[data[0] % 3];
    data++;
    size--;
    for (size_t i = 0; i < size; i++)
        seed = (seed ^ data[i]) * 0x100000001B3ULL;
    if (seed == 0)
        seed = 1;

    for (int li = 0; li < 2; li++) {
        const ff_form_limits *lim = &LIMITS[li];
        feed(&a, b, data, size, lim, seed, 0);
        feed(&s, b, data, size, lim, seed, 1 + seed % 23);
        if (a.verdict != s.verdict || a.err != s.err)
            FAIL("whole feed %d/%d, split feed %d/%d", a.verdict, (int)a.err, s.verdict,
                 (int)s.err);
        if (a.verdict >= 0 &&
            (a.out_len != s.out_len || memcmp(a.out, s.out, a.out_len) != 0))
            FAIL("transcripts differ between whole and split feeds");
        if (a.verdict == 1) {
            char *ref = malloc(size + 16);
            size_t rl;
            if (reference(b, data, size, ref, &rl) != 0)
                FAIL("accepted body has no parts shape for the reference");
            if (rl != a.data_len || memcmp(ref, a.data, rl) != 0)
                FAIL("part data differs from the reference (%zu vs %zu bytes)", a.data_len, rl);
            free(ref);
        }
        free(a.out);
        free(a.data);
        free(s.out);
        free(s.data);
    }
    return 0;
}
