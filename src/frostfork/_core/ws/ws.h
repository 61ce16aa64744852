/* ws/ws.h — the WebSocket protocol (RFC 6455, RFC 7692), pure C.
 *
 * Beside http/ and below everything that includes Python.h. Three parts:
 *   - the opening handshake: checking an Upgrade request (RFC 6455 §4.2.1),
 *     Sec-WebSocket-Accept, the subprotocol list, permessage-deflate offers,
 *     and writing the 101 answer;
 *   - a resumable reader: bytes from the client in, whole events out
 *     (messages reassembled from fragments, inflated, UTF-8 checked; control
 *     frames between fragments; protocol errors as the close code to send);
 *   - a writer: messages and control frames into an ff_buf (unmasked, server
 *     side), deflated when permessage-deflate was negotiated.
 * The caller owns the socket, the buffers and the timing; nothing here
 * blocks, and no input can make it allocate more than max_message plus a
 * bounded overhead. */
#ifndef FF_WS_WS_H
#define FF_WS_WS_H

#include <stddef.h>
#include <stdint.h>

#include "http/parse.h"
#include "util/buf.h"

enum {
    FF_WS_OP_CONT = 0x0,
    FF_WS_OP_TEXT = 0x1,
    FF_WS_OP_BINARY = 0x2,
    FF_WS_OP_CLOSE = 0x8,
    FF_WS_OP_PING = 0x9,
    FF_WS_OP_PONG = 0xA,
};

/* ---- the opening handshake ---- */

/* The window asked of a client that offers client_max_window_bits: 4 KiB, so
 * a session's inflater holds about 11 KiB instead of 40 (the deflater, ours,
 * uses a 12-bit window and memLevel 5 whatever was agreed: about 40 KiB
 * instead of 270). Context takeover is kept: compression stays good. */
#define FF_WS_CLIENT_WINDOW_BITS 12
#define FF_WS_SERVER_WINDOW_BITS 12

typedef struct {
    int enabled;                    /* permessage-deflate agreed */
    int server_no_context_takeover; /* the server resets its deflater per message */
    int client_no_context_takeover; /* the client resets its deflater per message */
    int server_max_window_bits;     /* 9..15 (the server's deflater window); 15 when not sent */
    int client_max_window_bits;     /* 8..15 (our inflater's window); 15 when not sent, at most
                                     * FF_WS_CLIENT_WINDOW_BITS when the client let us choose */
    int server_bits_offered;        /* the offer named server_max_window_bits: the answer must */
    int client_bits_offered;        /* ... and client_max_window_bits: the answer may */
} ff_ws_deflate_params;

typedef struct {
    /* in: what the server allows */
    int allow_deflate;
    /* out: the request's parts the answer needs */
    const char *key;               /* Sec-WebSocket-Key as sent (24 chars of base64) */
    size_t key_len;
    const char *protocols;         /* Sec-WebSocket-Protocol values, joined by ", "
                                    * (NULL when none; points into the request or into
                                    * protocols_buf when the header was repeated) */
    size_t protocols_len;
    char protocols_buf[512];
    ff_ws_deflate_params deflate;  /* the first acceptable permessage-deflate offer */
    int status;                    /* on refusal: 400, or 426 (wrong version) */
    const char *reason;            /* on refusal: why, for the body */
    /* in: when permessage-deflate is agreed, answer server_no_context_takeover
     * and client_no_context_takeover whatever the offer said (RFC 7692
     * §7.1.1.1 and §7.1.1.2 let a server include both unasked): then no zlib
     * stream outlives a message, so an idle connection holds none (about
     * 300 KiB of deflater and 40 KiB of inflater otherwise), at the cost of
     * compressing each message alone. */
    int no_context_takeover;
} ff_ws_handshake;

/* 1 when the request asks for a WebSocket (an Upgrade header whose token list
 * holds "websocket"), 0 otherwise: the cheap test a dispatcher runs first. */
int ff_ws_is_upgrade(const ff_http_request *h);

/* Checks an upgrade request as RFC 6455 §4.2.1 says: GET, HTTP/1.1, no body,
 * Upgrade: websocket, Connection containing the token upgrade, a
 * Sec-WebSocket-Key that is base64 of 16 bytes, Sec-WebSocket-Version: 13.
 * Fills hs (allow_deflate must be set by the caller). 0 when it may be
 * accepted; -1 when refused (hs->status and hs->reason say why: 426 for a
 * version other than 13, whose answer must carry Sec-WebSocket-Version: 13). */
int ff_ws_check_request(const ff_http_request *h, ff_ws_handshake *hs);

/* base64(SHA-1(key + the RFC's GUID)): 28 characters and a NUL. */
void ff_ws_accept_value(const char *key, size_t key_len, char out[29]);

/* Writes the 101 Switching Protocols head: Upgrade, Connection,
 * Sec-WebSocket-Accept, Sec-WebSocket-Protocol when `subprotocol` is not NULL,
 * Sec-WebSocket-Extensions when hs->deflate.enabled, then `extra` (already
 * formatted "Name: value\r\n" lines, may be NULL) and the blank line. 0, or -1
 * out of memory (out left as it was). */
int ff_ws_write_accept(ff_buf *out, const ff_ws_handshake *hs, const char *subprotocol,
                       size_t subprotocol_len, const char *extra, size_t extra_len);

/* ---- one connection's protocol state ---- */

typedef struct ff_ws ff_ws;

typedef struct {
    uint64_t max_message;          /* bytes of one message after inflating; over it: 1009 */
    ff_ws_deflate_params deflate;  /* as negotiated (enabled = 0: no compression) */
    size_t deflate_min;            /* messages shorter than this are sent uncompressed */
} ff_ws_config;

/* NULL when out of memory. */
ff_ws *ff_ws_new(const ff_ws_config *cfg);
void ff_ws_free(ff_ws *ws);

enum ff_ws_event_kind {
    FF_WS_EV_TEXT = 1,   /* a whole text message, valid UTF-8 */
    FF_WS_EV_BINARY,     /* a whole binary message */
    FF_WS_EV_PING,       /* data: the ping's payload; answer with a pong */
    FF_WS_EV_PONG,
    FF_WS_EV_CLOSE,      /* the client's close: code (1005 when it sent none) and reason */
    FF_WS_EV_ERROR,      /* the client broke the protocol: close with code, reason says why */
};

typedef struct {
    int kind;                  /* ff_ws_event_kind */
    const char *data;          /* the message or control payload; valid until the next
                                * ff_ws_read call on this ws */
    size_t len;
    int code;                  /* CLOSE: the client's code; ERROR: 1002, 1007 or 1009 */
    const char *reason;        /* CLOSE / ERROR: UTF-8 text, not NUL-terminated */
    size_t reason_len;
} ff_ws_event;

/* Reads client bytes. Consumes what it can of in[0..len) and sets *used;
 * returns 1 with *ev filled when an event is complete (call again with the
 * rest of the input), 0 when it needs more bytes (all of the input was
 * consumed, nothing pending), -1 when out of memory (the reader's state is
 * then lost: drop the connection). After an ERROR or a CLOSE event the reader
 * refuses more input (returns ERROR again, consuming it; a call with len 0
 * returns 0). Checks:
 * the mask bit (clients must mask: 1002), reserved bits (RSV1 only on a
 * first data frame with deflate agreed: 1002), unknown opcodes (1002),
 * control frames over 125 bytes or fragmented (1002), a continuation with
 * nothing to continue or a new data frame inside a fragmented message (1002),
 * close payload of 1 byte, bad close codes or a reason that is not UTF-8
 * (1002 / 1007), text that is not UTF-8, checked as fragments arrive (1007),
 * the message size before and after inflating (1009), a non-minimal length
 * encoding is allowed (RFC 6455 does not forbid reading it), a 64-bit length
 * with the top bit set (1002). */
int ff_ws_read(ff_ws *ws, const char *in, size_t len, size_t *used, ff_ws_event *ev);

/* Writes one message (TEXT or BINARY) as one frame, deflated (RSV1) when
 * agreed and len >= deflate_min. 0, or -1 out of memory (out as it was). */
int ff_ws_write_message(ff_ws *ws, ff_buf *out, int opcode, const char *data, size_t len);

/* Writes a control frame (PING, PONG) with up to 125 bytes of payload (longer
 * is cut to 125). 0 or -1. */
int ff_ws_write_control(ff_buf *out, int opcode, const char *data, size_t len);

/* Writes a close frame: code (0: no code, empty payload) and a reason cut to
 * fit 123 bytes at a UTF-8 boundary. 0 or -1. */
int ff_ws_write_close(ff_buf *out, int code, const char *reason, size_t reason_len);

/* 1 when `code` may be sent or received in a close frame (RFC 6455 §7.4:
 * 1000-1003, 1007-1011 (and 1012-1014 as registered), 3000-4999). */
int ff_ws_close_code_valid(int code);

#endif
