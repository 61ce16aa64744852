/* ws/handshake.c — the server side of the opening handshake (RFC 6455 §4.2,
 * RFC 7692 §5 and §7.1): checking an Upgrade request, negotiating
 * permessage-deflate, and writing the 101 answer. */
#include "ws/ws.h"

#include <string.h>
#include <strings.h>

#include "ws/sha1.h"

#define GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

static int name_is(const ff_http_header *f, const char *name)
{
    size_t n = strlen(name);
    return f->name_len == n && strncasecmp(f->name, name, n) == 0;
}

static int is_ows(char c) { return c == ' ' || c == '\t'; }

/* RFC 9110 tchar. */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* 1 when the comma-separated list v[0..n) holds `token` (case-insensitive),
 * ignoring empty elements and whitespace around them. */
static int list_has(const char *v, size_t n, const char *token)
{
    size_t tn = strlen(token), i = 0;

    while (i < n) {
        while (i < n && (is_ows(v[i]) || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && is_ows(v[e - 1]))
            e--;
        if (e - s == tn && strncasecmp(v + s, token, tn) == 0)
            return 1;
    }
    return 0;
}

/* The token list of every field named `name` holds `token`. */
static int headers_have(const ff_http_request *h, const char *name, const char *token)
{
    for (size_t i = 0; i < h->num_headers; i++)
        if (name_is(&h->headers[i], name) &&
            list_has(h->headers[i].value, h->headers[i].value_len, token))
            return 1;
    return 0;
}

int ff_ws_is_upgrade(const ff_http_request *h)
{
    return headers_have(h, "upgrade", "websocket");
}

/* ---- permessage-deflate offers (RFC 7692 §7.1) ---- */

typedef struct {
    const char *p, *end;
} cursor;

static void skip_ows(cursor *c)
{
    while (c->p < c->end && is_ows(*c->p))
        c->p++;
}

/* Reads a token; its length (0 when none is there). */
static size_t take_token(cursor *c, const char **tok)
{
    *tok = c->p;
    while (c->p < c->end && is_tchar((unsigned char)*c->p))
        c->p++;
    return (size_t)(c->p - *tok);
}

/* A window-bits value: 1*DIGIT without a leading zero, 8..15; -1 otherwise. */
static int window_bits(const char *v, size_t n)
{
    if (n == 1 && v[0] >= '8' && v[0] <= '9')
        return v[0] - '0';
    if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
        return 10 + v[1] - '0';
    return -1;
}

/* Skips to just after the comma that ends the current list element (outside
 * quoted strings), or to the end. */
static void skip_element(cursor *c)
{
    int quoted = 0;
    while (c->p < c->end) {
        char ch = *c->p++;
        if (quoted && ch == '\\' && c->p < c->end)
            c->p++;
        else if (ch == '"')
            quoted = !quoted;
        else if (ch == ',' && !quoted)
            return;
    }
}

/* Parses one extension element at c (the cursor is left after its comma).
 * 1 with *out filled when it is a permessage-deflate offer we accept; 0 when
 * it is another extension, malformed, or an offer we decline (unknown or
 * repeated parameter, a bad value, server_max_window_bits=8 which zlib
 * cannot honour). */
static int parse_offer(cursor *c, ff_ws_deflate_params *out)
{
    const char *tok;
    size_t n;
    int seen_snct = 0, seen_cnct = 0, seen_smwb = 0, seen_cmwb = 0;
    ff_ws_deflate_params d = {1, 0, 0, 15, 15};

    skip_ows(c);
    n = take_token(c, &tok);
    if (n != 18 || strncasecmp(tok, "permessage-deflate", 18) != 0)
        goto decline;
    for (;;) {
        skip_ows(c);
        if (c->p == c->end || *c->p == ',')
            break;
        if (*c->p != ';')
            goto decline;
        c->p++;
        skip_ows(c);
        const char *name, *val = NULL;
        size_t nn = take_token(c, &name), vn = 0;
        char unq[4];
        if (!nn)
            goto decline;
        skip_ows(c);
        if (c->p < c->end && *c->p == '=') {
            c->p++;
            skip_ows(c);
            if (c->p < c->end && *c->p == '"') {
                /* quoted-string: its content must be a token (RFC 7692 §7.1);
                 * window bits fit in 2 characters */
                c->p++;
                while (c->p < c->end && *c->p != '"') {
                    if (*c->p == '\\' && c->p + 1 < c->end)
                        c->p++;
                    if (vn < sizeof unq)
                        unq[vn] = *c->p;
                    vn++;
                    c->p++;
                }
                if (c->p == c->end)
                    goto decline;
                c->p++;
                if (vn > sizeof unq)
                    goto decline;
                val = unq;
            } else {
                vn = take_token(c, &val);
                if (!vn)
                    goto decline;
            }
        }
#define PARAM(s) (nn == sizeof(s) - 1 && strncasecmp(name, s, nn) == 0)
        if (PARAM("server_no_context_takeover")) {
            if (seen_snct++ || val)
                goto decline;
            d.server_no_context_takeover = 1;
        } else if (PARAM("client_no_context_takeover")) {
            if (seen_cnct++ || val)
                goto decline;
            d.client_no_context_takeover = 1;
        } else if (PARAM("server_max_window_bits")) {
            int b = val ? window_bits(val, vn) : -1;
            if (seen_smwb++ || b < 9) /* 8: zlib deflates with 9 at least */
                goto decline;
            d.server_max_window_bits = b;
            d.server_bits_offered = 1;
        } else if (PARAM("client_max_window_bits")) {
            int b = val ? window_bits(val, vn) : 15;
            if (seen_cmwb++ || b < 0)
                goto decline;
            /* the client lets us choose its window: a small one keeps our inflater small */
            d.client_max_window_bits = b < FF_WS_CLIENT_WINDOW_BITS ? b : FF_WS_CLIENT_WINDOW_BITS;
            d.client_bits_offered = 1;
        } else {
            goto decline;
        }
#undef PARAM
    }
    if (c->p < c->end)
        c->p++; /* the comma */
    *out = d;
    return 1;
decline:
    skip_element(c);
    return 0;
}

/* The first acceptable offer over every Sec-WebSocket-Extensions field, in
 * order; d->enabled stays 0 when there is none. */
static void negotiate_deflate(const ff_http_request *h, ff_ws_deflate_params *d)
{
    for (size_t i = 0; i < h->num_headers; i++) {
        if (!name_is(&h->headers[i], "sec-websocket-extensions"))
            continue;
        cursor c = {h->headers[i].value, h->headers[i].value + h->headers[i].value_len};
        while (c.p < c.end)
            if (parse_offer(&c, d))
                return;
    }
}

static int refuse(ff_ws_handshake *hs, int status, const char *reason)
{
    hs->status = status;
    hs->reason = reason;
    return -1;
}

/* The checks run in the order that gives the most useful refusal: what
 * makes it no WebSocket request at all first, the version (426 names the
 * one we speak) before the key. */
int ff_ws_check_request(const ff_http_request *h, ff_ws_handshake *hs)
{
    const ff_http_header *key = NULL, *version = NULL;
    unsigned char raw[18];
    size_t nproto = 0;

    hs->key = NULL;
    hs->key_len = 0;
    hs->protocols = NULL;
    hs->protocols_len = 0;
    memset(&hs->deflate, 0, sizeof hs->deflate);
    hs->deflate.server_max_window_bits = hs->deflate.client_max_window_bits = 15;
    hs->status = 0;
    hs->reason = NULL;

    if (h->method_len != 3 || memcmp(h->method, "GET", 3) != 0)
        return refuse(hs, 400, "a WebSocket handshake must be a GET");
    if (h->version_minor != 1)
        return refuse(hs, 400, "a WebSocket handshake needs HTTP/1.1");
    if (h->content_length > 0 || (h->flags & FF_HTTP_F_CHUNKED))
        return refuse(hs, 400, "a WebSocket handshake has no body");
    if (!ff_ws_is_upgrade(h))
        return refuse(hs, 400, "Upgrade must name websocket");
    if (!headers_have(h, "connection", "upgrade"))
        return refuse(hs, 400, "Connection must name upgrade");
    for (size_t i = 0; i < h->num_headers; i++) {
        const ff_http_header *f = &h->headers[i];
        if (name_is(f, "sec-websocket-key")) {
            if (key)
                return refuse(hs, 400, "Sec-WebSocket-Key sent twice");
            key = f;
        } else if (name_is(f, "sec-websocket-version")) {
            if (version)
                return refuse(hs, 426, "Sec-WebSocket-Version sent twice");
            version = f;
        } else if (name_is(f, "sec-websocket-protocol")) {
            if (f->value_len == 0)
                continue;
            if (nproto == 0) {
                hs->protocols = f->value;
                hs->protocols_len = f->value_len;
            } else {
                /* repeated: join them as one list in protocols_buf */
                size_t need = hs->protocols_len + 2 + f->value_len;
                if (need > sizeof hs->protocols_buf)
                    return refuse(hs, 400, "Sec-WebSocket-Protocol too long");
                if (hs->protocols != hs->protocols_buf) {
                    memmove(hs->protocols_buf, hs->protocols, hs->protocols_len);
                    hs->protocols = hs->protocols_buf;
                }
                memcpy(hs->protocols_buf + hs->protocols_len, ", ", 2);
                memcpy(hs->protocols_buf + hs->protocols_len + 2, f->value, f->value_len);
                hs->protocols_len = need;
            }
            nproto++;
        }
    }
    if (!version || version->value_len != 2 || memcmp(version->value, "13", 2) != 0)
        return refuse(hs, 426, "Sec-WebSocket-Version must be 13");
    if (!key)
        return refuse(hs, 400, "Sec-WebSocket-Key missing");
    if (key->value_len != 24 || ff_base64_decode(key->value, 24, raw) != 16)
        return refuse(hs, 400, "Sec-WebSocket-Key is not base64 of 16 bytes");
    hs->key = key->value;
    hs->key_len = key->value_len;
    if (hs->allow_deflate)
        negotiate_deflate(h, &hs->deflate);
    if (hs->deflate.enabled && hs->no_context_takeover)
        hs->deflate.server_no_context_takeover = hs->deflate.client_no_context_takeover = 1;
    return 0;
}

void ff_ws_accept_value(const char *key, size_t key_len, char out[29])
{
    ff_sha1 s;
    unsigned char digest[20];

    ff_sha1_init(&s);
    ff_sha1_update(&s, key, key_len);
    ff_sha1_update(&s, GUID, sizeof GUID - 1);
    ff_sha1_final(&s, digest);
    ff_base64_encode(digest, 20, out);
}

/* Appends "; name=N" for a window size other than the default 15 (the
 * default needs no parameter, and leaving it out means the same). */
static int put_bits(ff_buf *out, const char *name, int bits, int offered)
{
    if (bits == 15 && !offered) /* RFC 7692 7.1.2.1: an offered server_max_window_bits is answered */
        return 0;
    if (ff_buf_puts(out, name) < 0)
        return -1;
    return ff_buf_put_u64(out, (unsigned long long)bits);
}

/* The 101 head in one pass of appends; on failure the buffer is cut back to
 * what it held, so the caller can still answer 500 into it. */
int ff_ws_write_accept(ff_buf *out, const ff_ws_handshake *hs, const char *subprotocol,
                       size_t subprotocol_len, const char *extra, size_t extra_len)
{
    size_t mark_len = out->len, mark_off = out->off;
    char accept[29];
    const ff_ws_deflate_params *d = &hs->deflate;

    ff_ws_accept_value(hs->key, hs->key_len, accept);
    if (ff_buf_puts(out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Accept: ") < 0 ||
        ff_buf_append(out, accept, 28) < 0 || ff_buf_puts(out, "\r\n") < 0)
        goto oom;
    if (subprotocol && (ff_buf_puts(out, "Sec-WebSocket-Protocol: ") < 0 ||
                        ff_buf_append(out, subprotocol, subprotocol_len) < 0 ||
                        ff_buf_puts(out, "\r\n") < 0))
        goto oom;
    if (d->enabled &&
        (ff_buf_puts(out, "Sec-WebSocket-Extensions: permessage-deflate") < 0 ||
         (d->server_no_context_takeover &&
          ff_buf_puts(out, "; server_no_context_takeover") < 0) ||
         (d->client_no_context_takeover &&
          ff_buf_puts(out, "; client_no_context_takeover") < 0) ||
         put_bits(out, "; server_max_window_bits=", d->server_max_window_bits,
                  d->server_bits_offered) < 0 ||
         put_bits(out, "; client_max_window_bits=", d->client_max_window_bits,
                  d->client_bits_offered) < 0 ||
         ff_buf_puts(out, "\r\n") < 0))
        goto oom;
    if (extra && ff_buf_append(out, extra, extra_len) < 0)
        goto oom;
    if (ff_buf_puts(out, "\r\n") < 0)
        goto oom;
    return 0;
oom:
    /* ff_buf_reserve may have compacted (off moved to 0): what was there is
     * still the mark_len - mark_off bytes from off */
    out->len = out->off + (mark_len - mark_off);
    return -1;
}
