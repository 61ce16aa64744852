/* ws/internal.h — what read.c, write.c and deflate.c share: the connection
 * state and the incremental UTF-8 check. Not for use outside ws/. */
#ifndef FF_WS_INTERNAL_H
#define FF_WS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ws/ws.h"

/* An incremental UTF-8 validator (RFC 3629): `need` continuation bytes are
 * still owed, the next one must lie in lo..hi (which is how overlongs,
 * surrogates and code points over U+10FFFF are refused). */
typedef struct {
    uint8_t need, lo, hi;
} ff_utf8;

/* 0 when p[0..n) continues valid UTF-8 (a sequence may stay open), -1 when
 * it cannot be. */
int ff_utf8_feed(ff_utf8 *u, const unsigned char *p, size_t n);

/* The reader's message buffer is freed after delivery when it grew over
 * this: an idle connection holds its ff_ws (under 300 bytes) and at most this
 * much, so 10,000 of them stay under 10 MiB, while small chatty messages
 * reuse their buffer. */
#define FF_WS_KEEP_BUFFER 512

struct ff_ws {
    ff_ws_config cfg;
    int state;               /* read.c: reading a head, a payload, or done */
    unsigned char head[14];
    uint8_t head_len, head_need;
    uint8_t fin, rsv1, opcode;
    unsigned char mask[4];
    unsigned mask_pos;
    uint64_t remaining;      /* payload bytes of the current frame still to come */
    /* the data message being assembled */
    uint8_t msg_op;          /* 0 (none), TEXT or BINARY */
    uint8_t msg_compressed;
    uint8_t delivered;       /* msg was handed out: reset it on the next call */
    uint8_t z_ended;         /* the client's deflate stream ended (BFINAL) in this message */
    ff_utf8 utf8;
    uint64_t msg_wire;       /* payload bytes received for it (compressed size) */
    char *msg;
    size_t msg_len, msg_cap;
    /* the control frame being read */
    unsigned char ctrl[125];
    uint8_t ctrl_len;
    /* after an error or the client's close */
    int err_code;
    const char *err_reason;
    /* zlib streams, made on the first compressed message (deflate.c) */
    void *inflater;
    void *deflater;
};

/* deflate.c. Inflates in[0..n) into the message buffer, never past
 * cfg.max_message + 1 bytes; `tail` adds RFC 7692's 00 00 ff ff (the end of a
 * message). 0, -1 out of memory, 1009 over max_message, 1007 corrupt data. */
int ff_ws_inflate(ff_ws *ws, const unsigned char *in, size_t n, int tail);
/* The message ended: drop the inflater's context when the client resets its own. */
void ff_ws_inflate_done(ff_ws *ws);
/* Appends data[0..len) deflated (without the final 00 00 ff ff) to out.
 * 0, or -1 out of memory (out as it was, the deflater reset). */
int ff_ws_deflate(ff_ws *ws, ff_buf *out, const char *data, size_t len);
void ff_ws_zlib_free(ff_ws *ws);

#endif
