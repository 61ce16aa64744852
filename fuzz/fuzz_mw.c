/* fuzz/fuzz_mw.c — libFuzzer target for the built-in middleware's pure-C
 * parts: http/cors.c, http/forwarded.c and http/gzip.c.
 *
 * The input is split at its first two NUL bytes into three fields, each copied
 * into an exact-size allocation (so an over-read is an ASan report):
 *   field 1 as a --forwarded-allow-ips spec, then as X-Forwarded-For and
 *   X-Forwarded-Proto values; field 2 as an Accept-Encoding value and as an
 *   Access-Control-Request-Headers value; field 3 as a body to gzip.
 * Checked: a client address found is NUL-terminated, fits, and is one of the
 * value's bytes; a scheme is one of the four; a preflight answers 200 or 400
 * with header lines only (CRLF-terminated, no bare CR/LF inside); a gzipped
 * body inflates back to the same bytes.
 */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "http/cors.h"
#include "http/forwarded.h"
#include "http/gzip.h"

static char *field(const uint8_t **p, const uint8_t *end, size_t *n)
{
    const uint8_t *z = memchr(*p, 0, (size_t)(end - *p));
    const uint8_t *stop = z ? z : end;
    *n = (size_t)(stop - *p);
    char *f = malloc(*n ? *n : 1);
    memcpy(f, *p, *n);
    *p = z ? z + 1 : end;
    return f;
}

static void check_lines(const ff_buf *b)
{
    for (size_t i = 0; i < b->len; i++) {
        if (b->data[i] == '\r' && (i + 1 >= b->len || b->data[i + 1] != '\n'))
            abort();
        if (b->data[i] == '\n' && (i == 0 || b->data[i - 1] != '\r'))
            abort();
    }
    if (b->len && (b->len < 2 || b->data[b->len - 1] != '\n'))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    size_t n1, n2, n3;
    char *f1 = field(&p, end, &n1), *f2 = field(&p, end, &n2), *f3 = field(&p, end, &n3);

    char spec[256], err[128], host[64], scheme[8];
    size_t sn = n1 < sizeof spec - 1 ? n1 : sizeof spec - 1;
    memcpy(spec, f1, sn);
    spec[sn] = '\0';
    ff_trust t;
    if (ff_trust_parse(&t, spec, err, sizeof err) < 0)
        ff_trust_parse(&t, "127.0.0.1,10.0.0.0/8,::1", err, sizeof err);
    (void)ff_trust_has(&t, f1, n1);
    size_t hn = ff_forwarded_client(&t, f1, n1, host, sizeof host);
    if (hn && (hn >= sizeof host || host[hn] != '\0' || strlen(host) != hn || !memmem(f1, n1, host, hn)))
        abort();
    size_t pn = ff_forwarded_proto(f1, n1, scheme, sizeof scheme);
    if (pn && strcmp(scheme, "http") && strcmp(scheme, "https") && strcmp(scheme, "ws") &&
        strcmp(scheme, "wss"))
        abort();

    (void)ff_gzip_accepted(f2, n2);
    static const char *const o[] = {"https://a.example", "*"}, *const m[] = {"GET", "POST"},
                             *const h[] = {"x-token"};
    for (int any = 0; any < 2; any++) {
        ff_cors c;
        if (ff_cors_init(&c, o + any, 1, m, 2, h, 1, any, 600) < 0)
            abort();
        ff_buf b = {0};
        const char *why;
        for (size_t i = 0; i < n2; i++)
            if (f2[i] == '\r' || f2[i] == '\n')
                f2[i] = ' '; /* the parser never hands a value with these */
        int rc = ff_cors_preflight(&c, &b, f1, n1 < 200 ? n1 : 200, "POST", 4, f2, n2, &why);
        if (rc != 200 && rc != 400)
            abort();
        if (memchr(f1, '\r', n1 < 200 ? n1 : 200) == NULL && memchr(f1, '\n', n1 < 200 ? n1 : 200) == NULL)
            check_lines(&b);
        b.len = 0;
        if (ff_cors_simple_headers(&c, &b, f1, n1) < 0)
            abort();
        ff_buf_free(&b);
        ff_cors_free(&c);
    }

    ff_gzip g = {0};
    ff_buf out = {0};
    if (ff_gzip_compress(&g, &out, f3, n3) < 0)
        abort();
    unsigned char *back = malloc(n3 + 1);
    z_stream z = {0};
    inflateInit2(&z, 15 + 16);
    z.next_in = (Bytef *)out.data;
    z.avail_in = (uInt)out.len;
    z.next_out = back;
    z.avail_out = (uInt)n3 + 1;
    if (inflate(&z, Z_FINISH) != Z_STREAM_END || z.total_out != n3 || memcmp(back, f3, n3))
        abort();
    inflateEnd(&z);
    free(back);
    ff_buf_free(&out);
    ff_gzip_free(&g);
    free(f1);
    free(f2);
    free(f3);
    return 0;
}
