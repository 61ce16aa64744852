/* fuzz/fuzz_form.c — libFuzzer target for http/form.c: ff_form_next and
 * ff_form_unescape on urlencoded bodies, and ff_form_media_type and
 * ff_mp_boundary on the same bytes read as a Content-Type value.
 *
 * The body is parsed under two sets of limits, whole and in pieces (sizes
 * from a generator seeded by the data), every call's buffer an exact-size
 * allocation. Checked:
 *   - a call consumes at most what it was given; 0 only with final set;
 *     fields lie inside the consumed bytes; the field count respects the
 *     limit, names and values their limits as sent;
 *   - an unescaped field is never longer than its escaped form;
 *   - whole and split feeds agree on the verdict and on the decoded text;
 *   - an accepted body decodes to what a naive reference makes of it
 *     (split on '&', drop empty fields, first '=' separates, '+' and %XX);
 *   - a boundary found lies inside the value, is 1..70 boundary characters
 *     and does not end in a space.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/form.h"

static const ff_form_limits LIMITS[2] = {
    {.max_fields = 1000, .max_name = 1000, .max_value = 1 << 20,
     .max_part_header_bytes = 8192, .max_part_headers = 32},
    {.max_fields = 3, .max_name = 4, .max_value = 6, .max_part_header_bytes = 48,
     .max_part_headers = 2},
};

#define FAIL(...)                                                                             \
    do {                                                                                      \
        fprintf(stderr, "fuzz_form invariant broken (%s:%d): ", __FILE__, __LINE__);        \
        fprintf(stderr, __VA_ARGS__);                                                         \
        fputc('\n', stderr);                                                                  \
        abort();                                                                              \
    } while (0)

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

typedef struct {
    int ok;
    enum ff_form_error err;
    char *out;
    size_t out_len;
} outcome;

static void decode_into(outcome *o, const char *s, size_t n)
{
    size_t w = ff_form_unescape(o->out + o->out_len, s, n);
    if (w > n)
        FAIL("unescaped %zu bytes into %zu", n, w);
    o->out_len += w;
}

static void feed(outcome *o, const uint8_t *in, size_t size, const ff_form_limits *lim,
                 uint64_t seed, size_t max_piece)
{
    char *pending = malloc(size + 1);
    size_t plen = 0, fed = 0, n, fields = 0;
    ff_form f;
    ff_form_field fld;
    ssize_t r;

    o->out = malloc(2 * size + 16);
    o->out_len = 0;
    o->err = FF_FORM_OK;
    o->ok = 1;
    ff_form_init(&f);
    do {
        n = size - fed;
        if (max_piece && n > 1)
            n = 1 + (size_t)(next_rand(&seed) % (n < max_piece ? n : max_piece));
        memcpy(pending + plen, in + fed, n);
        plen += n;
        fed += n;
        for (;;) {
            char *buf = malloc(plen ? plen : 1);
            memcpy(buf, pending, plen);
            r = ff_form_next(&f, buf, plen, fed == size, lim, &fld, &o->err);
            if (r == -1) {
                if (o->err == FF_FORM_OK)
                    FAIL("-1 without an error");
                o->ok = 0;
                free(buf);
                free(pending);
                return;
            }
            if (r == -2 || r == 0) {
                if (r == 0 && fed != size)
                    FAIL("0 before the end of the body");
                free(buf);
                break;
            }
            if ((size_t)r > plen)
                FAIL("consumed %zd of %zu", r, plen);
            if (fld.name) {
                if (fld.name < buf || fld.value + fld.value_len > buf + r)
                    FAIL("field outside the consumed bytes");
                if (fld.name_len > lim->max_name || fld.value_len > lim->max_value)
                    FAIL("field over its limits");
                if (++fields > lim->max_fields)
                    FAIL("more fields than max_fields");
                decode_into(o, fld.name, fld.name_len);
                if (fld.flags & FF_FORM_F_VALUE) {
                    o->out[o->out_len++] = '=';
                    decode_into(o, fld.value, fld.value_len);
                }
                o->out[o->out_len++] = '&';
            }
            memmove(pending, pending + r, plen - (size_t)r);
            plen -= (size_t)r;
            free(buf);
        }
    } while (fed < size);
    free(pending);
}

static int hexv(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The naive decoding of an accepted body. */
static size_t reference(const uint8_t *in, size_t size, char *out)
{
    size_t i = 0, w = 0;

    while (i < size) {
        size_t e = i;
        int seen_eq = 0;
        while (e < size && in[e] != '&')
            e++;
        if (e > i) {
            for (size_t k = i; k < e; k++) {
                if (in[k] == '=' && !seen_eq) {
                    seen_eq = 1;
                    out[w++] = '=';
                } else if (in[k] == '+') {
                    out[w++] = ' ';
                } else if (in[k] == '%' && k + 2 < e && hexv(in[k + 1]) >= 0 &&
                           hexv(in[k + 2]) >= 0) {
                    out[w++] = (char)(hexv(in[k + 1]) << 4 | hexv(in[k + 2]));
                    k += 2;
                } else {
                    out[w++] = (char)in[k];
                }
            }
            out[w++] = '&';
        }
        i = e + 1;
    }
    return w;
}

static void check_content_type(const uint8_t *data, size_t size)
{
    const char *b;
    size_t bl, k;
    int kind = ff_form_media_type((const char *)data, size);

    if (kind != FF_FORM_NONE && kind != FF_FORM_URLENCODED && kind != FF_FORM_MULTIPART)
        FAIL("media type %d", kind);
    if (ff_mp_boundary((const char *)data, size, &b, &bl) == 0) {
        if (b < (const char *)data || b + bl > (const char *)data + size)
            FAIL("boundary outside the value");
        if (bl == 0 || bl > FF_MP_MAX_BOUNDARY || b[bl - 1] == ' ')
            FAIL("boundary of %zu bytes", bl);
        for (k = 0; k < bl; k++)
            if (!strchr("'()+_,-./:=? ", b[k]) && !(b[k] >= '0' && b[k] <= '9') &&
                !((b[k] | 0x20) >= 'a' && (b[k] | 0x20) <= 'z'))
                FAIL("boundary byte 0x%02x", (unsigned char)b[k]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    outcome a, s;
    uint8_t *copy = malloc(size ? size : 1);

    memcpy(copy, data, size);
    check_content_type(copy, size);
    free(copy);

    for (size_t i = 0; i < size; i++)
        seed = (seed ^ data[i]) * 0x100000001B3ULL;
    if (seed == 0)
        seed = 1;
    for (int li = 0; li < 2; li++) {
        feed(&a, data, size, &LIMITS[li], seed, 0);
        feed(&s, data, size, &LIMITS[li], seed, 1 + seed % 13);
        if (a.ok != s.ok || a.err != s.err)
            FAIL("whole feed %d/%d, split feed %d/%d", a.ok, (int)a.err, s.ok, (int)s.err);
        if (a.ok && (a.out_len != s.out_len || memcmp(a.out, s.out, a.out_len) != 0))
            FAIL("decoded text differs between whole and split feeds");
        if (a.ok) {
            char *ref = malloc(2 * size + 16);
            size_t rl = reference(data, size, ref);
            if (rl != a.out_len || memcmp(ref, a.out, rl) != 0)
                FAIL("decoded text differs from the reference");
            free(ref);
        }
        free(a.out);
        free(s.out);
    }
    return 0;
}
