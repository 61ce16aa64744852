/* ws/deflate.c — permessage-deflate (RFC 7692 §7.2) over zlib: raw deflate
 * streams, made only when the first compressed message comes or goes (an idle
 * connection that never compresses holds none), and dropped after each
 * message on the side whose context is not taken over. */
#include "ws/internal.h"

#include <limits.h>
#include <string.h>
#include <zlib.h>

#include "util/fault.h"

/* zlib's allocations go through ff_malloc like the rest of the core. */
static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return ff_malloc((size_t)items * size);
}

static void z_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    ff_free(p);
}

static z_stream *new_stream(void)
{
    z_stream *z = ff_calloc(1, sizeof *z);
    if (z) {
        z->zalloc = z_alloc;
        z->zfree = z_free;
    }
    return z;
}

static void drop_inflater(ff_ws *ws)
{
    if (ws->inflater) {
        inflateEnd(ws->inflater);
        ff_free(ws->inflater);
        ws->inflater = NULL;
    }
}

static void drop_deflater(ff_ws *ws)
{
    if (ws->deflater) {
        deflateEnd(ws->deflater);
        ff_free(ws->deflater);
        ws->deflater = NULL;
    }
}

void ff_ws_zlib_free(ff_ws *ws)
{
    drop_inflater(ws);
    drop_deflater(ws);
}

/* The agreed client window (15 unless the client let us choose): what
 * the client compresses with, so a smaller one is all it takes to read. */
static z_stream *inflater(ff_ws *ws)
{
    z_stream *z = ws->inflater;
    if (z)
        return z;
    z = new_stream();
    if (!z)
        return NULL;
    int bits = ws->cfg.deflate.client_max_window_bits;
    if (bits < 9 || bits > 15) /* a larger window reads any smaller one */
        bits = bits < 9 ? 9 : 15;
    if (inflateInit2(z, -bits) != Z_OK) {
        ff_free(z);
        return NULL;
    }
    ws->inflater = z;
    return z;
}

/* Output goes straight into the message buffer, grown geometrically but
 * never past max_message + 1: a small compressed frame cannot make us
 * allocate what it would inflate to (a "zip bomb" stops at the limit). */
int ff_ws_inflate(ff_ws *ws, const unsigned char *in, size_t n, int tail)
{
    z_stream *z = inflater(ws);
    uint64_t max = ws->cfg.max_message;
    size_t limit = max >= SIZE_MAX ? SIZE_MAX : (size_t)max + 1; /* +1 sees the overrun */

    (void)tail;
    if (!z)
        return -1;
    if (ws->z_ended)
        return 0; /* what follows a final block (the 00 00 ff ff too) is ignored */
    z->next_in = (Bytef *)in;
    z->avail_in = (uInt)n; /* read.c hands at most 4096 bytes */
    for (;;) {
        if (ws->msg_len == ws->msg_cap) {
            size_t cap;
            char *p;
            if (ws->msg_len >= limit)
                return 1009;
            cap = ws->msg_cap ? ws->msg_cap * 2 : 512;
            if (cap > limit)
                cap = limit;
            p = ff_realloc(ws->msg, cap);
            if (!p)
                return -1;
            ws->msg = p;
            ws->msg_cap = cap;
        }
        size_t room = ws->msg_cap - ws->msg_len;
        if (room > UINT_MAX)
            room = UINT_MAX;
        z->next_out = (Bytef *)ws->msg + ws->msg_len;
        z->avail_out = (uInt)room;
        int rc = inflate(z, Z_SYNC_FLUSH);
        ws->msg_len += room - z->avail_out;
        if (ws->msg_len > max)
            return 1009;
        switch (rc) {
        case Z_STREAM_END:
            /* the client ended its stream with a final block (BFINAL, which
             * RFC 7692 permits): the rest of this message is ignored and the
             * next one starts a new stream */
            ws->z_ended = 1;
            return 0;
        case Z_OK:
        case Z_BUF_ERROR:
            if (z->avail_out != 0 && (z->avail_in == 0 || rc == Z_BUF_ERROR))
                return 0;
            break;
        case Z_MEM_ERROR:
            return -1;
        default:
            return 1007;
        }
    }
}

void ff_ws_inflate_done(ff_ws *ws)
{
    if (ws->cfg.deflate.client_no_context_takeover) {
        drop_inflater(ws);
    } else if (ws->z_ended && ws->inflater) {
        if (inflateReset(ws->inflater) != Z_OK)
            drop_inflater(ws);
    }
    ws->z_ended = 0;
}

/* At most the agreed window, and at most FF_WS_SERVER_WINDOW_BITS with
 * memLevel 5 (a smaller window than agreed is always readable): about
 * 40 KiB per session that sends compressed messages, not 270. zlib's
 * smallest raw window is 9 bits, hence the handshake declining
 * server_max_window_bits=8. */
static z_stream *deflater(ff_ws *ws)
{
    z_stream *z = ws->deflater;
    int bits = ws->cfg.deflate.server_max_window_bits;
    if (z)
        return z;
    if (bits < 9 || bits > 15) /* zlib cannot make an 8-bit window; the handshake declines it */
        bits = bits < 9 ? 9 : 15;
    if (bits > FF_WS_SERVER_WINDOW_BITS)
        bits = FF_WS_SERVER_WINDOW_BITS;
    z = new_stream();
    if (!z)
        return NULL;
    if (deflateInit2(z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -bits, 5, Z_DEFAULT_STRATEGY) != Z_OK) {
        ff_free(z);
        return NULL;
    }
    ws->deflater = z;
    return z;
}

/* Deflates into out directly (room from deflateBound, so one call usually
 * does it), ending with a sync flush so the message stands on a byte
 * boundary and the client can inflate it without what comes next. */
int ff_ws_deflate(ff_ws *ws, ff_buf *out, const char *data, size_t len)
{
    z_stream *z = deflater(ws);
    size_t start = out->len - out->off; /* as an offset from off: reserve may compact */

    if (!z)
        return -1;
    z->next_in = (Bytef *)data;
    z->avail_in = 0;
    for (;;) {
        if (z->avail_in == 0 && len) {
            size_t k = len > (1u << 30) ? (1u << 30) : len;
            z->next_in = (Bytef *)data;
            z->avail_in = (uInt)k;
            data += k;
            len -= k;
        }
        size_t want = (size_t)deflateBound(z, z->avail_in) + 16;
        if (ff_buf_reserve(out, want) < 0)
            goto oom;
        size_t room = out->cap - out->len;
        if (room > UINT_MAX)
            room = UINT_MAX;
        z->next_out = (Bytef *)out->data + out->len;
        z->avail_out = (uInt)room;
        int rc = deflate(z, len ? Z_NO_FLUSH : Z_SYNC_FLUSH);
        out->len += room - z->avail_out;
        if (rc == Z_MEM_ERROR)
            goto oom;
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            goto oom; /* cannot happen with valid arguments; treat as failure */
        if (!len && z->avail_in == 0 && z->avail_out != 0)
            break;
    }
    /* the sync flush ends with an empty stored block, 00 00 ff ff: the
     * receiver adds it back (RFC 7692 §7.2.1) */
    if (out->len - out->off >= start + 4 && memcmp(out->data + out->len - 4, "\0\0\xff\xff", 4) == 0)
        out->len -= 4;
    if (out->len - out->off == start) {
        /* nothing new to flush (an empty message): zlib wrote nothing, and
         * the receiver's 00 00 ff ff needs the stored block's header bits
         * before it, so send them as one 00 byte (RFC 7692 §7.2.3.6) */
        out->data[out->len++] = 0; /* room: reserved above */
    }
    if (ws->cfg.deflate.server_no_context_takeover)
        drop_deflater(ws);
    return 0;
oom:
    out->len = out->off + start;
    /* the stream took part of the input: start afresh (the client's window
     * holds everything we sent, so a fresh stream stays readable) */
    drop_deflater(ws);
    return -1;
}
