/* fuzz/fuzz_ws.c — libFuzzer target for the WebSocket layer (ws/).
 *
 * The first input byte picks what runs and how: bit 6 set, the rest is an
 * HTTP request head for the handshake (ff_ws_check_request with deflate
 * allowed by bit 0 and no_context_takeover by bit 1, then the 101 answer);
 * otherwise the rest is client frames for the reader, under a
 * configuration the other bits choose (bit 0 permessage-deflate, bit 1
 * client_no_context_takeover, bit 2 server_no_context_takeover, bit 3 a
 * 64-byte max_message, bit 4 deflate_min 16, bit 5 server window 9 bits).
 * The frames are read twice: whole, and in pieces whose sizes come from a
 * generator seeded by the data, each piece an exact-size allocation. Checked:
 *   - a call consumes at most what it was given, and all of it when it
 *     returns 0; errors carry 1002, 1007 or 1009 and a reason; close codes
 *     are valid or 1005; after ERROR or CLOSE more input is refused;
 *   - text messages are valid UTF-8 (by a checker of the harness's own),
 *     messages fit max_message, control payloads 125 bytes;
 *   - both feeds give the same transcript (kinds, codes, bytes);
 *   - each message written back with ff_ws_write_message, masked as a
 *     client would and read by a reader with the mirrored parameters, comes
 *     out the same; pongs and closes written back parse as frames.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parse.h"
#include "ws/ws.h"

#define FAIL(...)                                                                             \
    do {                                                                                      \
        fprintf(stderr, "fuzz_ws invariant broken (%s:%d): ", __FILE__, __LINE__);          \
        fprintf(stderr, __VA_ARGS__);                                                         \
        fputc('\n', stderr);                                                                  \
        abort();                                                                              \
    } while (0)

typedef struct {
    unsigned char *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
    if (n)
        memcpy(b->p + b->n, src, n);
    b->n += n;
}

static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

/* A plain UTF-8 check by code point, written differently from ws/read.c's
 * byte-range automaton. */
static int utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i], len, cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0)
            len = 2, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0)
            len = 3, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0)
            len = 4, cp = c & 0x07;
        else
            return 0;
        if (i + len > n)
            return 0;
        for (unsigned k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

/* Masks a server frame (as written by ws/write.c) the way a client would, so
 * a reader can take it. */
static void mask_frame(const ff_buf *out, bytes *dst)
{
    const unsigned char *p = (const unsigned char *)out->data + out->off;
    size_t n = out->len - out->off, hn = 2;
    static const unsigned char mask[4] = {0xa1, 0x07, 0x5c, 0xe3};
    unsigned char h[14];

    if (n < 2)
        FAIL("short frame");
    if ((p[1] & 0x7F) == 126)
        hn = 4;
    else if ((p[1] & 0x7F) == 127)
        hn = 10;
    if (n < hn || p[1] & 0x80)
        FAIL("bad server frame head");
    memcpy(h, p, hn);
    h[1] |= 0x80;
    memcpy(h + hn, mask, 4);
    dst->n = 0;
    put(dst, h, hn + 4);
    for (size_t i = hn; i < n; i++) {
        unsigned char c = p[i] ^ mask[(i - hn) & 3];
        put(dst, &c, 1);
    }
}

typedef struct {
    ff_ws_config cfg;
    ff_ws *writer, *back; /* the server's writer; a reader of what it writes */
    ff_buf out;
    bytes masked;
} echo;

/* Writes an event back and checks the writer's frame. */
static void write_back(echo *e, const ff_ws_event *ev)
{
    size_t used;
    ff_ws_event bev;

    e->out.len = e->out.off = 0;
    if (ev->kind == FF_WS_EV_TEXT || ev->kind == FF_WS_EV_BINARY) {
        int op = ev->kind == FF_WS_EV_TEXT ? FF_WS_OP_TEXT : FF_WS_OP_BINARY;
        if (ff_ws_write_message(e->writer, &e->out, op, ev->data, ev->len) < 0)
            FAIL("write_message out of memory");
        mask_frame(&e->out, &e->masked);
        int r = ff_ws_read(e->back, (const char *)e->masked.p, e->masked.n, &used, &bev);
        if (r != 1 || used != e->masked.n || bev.kind != ev->kind || bev.len != ev->len ||
            (ev->len && memcmp(bev.data, ev->data, ev->len) != 0))
            FAIL("message written back reads differently (r=%d kind=%d len=%zu/%zu)", r,
                 bev.kind, bev.len, ev->len);
    } else if (ev->kind == FF_WS_EV_PING) {
        if (ff_ws_write_control(&e->out, FF_WS_OP_PONG, ev->data, ev->len) < 0)
            FAIL("pong");
        if (e->out.len != 2 + ev->len || (unsigned char)e->out.data[0] != 0x8A)
            FAIL("pong frame");
    } else if (ev->kind == FF_WS_EV_CLOSE || ev->kind == FF_WS_EV_ERROR) {
        int code = ev->kind == FF_WS_EV_CLOSE ? (ev->code == 1005 ? 0 : ev->code) : ev->code;
        if (ff_ws_write_close(&e->out, code, ev->reason, ev->reason_len) < 0)
            FAIL("close");
        size_t plen = (unsigned char)e->out.data[1];
        if (e->out.len != 2 + plen || plen > 125 || (code && plen < 2) ||
            !utf8_ok((const unsigned char *)e->out.data + 4, plen > 2 ? plen - 2 : 0))
            FAIL("close frame");
    }
}

/* Reads in[0..size) in pieces (max_piece 0: whole) and records the events. */
static void feed(const ff_ws_config *cfg, const uint8_t *in, size_t size, uint64_t seed,
                 size_t max_piece, bytes *tr, echo *e)
{
    ff_ws *ws = ff_ws_new(cfg);
    size_t fed = 0;
    int done = 0;

    if (!ws)
        FAIL("ff_ws_new");
    tr->n = 0;
    while (fed < size && !done) {
        size_t n = size - fed;
        if (max_piece && n > 1)
            n = 1 + (size_t)(next_rand(&seed) % (n < max_piece ? n : max_piece));
        char *piece = malloc(n);
        const char *p = piece;
        size_t left = n;
        memcpy(piece, in + fed, n);
        fed += n;
        for (;;) {
            size_t used = (size_t)-1;
            ff_ws_event ev;
            int r = ff_ws_read(ws, p, left, &used, &ev);
            if (used > left)
                FAIL("used %zu of %zu", used, left);
            p += used;
            left -= used;
            if (r == 0) {
                if (left)
                    FAIL("0 with %zu bytes left", left);
                break;
            }
            if (r != 1)
                FAIL("out of memory claimed");
            char head[32];
            int hn = snprintf(head, sizeof head, "%d/%d/%zu:", ev.kind, ev.code, ev.len);
            put(tr, head, (size_t)hn);
            put(tr, ev.data, ev.len);
            switch (ev.kind) {
            case FF_WS_EV_TEXT:
                if (!utf8_ok((const unsigned char *)ev.data, ev.len))
                    FAIL("text message is not UTF-8");
                /* fall through */
            case FF_WS_EV_BINARY:
                if (ev.len > cfg->max_message)
                    FAIL("message over max_message");
                break;
            case FF_WS_EV_PING:
            case FF_WS_EV_PONG:
                if (ev.len > 125)
                    FAIL("control payload over 125");
                break;
            case FF_WS_EV_CLOSE:
                if (!(ev.code == 1005 ? ev.len == 0 : ff_ws_close_code_valid(ev.code) && ev.len >= 2))
                    FAIL("close code %d", ev.code);
                if (!utf8_ok((const unsigned char *)ev.reason, ev.reason_len))
                    FAIL("close reason not UTF-8");
                put(tr, ev.reason, ev.reason_len);
                done = 1;
                break;
            case FF_WS_EV_ERROR:
                if ((ev.code != 1002 && ev.code != 1007 && ev.code != 1009) || !ev.reason_len)
                    FAIL("error code %d", ev.code);
                done = 1;
                break;
            default:
                FAIL("event kind %d", ev.kind);
            }
            if (e)
                write_back(e, &ev);
            if (done) {
                ff_ws_event again;
                size_t u2;
                if (left && (ff_ws_read(ws, p, left, &u2, &again) != 1 ||
                             again.kind != FF_WS_EV_ERROR || u2 != left))
                    FAIL("input after the end was not refused");
                break;
            }
        }
        free(piece);
    }
    ff_ws_free(ws);
}

static void handshake(const uint8_t *in, size_t size, int allow, int nct)
{
    ff_http_header headers[32];
    ff_http_request req;
    enum ff_http_error err;
    ff_http_limits lim = {8192, 16384, 32, 1 << 20, 1024};
    ff_ws_handshake hs;

    if (ff_http_parse_request((const char *)in, size, 0, &lim, &req, headers, &err) <= 0)
        return;
    (void)ff_ws_is_upgrade(&req);
    memset(&hs, 0, sizeof hs);
    hs.allow_deflate = allow;
    hs.no_context_takeover = nct;
    if (ff_ws_check_request(&req, &hs) < 0) {
        if ((hs.status != 400 && hs.status != 426) || !hs.reason)
            FAIL("refusal %d", hs.status);
        return;
    }
    const ff_ws_deflate_params *d = &hs.deflate;
    if (hs.key_len != 24 || (hs.protocols && hs.protocols_len == 0) ||
        (hs.protocols == hs.protocols_buf && hs.protocols_len > sizeof hs.protocols_buf) ||
        (d->enabled && !allow) ||
        d->server_max_window_bits < 9 || d->server_max_window_bits > 15 ||
        d->client_max_window_bits < 8 || d->client_max_window_bits > 15 ||
        (d->enabled && nct && !(d->server_no_context_takeover && d->client_no_context_takeover)))
        FAIL("accepted handshake out of range: key %zu protocols %p/%zu deflate %d %d %d", hs.key_len, (const void *)hs.protocols, hs.protocols_len, d->enabled, d->server_max_window_bits, d->client_max_window_bits);
    ff_buf out = {0};
    if (ff_ws_write_accept(&out, &hs, hs.protocols, hs.protocols_len, NULL, 0) < 0)
        FAIL("write_accept");
    if (out.len < 4 || memcmp(out.data + out.len - 4, "\r\n\r\n", 4) != 0 ||
        memcmp(out.data, "HTTP/1.1 101 ", 13) != 0)
        FAIL("101 answer");
    ff_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned sel = data[0];
    data++;
    size--;
    if (sel & 0x40) {
        handshake(data, size, sel & 1, (sel >> 1) & 1);
        return 0;
    }
    ff_ws_config cfg = {
        .max_message = (sel & 8) ? 64 : 1 << 20,
        .deflate = {sel & 1, (sel >> 2) & 1, (sel >> 1) & 1, (sel & 0x20) ? 9 : 15, 15},
        .deflate_min = (sel & 0x10) ? 16 : 0,
    };
    /* the reader of what the writer sends has the parameters mirrored */
    ff_ws_config mirror = cfg;
    mirror.deflate.client_no_context_takeover = cfg.deflate.server_no_context_takeover;
    mirror.deflate.server_no_context_takeover = cfg.deflate.client_no_context_takeover;
    mirror.max_message = (uint64_t)1 << 20;
    echo e = {cfg, ff_ws_new(&cfg), ff_ws_new(&mirror), {0}, {0}};
    bytes whole = {0}, split = {0};
    uint64_t seed = 0x9E3779B97F4A7C15ULL ^ size;
    for (size_t i = 0; i < size && i < 16; i++)
        seed = seed * 131 + data[i];
    if (!seed)
        seed = 1;

    feed(&cfg, data, size, seed, 0, &whole, &e);
    feed(&cfg, data, size, seed, 1 + (size_t)(seed % 9), &split, NULL);
    if (whole.n != split.n || (whole.n && memcmp(whole.p, split.p, whole.n) != 0))
        FAIL("whole and split feeds differ (%zu / %zu bytes of transcript)", whole.n, split.n);
    free(whole.p);
    free(split.p);
    free(e.masked.p);
    ff_buf_free(&e.out);
    ff_ws_free(e.writer);
    ff_ws_free(e.back);
    return 0;
}
