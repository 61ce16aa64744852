/* http/gzip.c — Accept-Encoding negotiation and one-shot gzip with a reused
 * deflate stream. */
#include "http/gzip.h"

#include <strings.h>
#include <stdint.h>
#include <zlib.h>

/* The q-value of one coding's parameters ("; q=0.5"); 1000ths, 1000 when absent. */
static int qvalue(const char *p, const char *end)
{
    while (p < end) {
        while (p < end && (*p == ';' || *p == ' ' || *p == '\t'))
            p++;
        if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            p += 2;
            int q = 0, digits = 0, scale = 1000;
            if (p < end && (*p == '0' || *p == '1'))
                q = (*p++ - '0') * 1000;
            else
                return 0; /* malformed: treat as refused */
            if (p < end && *p == '.')
                for (p++; p < end && *p >= '0' && *p <= '9' && digits < 3; p++, digits++)
                    q += (*p - '0') * (scale /= 10);
            return q > 1000 ? 1000 : q;
        }
        while (p < end && *p != ';')
            p++;
    }
    return 1000;
}

int ff_gzip_accepted(const char *v, size_t n)
{
    const char *p = v, *end = v + n;
    int gzip_q = -1, star_q = -1;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        const char *tok = p;
        while (p < end && *p != ',' && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        size_t tn = (size_t)(p - tok);
        const char *params = p;
        while (p < end && *p != ',')
            p++;
        int q = qvalue(params, p);
        if ((tn == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
            (tn == 6 && strncasecmp(tok, "x-gzip", 6) == 0))
            gzip_q = q;
        else if (tn == 1 && *tok == '*')
            star_q = q;
    }
    return gzip_q >= 0 ? gzip_q > 0 : star_q > 0;
}

int ff_gzip_compress(ff_gzip *g, ff_buf *out, const char *data, size_t n)
{
    z_stream *z = g->z;
    if (n > 0xffffffffu)
        return -1; /* past one deflate call's uInt: the caller sends it as it is */
    if (!z) {
        if (!(z = ff_calloc(1, sizeof *z)))
            return -1;
        /* 15 window bits + 16: a gzip header and trailer instead of zlib's */
        if (deflateInit2(z, g->level ? g->level : 6, Z_DEFLATED, 15 + 16, 8,
                         Z_DEFAULT_STRATEGY) != Z_OK) {
            ff_free(z);
            return -1;
        }
        g->z = z;
    } else if (deflateReset(z) != Z_OK) {
        return -1;
    }
    size_t bound = deflateBound(z, (uLong)n);
    if (ff_buf_reserve(out, bound) < 0)
        return -1;
    z->next_in = (Bytef *)(uintptr_t)data;
    z->avail_in = (uInt)n;
    z->next_out = (Bytef *)out->data + out->len;
    z->avail_out = (uInt)bound;
    if (deflate(z, Z_FINISH) != Z_STREAM_END)
        return -1;
    out->len += bound - z->avail_out;
    return 0;
}

void ff_gzip_free(ff_gzip *g)
{
    if (g->z) {
        deflateEnd(g->z);
        ff_free(g->z);
        g->z = NULL;
    }
}

struct ff_gzip_stream {
    z_stream z;
};

ff_gzip_stream *ff_gzip_stream_new(int level)
{
    ff_gzip_stream *s = ff_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    /* 12 window bits + 16: a gzip header and trailer; memLevel 5 */
    if (deflateInit2(&s->z, level ? level : 6, Z_DEFLATED, 12 + 16, 5, Z_DEFAULT_STRATEGY) != Z_OK) {
        ff_free(s);
        return NULL;
    }
    return s;
}

/* deflate() until it has taken all the input and written everything the
 * flush asks for, growing out as it goes. */
int ff_gzip_stream_put(ff_gzip_stream *s, ff_buf *out, const char *p, size_t n, int finish)
{
    z_stream *z = &s->z;
    size_t mark = out->len;
    if (n > 0xffffffffu)
        return -1;
    z->next_in = (Bytef *)(uintptr_t)p;
    z->avail_in = (uInt)n;
    int flush = finish ? Z_FINISH : Z_SYNC_FLUSH;
    for (int i = 0; i < 1 << 20; i++) { /* bounded: each turn writes up to 4 KiB or more */
        size_t room = deflateBound(z, z->avail_in) + 64;
        if (room < 4096)
            room = 4096;
        if (ff_buf_reserve(out, room) < 0)
            goto fail;
        z->next_out = (Bytef *)out->data + out->len;
        z->avail_out = (uInt)room;
        int rc = deflate(z, flush);
        out->len += room - z->avail_out;
        if (rc == Z_STREAM_END || (rc == Z_OK && z->avail_out > 0 && z->avail_in == 0 && !finish))
            return 0;
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            goto fail;
    }
fail:
    out->len = mark;
    return -1;
}

void ff_gzip_stream_free(ff_gzip_stream *s)
{
    if (!s)
        return;
    deflateEnd(&s->z);
    ff_free(s);
}
