/* http/chunked.c — the resumable in-place chunked body decoder (RFC 9112 7.1).
 *
 * The decoder is a byte-level state machine whose whole state lives in
 * ff_http_chunked, so input may be split anywhere, down to single bytes, and
 * every byte handed in is consumed: nothing has to be kept or re-fed by the
 * caller. Chunk data, the bulk of a body, bypasses the state machine and is
 * moved with one memmove per run. Decoded bytes are written over the input
 * they came from; the write position never passes the read position, because
 * every decoded byte is preceded in the input by at least itself.
 */
#include "parse.h"
#include "chars.h"

#include <string.h>


/* At most FF_HTTP_MAX_CHUNK_SIZE_DIGITS (16) hex digits: any such size fits
 * in 64 bits, so none overflows. */

/* Decoder states. The chunk-size line is `chunk-size [ chunk-ext ] CRLF` with
 * chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ) and ext-val a
 * token or quoted-string; the S_EXT_* states walk that grammar. */
enum {
    S_SIZE = 0,    /* chunk-size digits */
    S_EXT_WS,      /* BWS after the size or a value: only ';' may follow */
    S_EXT_NAME0,   /* after ';': BWS, then a name */
    S_EXT_NAME,    /* in a name */
    S_EXT_NAME_WS, /* BWS after a name: '=' or ';' */
    S_EXT_VAL0,    /* after '=': BWS, then a token or a quoted-string */
    S_EXT_VAL,     /* in a token value */
    S_EXT_QVAL,    /* in a quoted-string value */
    S_EXT_QESC,    /* after a backslash in a quoted-string */
    S_EXT_QEND,    /* after the closing quote */
    S_SIZE_LF,     /* CR of the size line seen */
    S_DATA,        /* in chunk data; d->remaining bytes left */
    S_DATA_CR,     /* expecting the CR after chunk data */
    S_DATA_LF,     /* expecting the LF after chunk data */
    S_TR_START,    /* at the start of a trailer line (or the final CRLF) */
    S_TR_NAME,     /* in a trailer field name */
    S_TR_VALUE,    /* in a trailer field value */
    S_TR_LF,       /* CR of a trailer line seen */
    S_FINAL_LF,    /* CR of the final empty line seen */
    S_DONE,        /* the message is complete */
    S_FAILED,      /* an error was returned; hex_digits holds it */
};

/* ff_http_chunked_decode picks a step function by ranges of these states. */
_Static_assert(S_SIZE_LF == S_EXT_QEND + 1 && S_DATA == S_SIZE_LF + 1 &&
                   S_TR_START == S_DATA_LF + 1 && S_DONE == S_FINAL_LF + 1,
               "the decoder's state ranges");

void ff_http_chunked_init(ff_http_chunked *d)
{
    memset(d, 0, sizeof(*d));
    d->state = S_SIZE;
}

/* Steps one byte of a chunk-size line's extension part. The extension bytes
 * of a line are bounded by max_chunk_ext because nothing downstream reads
 * them, and an unbounded run of ignored bytes is free bandwidth for an
 * attacker. Returns the next state, or -1 with *e set. */
static int step_ext(int state, unsigned char c, enum ff_http_error *e)
{
    switch (state) {
    case S_EXT_WS:
        if (FF_HTTP_IS(c, FF_C_WS))
            return S_EXT_WS;
        if (c == ';')
            return S_EXT_NAME0;
        break;
    case S_EXT_NAME0:
        if (FF_HTTP_IS(c, FF_C_WS))
            return S_EXT_NAME0;
        if (FF_HTTP_IS(c, FF_C_TCHAR))
            return S_EXT_NAME;
        break;
    case S_EXT_NAME:
    case S_EXT_NAME_WS:
        if (state == S_EXT_NAME && FF_HTTP_IS(c, FF_C_TCHAR))
            return S_EXT_NAME;
        if (FF_HTTP_IS(c, FF_C_WS))
            return S_EXT_NAME_WS;
        if (c == '=')
            return S_EXT_VAL0;
        if (c == ';')
            return S_EXT_NAME0;
        break;
    case S_EXT_VAL0:
        if (FF_HTTP_IS(c, FF_C_WS))
            return S_EXT_VAL0;
        if (c == '"')
            return S_EXT_QVAL;
        if (FF_HTTP_IS(c, FF_C_TCHAR))
            return S_EXT_VAL;
        break;
    case S_EXT_VAL:
    case S_EXT_QEND:
        if (state == S_EXT_VAL && FF_HTTP_IS(c, FF_C_TCHAR))
            return S_EXT_VAL;
        if (FF_HTTP_IS(c, FF_C_WS))
            return S_EXT_WS;
        if (c == ';')
            return S_EXT_NAME0;
        break;
    case S_EXT_QVAL:
        if (c == '"')
            return S_EXT_QEND;
        if (c == '\\')
            return S_EXT_QESC;
        if (FF_HTTP_IS(c, FF_C_QDTEXT))
            return S_EXT_QVAL;
        break;
    case S_EXT_QESC:
        if (FF_HTTP_IS(c, FF_C_VALUE))
            return S_EXT_QVAL;
        break;
    default:
        break;
    }
    *e = FF_HTTP_E_CHUNK_EXT;
    return -1;
}

static inline int fail(enum ff_http_error *e, enum ff_http_error code)
{
    *e = code;
    return -1;
}

/* One byte of a chunk-size line's digits (S_SIZE). The body limit is checked
 * while the digits arrive, so an oversized chunk is refused before its data
 * is read. Returns the next state, or -1 with *e set. */
static int step_size(ff_http_chunked *d, const ff_http_limits *lim, unsigned char c,
                     enum ff_http_error *e)
{
    if (FF_HTTP_IS(c, FF_C_HEX)) {
        if (d->hex_digits == FF_HTTP_MAX_CHUNK_SIZE_DIGITS)
            return fail(e, FF_HTTP_E_CHUNK_SIZE);
        d->hex_digits++;
        d->remaining = d->remaining << 4 | (uint64_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
        if (d->remaining > lim->max_body - d->total)
            return fail(e, FF_HTTP_E_BODY_TOO_LARGE);
        return S_SIZE;
    }
    if (c == '\n')
        return fail(e, FF_HTTP_E_CHUNK_FRAMING);
    if (d->hex_digits == 0)
        return fail(e, FF_HTTP_E_CHUNK_SIZE);
    if (c == '\r')
        return S_SIZE_LF;
    if (c != ';' && !FF_HTTP_IS(c, FF_C_WS))
        return fail(e, FF_HTTP_E_CHUNK_SIZE);
    if (++d->line_bytes > lim->max_chunk_ext)
        return fail(e, FF_HTTP_E_CHUNK_EXT);
    return c == ';' ? S_EXT_NAME0 : S_EXT_WS;
}

/* One byte of a size line's extensions (S_EXT_*): a CR ends the line only
 * where the grammar allows it to end, and the line's length is bounded. */
static int step_ext_line(ff_http_chunked *d, const ff_http_limits *lim, int st, unsigned char c,
                         enum ff_http_error *e)
{
    if (c == '\n')
        return fail(e, FF_HTTP_E_CHUNK_FRAMING);
    if (c == '\r') {
        if (st != S_EXT_NAME && st != S_EXT_VAL && st != S_EXT_QEND)
            return fail(e, FF_HTTP_E_CHUNK_EXT);
        return S_SIZE_LF;
    }
    if (++d->line_bytes > lim->max_chunk_ext)
        return fail(e, FF_HTTP_E_CHUNK_EXT);
    return step_ext(st, c, e);
}

/* The line ends of the framing: the LF of a size line (then data, or the
 * trailer section after the last chunk) and the CRLF after a chunk's data. */
static int step_crlf(ff_http_chunked *d, int st, unsigned char c, enum ff_http_error *e)
{
    switch (st) {
    case S_SIZE_LF:
        if (c != '\n')
            return fail(e, FF_HTTP_E_CHUNK_FRAMING);
        if (d->remaining == 0)
            return S_TR_START;
        d->total += d->remaining;
        return S_DATA;
    case S_DATA_CR:
        return c == '\r' ? S_DATA_LF : fail(e, FF_HTTP_E_CHUNK_FRAMING);
    default: /* S_DATA_LF */
        if (c != '\n')
            return fail(e, FF_HTTP_E_CHUNK_FRAMING);
        d->hex_digits = 0;
        d->line_bytes = 0;
        return S_SIZE;
    }
}

/* One byte of the trailer section, validated like a header section and
 * then dropped (trailers are not merged into the request). S_DONE after the
 * final empty line. */
static int step_trailer(int st, unsigned char c, enum ff_http_error *e)
{
    switch (st) {
    case S_TR_START:
        if (c == '\r')
            return S_FINAL_LF;
        if (c == '\n')
            return fail(e, FF_HTTP_E_CHUNK_FRAMING);
        if (FF_HTTP_IS(c, FF_C_TCHAR))
            return S_TR_NAME;
        return fail(e, FF_HTTP_E_TRAILER); /* includes a line starting with whitespace (obs-fold) */
    case S_TR_NAME:
        if (FF_HTTP_IS(c, FF_C_TCHAR))
            return S_TR_NAME;
        if (c == ':')
            return S_TR_VALUE;
        return fail(e, c == '\n' ? FF_HTTP_E_CHUNK_FRAMING : FF_HTTP_E_TRAILER);
    case S_TR_VALUE:
        if (FF_HTTP_IS(c, FF_C_VALUE))
            return S_TR_VALUE;
        if (c == '\r')
            return S_TR_LF;
        return fail(e, c == '\n' ? FF_HTTP_E_CHUNK_FRAMING : FF_HTTP_E_TRAILER);
    case S_TR_LF:
    case S_FINAL_LF:
        if (c != '\n')
            return fail(e, FF_HTTP_E_CHUNK_FRAMING);
        return st == S_TR_LF ? S_TR_START : S_DONE;
    default:
        return fail(e, FF_HTTP_E_CHUNK_FRAMING);
    }
}

/* The decoder proper: chunk data moves in runs, every other byte goes
 * through the step of its part of the grammar. Errors are decided byte by
 * byte, so the same input fails with the same code however it is split; a
 * bare LF anywhere in the framing is a framing error before anything else. */
ssize_t ff_http_chunked_decode(ff_http_chunked *d, const ff_http_limits *lim,
                               char *buf, size_t *len, enum ff_http_error *err)
{
    size_t r = 0, w = 0, n = *len, k, rest;
    enum ff_http_error e = FF_HTTP_OK;
    int st = d->state;

    *err = FF_HTTP_OK;
    if (st == S_DONE) {
        *len = 0;
        return (ssize_t)n;
    }
    if (st == S_FAILED) {
        *len = 0;
        *err = (enum ff_http_error)d->hex_digits;
        return -1;
    }

    while (r < n) {
        if (st == S_DATA) {
            k = n - r;
            if (k > d->remaining)
                k = (size_t)d->remaining;
            if (w != r)
                memmove(buf + w, buf + r, k);
            w += k;
            r += k;
            d->remaining -= k;
            if (d->remaining == 0)
                st = S_DATA_CR;
            continue;
        }
        unsigned char c = (unsigned char)buf[r++];
        if (st >= S_TR_START && ++d->trailer_bytes > lim->max_header_bytes) {
            e = FF_HTTP_E_TRAILER;
            goto failed;
        }
        if (st == S_SIZE)
            st = step_size(d, lim, c, &e);
        else if (st <= S_EXT_QEND)
            st = step_ext_line(d, lim, st, c, &e);
        else if (st <= S_DATA_LF)
            st = step_crlf(d, st, c, &e);
        else
            st = step_trailer(st, c, &e);
        if (st < 0)
            goto failed;
        if (st == S_DONE) {
            d->state = S_DONE;
            rest = n - r;
            if (rest != 0 && w != r)
                memmove(buf + w, buf + r, rest);
            *len = w;
            return (ssize_t)rest;
        }
    }
    d->state = st;
    *len = w;
    return -2;

failed:
    d->state = S_FAILED;
    d->hex_digits = (int)e;
    *len = w;
    *err = e;
    return -1;
}
