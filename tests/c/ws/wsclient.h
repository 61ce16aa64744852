/* tests/c/ws/wsclient.h — the client side the ws tests need: masked frames
 * and a raw-deflate compressor of their own (zlib used directly, not
 * ws/deflate.c), plus a transcript of reader events fed in every split. */
#ifndef FF_TESTS_WSCLIENT_H
#define FF_TESTS_WSCLIENT_H

#include "harness.h"

#include <zlib.h>

#include "ws/internal.h"
#include "ws/ws.h"

/* A growable byte string for building streams and transcripts. */
typedef struct {
    unsigned char *p;
    size_t n, cap;
} bytes;

static inline void bput(bytes *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            exit(2);
    }
    if (n)
        memcpy(b->p + b->n, src, n);
    b->n += n;
}

static inline void bputs(bytes *b, const char *s) { bput(b, s, strlen(s)); }

/* Appends a client frame. lenmode: 0 minimal, 16 or 64 force that encoding;
 * masked 0 sends it unmasked (a protocol error). */
static inline void frame_ex(bytes *b, int fin, int rsv, int op, const void *data, size_t len,
                     int lenmode, int masked)
{
    unsigned char h[14];
    size_t hn = 2;
    static const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};

    h[0] = (unsigned char)((fin ? 0x80 : 0) | (rsv << 4) | op);
    if (lenmode == 0 && len < 126) {
        h[1] = (unsigned char)len;
    } else if (lenmode != 64 && len <= 0xFFFF) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        hn = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        hn = 10;
    }
    if (masked) {
        h[1] |= 0x80;
        memcpy(h + hn, mask, 4);
        hn += 4;
    }
    bput(b, h, hn);
    size_t at = b->n;
    bput(b, data, len);
    if (masked)
        for (size_t i = 0; i < len; i++)
            b->p[at + i] ^= mask[i & 3];
}

static inline void frame(bytes *b, int fin, int op, const void *data, size_t len)
{
    frame_ex(b, fin, 0, op, data, len, 0, 1);
}

/* The client's compressor: raw deflate, sync flush, tail stripped. reset:
 * no context takeover (the stream starts afresh for this message). */
typedef struct {
    z_stream z;
} cdeflate;

static inline void cdeflate_init(cdeflate *c, int bits)
{
    memset(c, 0, sizeof *c);
    if (deflateInit2(&c->z, 6, Z_DEFLATED, -bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        exit(2);
}

static inline void cdeflate_end(cdeflate *c) { deflateEnd(&c->z); }

static inline void compress_msg(cdeflate *c, const void *data, size_t len, int reset, bytes *out)
{
    unsigned char buf[65536];
    if (reset)
        deflateReset(&c->z);
    out->n = 0;
    c->z.next_in = (Bytef *)data;
    c->z.avail_in = (uInt)len;
    do {
        c->z.next_out = buf;
        c->z.avail_out = sizeof buf;
        deflate(&c->z, Z_SYNC_FLUSH);
        bput(out, buf, sizeof buf - c->z.avail_out);
    } while (c->z.avail_out == 0);
    if (out->n >= 4 && memcmp(out->p + out->n - 4, "\0\0\xff\xff", 4) == 0)
        out->n -= 4;
}

/* Inflates one message's payload (its 00 00 ff ff tail put back) with the
 * test's own inflater, as a client would. */
static inline int inflate_msg(z_stream *z, const unsigned char *p, size_t n, bytes *out)
{
    unsigned char buf[65536];
    unsigned char tail[4] = {0, 0, 0xff, 0xff};
    out->n = 0;
    for (int part = 0; part < 2; part++) {
        z->next_in = part ? tail : (Bytef *)p;
        z->avail_in = part ? 4 : (uInt)n;
        do {
            z->next_out = buf;
            z->avail_out = sizeof buf;
            int rc = inflate(z, Z_SYNC_FLUSH);
            if (rc != Z_OK && rc != Z_BUF_ERROR)
                return -1;
            bput(out, buf, sizeof buf - z->avail_out);
        } while (z->avail_out == 0 || z->avail_in);
    }
    return 0;
}

/* Feeds stream[0..n) cut at cuts[0..k) into a new reader and writes the
 * events as text: T<len>:data B<len>:data P<len>:data O<len>:data C<code>:reason
 * E<code>; stops at the first CLOSE or ERROR. Each piece is fed from its own
 * exact-size copy so ASan sees any read past it. */
static inline void transcript(const ff_ws_config *cfg, const unsigned char *stream, size_t n,
                       const size_t *cuts, size_t k, bytes *out)
{
    ff_ws *ws = ff_ws_new(cfg);
    size_t from = 0;
    int done = 0;

    out->n = 0;
    for (size_t c = 0; c <= k && !done; c++) {
        size_t to = c < k ? cuts[c] : n;
        size_t len = to - from;
        char *piece = malloc(len ? len : 1);
        const char *p = piece;
        memcpy(piece, stream + from, len);
        from = to;
        for (;;) {
            size_t used = 12345;
            ff_ws_event ev;
            int r = ff_ws_read(ws, p, len, &used, &ev);
            if (used > len) {
                CHECK(0, "used %zu > len %zu", used, len);
                break;
            }
            p += used;
            len -= used;
            if (r == 0) {
                CHECK(len == 0, "0 returned with %zu bytes unused", len);
                break;
            }
            if (r < 0) {
                bputs(out, "OOM");
                done = 1;
                break;
            }
            char tmp[64];
            static const char kinds[] = "?TBPOCE";
            if (ev.kind == FF_WS_EV_CLOSE || ev.kind == FF_WS_EV_ERROR) {
                snprintf(tmp, sizeof tmp, ev.kind == FF_WS_EV_CLOSE ? "%c%d:" : "%c%d",
                         kinds[ev.kind], ev.code);
                bputs(out, tmp);
                if (ev.kind == FF_WS_EV_CLOSE)
                    bput(out, ev.reason, ev.reason_len);
                else
                    CHECK(ev.reason_len > 0 && ev.len == 0, "an error says why");
                bputs(out, ";");
                done = 1;
                break;
            }
            snprintf(tmp, sizeof tmp, "%c%zu:", kinds[ev.kind], ev.len);
            bputs(out, tmp);
            bput(out, ev.data, ev.len);
            bputs(out, ";");
        }
        free(piece);
    }
    ff_ws_free(ws);
}

#endif
