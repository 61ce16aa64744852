/* ws/read.c — the resumable frame reader (RFC 6455 §5): client bytes in,
 * whole messages and control frames out, protocol errors as close codes.
 *
 * Every byte goes through the same path whatever the splits, so feeding one
 * byte at a time gives exactly the events a whole buffer gives. Payloads are
 * unmasked straight into the message buffer (or the control buffer), which
 * grows with the bytes that arrive, not with what a header announces. */
#include "ws/internal.h"

#include <string.h>

#include "util/fault.h"

enum { ST_HEAD, ST_PAYLOAD, ST_DONE };

/* Slack over max_message allowed for a compressed message's wire size:
 * deflate can make incompressible data a little bigger. */
#define WIRE_SLACK(max) ((max) / 8 + 1024)

ff_ws *ff_ws_new(const ff_ws_config *cfg)
{
    ff_ws *ws = ff_calloc(1, sizeof *ws);
    if (!ws)
        return NULL;
    ws->cfg = *cfg;
    ws->state = ST_HEAD;
    ws->head_need = 2;
    return ws;
}

void ff_ws_free(ff_ws *ws)
{
    if (!ws)
        return;
    ff_ws_zlib_free(ws);
    ff_free(ws->msg);
    ff_free(ws);
}

int ff_utf8_feed(ff_utf8 *u, const unsigned char *p, size_t n)
{
    const unsigned char *end = p + n;

    while (p < end) {
        unsigned char c = *p;
        if (u->need) {
            if (c < u->lo || c > u->hi)
                return -1;
            u->need--;
            u->lo = 0x80;
            u->hi = 0xBF;
            p++;
            continue;
        }
        /* ASCII runs, eight bytes at a time */
        while (end - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            if (w & 0x8080808080808080ULL)
                break;
            p += 8;
        }
        if (p == end)
            break;
        c = *p++;
        if (c < 0x80)
            continue;
        u->lo = 0x80;
        u->hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            u->need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            u->need = 2;
            if (c == 0xE0)
                u->lo = 0xA0; /* overlong */
            else if (c == 0xED)
                u->hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            u->need = 3;
            if (c == 0xF0)
                u->lo = 0x90; /* overlong */
            else if (c == 0xF4)
                u->hi = 0x8F; /* over U+10FFFF */
        } else {
            return -1; /* a stray continuation, C0/C1 overlongs, F5..FF */
        }
    }
    return 0;
}

/* Ends the reader with a protocol error: every later call reports it again. */
static int fail(ff_ws *ws, ff_ws_event *ev, int code, const char *reason)
{
    ws->state = ST_DONE;
    ws->err_code = code;
    ws->err_reason = reason;
    memset(ev, 0, sizeof *ev);
    ev->kind = FF_WS_EV_ERROR;
    ev->code = code;
    ev->reason = reason;
    ev->reason_len = strlen(reason);
    return 1;
}

/* Makes room for `extra` more message bytes: geometric growth, capped at
 * what max_message (+1, to see it overrun) can need. */
static int msg_reserve(ff_ws *ws, size_t extra)
{
    size_t need = ws->msg_len + extra, cap;
    char *p;

    if (need <= ws->msg_cap)
        return 0;
    cap = ws->msg_cap ? ws->msg_cap * 2 : 256;
    if (cap < need)
        cap = need;
    p = ff_realloc(ws->msg, cap);
    if (!p)
        return -1;
    ws->msg = p;
    ws->msg_cap = cap;
    return 0;
}

/* Drops a delivered message; a buffer that grew big is freed so an idle
 * connection keeps little memory. */
static void msg_release(ff_ws *ws)
{
    ws->delivered = 0;
    ws->msg_len = 0;
    if (ws->msg_cap > FF_WS_KEEP_BUFFER) {
        ff_free(ws->msg);
        ws->msg = NULL;
        ws->msg_cap = 0;
    }
}

/* XORs with the frame's mask from where the last piece of this payload
 * stopped (mask_pos), so a payload split anywhere unmasks the same. */
static void unmask(ff_ws *ws, unsigned char *dst, const unsigned char *src, size_t n)
{
    unsigned m = ws->mask_pos;
    size_t i = 0;

    if (n >= 16) {
        /* eight bytes at a time with the mask rotated to where we are */
        unsigned char rot[8];
        uint64_t mw, w;
        for (int k = 0; k < 8; k++)
            rot[k] = ws->mask[(m + (unsigned)k) & 3];
        memcpy(&mw, rot, 8);
        for (; i + 8 <= n; i += 8) {
            memcpy(&w, src + i, 8);
            w ^= mw;
            memcpy(dst + i, &w, 8);
        }
    }
    for (; i < n; i++)
        dst[i] = src[i] ^ ws->mask[(m + i) & 3];
    ws->mask_pos = (unsigned)((m + n) & 3);
}

/* The first two bytes of a header are in: what can be refused already is,
 * and head_need says how long the whole header is. 0, or 1 with an error. */
static int head_start(ff_ws *ws, ff_ws_event *ev)
{
    unsigned b0 = ws->head[0], b1 = ws->head[1];
    unsigned op = b0 & 0x0F, len7 = b1 & 0x7F;

    ws->fin = (uint8_t)(b0 >> 7);
    ws->rsv1 = (uint8_t)((b0 >> 6) & 1);
    ws->opcode = (uint8_t)op;
    if (b0 & 0x30)
        return fail(ws, ev, 1002, "reserved bits RSV2/RSV3 set");
    if (!(b1 & 0x80))
        return fail(ws, ev, 1002, "client frames must be masked");
    if (op >= 8) {
        if (op > FF_WS_OP_PONG)
            return fail(ws, ev, 1002, "unknown opcode");
        if (!ws->fin)
            return fail(ws, ev, 1002, "fragmented control frame");
        if (len7 > 125)
            return fail(ws, ev, 1002, "control frame over 125 bytes");
        if (ws->rsv1)
            return fail(ws, ev, 1002, "RSV1 on a control frame");
    } else if (op == FF_WS_OP_CONT) {
        if (!ws->msg_op)
            return fail(ws, ev, 1002, "continuation with no message to continue");
        if (ws->rsv1)
            return fail(ws, ev, 1002, "RSV1 on a continuation frame");
    } else if (op == FF_WS_OP_TEXT || op == FF_WS_OP_BINARY) {
        if (ws->msg_op)
            return fail(ws, ev, 1002, "new message inside a fragmented one");
        if (ws->rsv1 && !ws->cfg.deflate.enabled)
            return fail(ws, ev, 1002, "RSV1 set without permessage-deflate");
    } else {
        return fail(ws, ev, 1002, "unknown opcode");
    }
    ws->head_need = (uint8_t)(2 + 4 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0));
    return 0;
}

/* The whole header is in: the length, the mask, and the size limits. 0, or 1
 * with an error. */
static int head_end(ff_ws *ws, ff_ws_event *ev)
{
    unsigned len7 = ws->head[1] & 0x7F;
    const unsigned char *p = ws->head + 2;
    uint64_t len = len7;
    uint64_t max = ws->cfg.max_message;

    if (len7 == 126) {
        len = (uint64_t)p[0] << 8 | p[1];
        p += 2;
    } else if (len7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | p[i];
        p += 8;
        if (len >> 63)
            return fail(ws, ev, 1002, "64-bit length with the top bit set");
    }
    memcpy(ws->mask, p, 4);
    ws->mask_pos = 0;
    ws->remaining = len;
    if (ws->opcode >= 8) {
        ws->ctrl_len = 0;
        return 0;
    }
    if (ws->opcode != FF_WS_OP_CONT) {
        ws->msg_op = ws->opcode;
        ws->msg_compressed = ws->rsv1;
        ws->msg_wire = 0;
        ws->msg_len = 0;
        memset(&ws->utf8, 0, sizeof ws->utf8);
    }
    if (ws->msg_compressed) {
        uint64_t limit = max > UINT64_MAX - WIRE_SLACK(max) ? UINT64_MAX : max + WIRE_SLACK(max);
        if (len > limit - ws->msg_wire)
            return fail(ws, ev, 1009, "message too big");
    } else if (len > max - ws->msg_len) {
        return fail(ws, ev, 1009, "message too big");
    }
    ws->msg_wire += len;
    return 0;
}

/* Checks the message bytes from `from` on as text. 0, or 1 with an error. */
static int check_text(ff_ws *ws, ff_ws_event *ev, size_t from)
{
    if (ws->msg_op == FF_WS_OP_TEXT &&
        ff_utf8_feed(&ws->utf8, (const unsigned char *)ws->msg + from, ws->msg_len - from) < 0)
        return fail(ws, ev, 1007, "text message is not UTF-8");
    return 0;
}

/* Inflates and reports what came out: UTF-8 of the new bytes first, so that
 * the verdict does not depend on how the input was split. */
static int inflate_checked(ff_ws *ws, ff_ws_event *ev, const unsigned char *in, size_t n,
                           int tail)
{
    size_t before = ws->msg_len;
    int r = ff_ws_inflate(ws, in, n, tail);
    if (r < 0)
        return -1;
    if (check_text(ws, ev, before))
        return 1;
    if (r == 1009)
        return fail(ws, ev, 1009, "message too big once inflated");
    if (r)
        return fail(ws, ev, 1007, "compressed data is corrupt");
    return 0;
}

/* n payload bytes of the current frame. 0, 1 with an error, -1 out of memory. */
static int payload(ff_ws *ws, ff_ws_event *ev, const unsigned char *p, size_t n)
{
    if (ws->opcode >= 8) {
        unmask(ws, ws->ctrl + ws->ctrl_len, p, n);
        ws->ctrl_len = (uint8_t)(ws->ctrl_len + n);
        return 0;
    }
    if (!ws->msg_compressed) {
        size_t before = ws->msg_len;
        if (msg_reserve(ws, n) < 0)
            return -1;
        unmask(ws, (unsigned char *)ws->msg + ws->msg_len, p, n);
        ws->msg_len += n;
        return check_text(ws, ev, before);
    }
    while (n) {
        unsigned char tmp[4096];
        size_t k = n < sizeof tmp ? n : sizeof tmp;
        unmask(ws, tmp, p, k);
        int r = inflate_checked(ws, ev, tmp, k, 0);
        if (r)
            return r;
        p += k;
        n -= k;
    }
    return 0;
}

/* A close frame's payload: an optional code and a UTF-8 reason. */
static int close_frame(ff_ws *ws, ff_ws_event *ev)
{
    int code = 1005;
    ff_utf8 u = {0};

    if (ws->ctrl_len == 1)
        return fail(ws, ev, 1002, "close frame with a 1-byte payload");
    if (ws->ctrl_len >= 2) {
        code = ws->ctrl[0] << 8 | ws->ctrl[1];
        if (!ff_ws_close_code_valid(code))
            return fail(ws, ev, 1002, "invalid close code");
        if (ff_utf8_feed(&u, ws->ctrl + 2, ws->ctrl_len - 2u) < 0 || u.need)
            return fail(ws, ev, 1007, "close reason is not UTF-8");
    }
    ws->state = ST_DONE;
    ws->err_code = 1002;
    ws->err_reason = "data after the close frame";
    memset(ev, 0, sizeof *ev);
    ev->kind = FF_WS_EV_CLOSE;
    ev->code = code;
    ev->data = (const char *)ws->ctrl;
    ev->len = ws->ctrl_len;
    ev->reason = ws->ctrl_len > 2 ? (const char *)ws->ctrl + 2 : "";
    ev->reason_len = ws->ctrl_len > 2 ? ws->ctrl_len - 2u : 0;
    return 1;
}

/* The current frame's payload is all in. 1 with an event, 0 when the frame
 * only continued a message, -1 out of memory. */
static int frame_end(ff_ws *ws, ff_ws_event *ev)
{
    if (ws->opcode >= 8) {
        if (ws->opcode == FF_WS_OP_CLOSE)
            return close_frame(ws, ev);
        memset(ev, 0, sizeof *ev);
        ev->kind = ws->opcode == FF_WS_OP_PING ? FF_WS_EV_PING : FF_WS_EV_PONG;
        ev->data = (const char *)ws->ctrl;
        ev->len = ws->ctrl_len;
        return 1;
    }
    if (!ws->fin)
        return 0;
    if (ws->msg_compressed) {
        static const unsigned char tail[4] = {0, 0, 0xff, 0xff};
        int r = inflate_checked(ws, ev, tail, 4, 1);
        if (r)
            return r;
        ff_ws_inflate_done(ws);
    }
    if (ws->msg_op == FF_WS_OP_TEXT && ws->utf8.need)
        return fail(ws, ev, 1007, "text message ends inside a UTF-8 sequence");
    memset(ev, 0, sizeof *ev);
    ev->kind = ws->msg_op == FF_WS_OP_TEXT ? FF_WS_EV_TEXT : FF_WS_EV_BINARY;
    ev->data = ws->msg ? ws->msg : "";
    ev->len = ws->msg_len;
    ws->msg_op = 0;
    ws->delivered = 1;
    return 1;
}

/* One loop over frames: gather a header (byte by byte, at most 14), stream
 * its payload, act at its end. Nothing is buffered but the header bytes, the
 * control payload and the message, so the input can be split anywhere. */
int ff_ws_read(ff_ws *ws, const char *in, size_t len, size_t *used, ff_ws_event *ev)
{
    const unsigned char *p = (const unsigned char *)in, *end = p + len;
    int r;

    *used = 0;
    if (ws->delivered)
        msg_release(ws);
    if (ws->state == ST_DONE) {
        *used = len;
        return len ? fail(ws, ev, ws->err_code, ws->err_reason) : 0;
    }
    for (;;) {
        if (ws->state == ST_HEAD) {
            while (ws->head_len < ws->head_need && p < end) {
                ws->head[ws->head_len++] = *p++;
                if (ws->head_len == 2 && head_start(ws, ev)) {
                    *used = (size_t)(p - (const unsigned char *)in);
                    return 1;
                }
            }
            if (ws->head_len < ws->head_need) {
                *used = len;
                return 0;
            }
            if (head_end(ws, ev)) {
                *used = (size_t)(p - (const unsigned char *)in);
                return 1;
            }
            ws->state = ST_PAYLOAD;
        }
        size_t n = (size_t)(end - p);
        if (n > ws->remaining)
            n = (size_t)ws->remaining;
        r = n ? payload(ws, ev, p, n) : 0;
        p += n;
        ws->remaining -= n;
        *used = (size_t)(p - (const unsigned char *)in);
        if (r)
            return r;
        if (ws->remaining) {
            *used = len;
            return 0;
        }
        ws->state = ST_HEAD;
        ws->head_len = 0;
        ws->head_need = 2;
        r = frame_end(ws, ev);
        if (r)
            return r;
    }
}

int ff_ws_close_code_valid(int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}
