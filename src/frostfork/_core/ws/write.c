/* ws/write.c — server frames (RFC 6455 §5.2): unmasked, minimal length
 * encoding, one frame per message, deflated when agreed. */
#include "ws/internal.h"

#include <string.h>

#include "util/fault.h"

/* The header of a final frame of `len` bytes into h; its length (2..10). */
static size_t frame_head(unsigned char h[10], int opcode, int rsv1, uint64_t len)
{
    h[0] = (unsigned char)(0x80 | (rsv1 ? 0x40 : 0) | (opcode & 0x0F));
    if (len < 126) {
        h[1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        return 4;
    }
    h[1] = 127;
    for (int i = 0; i < 8; i++)
        h[2 + i] = (unsigned char)(len >> (56 - 8 * i));
    return 10;
}

/* Header and payload; out as it was on failure. */
static int put_frame(ff_buf *out, int opcode, const char *data, size_t len)
{
    unsigned char h[10];
    size_t hn = frame_head(h, opcode, 0, len);

    if (ff_buf_reserve(out, hn + len) < 0)
        return -1;
    memcpy(out->data + out->len, h, hn);
    if (len)
        memcpy(out->data + out->len + hn, data, len);
    out->len += hn + len;
    return 0;
}

int ff_ws_write_message(ff_ws *ws, ff_buf *out, int opcode, const char *data, size_t len)
{
    if (!ws->cfg.deflate.enabled || len < ws->cfg.deflate_min)
        return put_frame(out, opcode, data, len);

    /* deflate after a 10-byte gap, then write the real header at the gap's
     * end and close it up: the length is known only afterwards */
    unsigned char h[10];
    size_t start, payload, hn;

    if (ff_buf_reserve(out, 10) < 0)
        return -1;
    start = out->len - out->off;
    out->len += 10;
    if (ff_ws_deflate(ws, out, data, len) < 0) {
        out->len = out->off + start;
        return -1;
    }
    payload = out->len - out->off - start - 10;
    hn = frame_head(h, opcode, 1, payload);
    char *at = out->data + out->off + start;
    memcpy(at, h, hn);
    if (hn < 10) {
        memmove(at + hn, at + 10, payload);
        out->len -= 10 - hn;
    }
    return 0;
}

int ff_ws_write_control(ff_buf *out, int opcode, const char *data, size_t len)
{
    return put_frame(out, opcode, data, len > 125 ? 125 : len);
}

int ff_ws_write_close(ff_buf *out, int code, const char *reason, size_t reason_len)
{
    char p[125];

    if (!code)
        return put_frame(out, FF_WS_OP_CLOSE, NULL, 0);
    if (reason_len > 123) {
        /* cut at a character boundary: back off over continuation bytes */
        reason_len = 123;
        while (reason_len && ((unsigned char)reason[reason_len] & 0xC0) == 0x80)
            reason_len--;
    }
    p[0] = (char)(code >> 8);
    p[1] = (char)code;
    if (reason_len)
        memcpy(p + 2, reason, reason_len);
    return put_frame(out, FF_WS_OP_CLOSE, p, 2 + reason_len);
}
