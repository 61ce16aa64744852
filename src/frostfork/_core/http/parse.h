/* http/parse.h — HTTP/1.1 request-head parser and chunked decoder (RFC 9112).
 *
 * Pure C: no Python, no allocation. The caller owns every buffer; results point
 * into the caller's buffer. The contract follows picohttpparser:
 *   >= 0  bytes consumed (the whole head, including the blank line),
 *   -2    incomplete, call again with more bytes (no limit exceeded yet),
 *   -1    malformed; *err names the reason, ff_http_error_status() maps it
 *         to the status code to answer with (400/413/414/431/501/505).
 */
#ifndef FF_HTTP_PARSE_H
#define FF_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum ff_http_error {
    FF_HTTP_OK = 0,
    FF_HTTP_E_REQUEST_LINE,      /* 400 malformed request line */
    FF_HTTP_E_METHOD,            /* 400 method is not a token */
    FF_HTTP_E_TARGET,            /* 400 bad request-target (control chars, form) */
    FF_HTTP_E_VERSION,           /* 505 HTTP version other than 1.0 / 1.1 */
    FF_HTTP_E_URI_TOO_LONG,      /* 414 request line over the limit */
    FF_HTTP_E_HEADERS_TOO_LARGE, /* 431 header section over the byte limit */
    FF_HTTP_E_TOO_MANY_HEADERS,  /* 431 more header fields than the limit */
    FF_HTTP_E_HEADER_NAME,       /* 400 empty or non-token field name */
    FF_HTTP_E_HEADER_VALUE,      /* 400 control character in a field value */
    FF_HTTP_E_OBS_FOLD,          /* 400 line folding (obs-fold) */
    FF_HTTP_E_SPACE_BEFORE_COLON,/* 400 whitespace between name and colon */
    FF_HTTP_E_BARE_CR,           /* 400 CR not followed by LF */
    FF_HTTP_E_BARE_LF,           /* 400 LF not preceded by CR */
    FF_HTTP_E_CONTENT_LENGTH,    /* 400 malformed or differing Content-Length */
    FF_HTTP_E_CL_AND_TE,         /* 400 Content-Length together with Transfer-Encoding */
    FF_HTTP_E_TRANSFER_ENCODING, /* 400 final coding is not chunked / chunked twice / TE on 1.0 */
    FF_HTTP_E_TE_NOT_IMPLEMENTED,/* 501 a coding other than chunked before chunked */
    FF_HTTP_E_HOST,              /* 400 missing or duplicated Host on HTTP/1.1 */
    FF_HTTP_E_BODY_TOO_LARGE,    /* 413 declared or decoded body over the limit */
    FF_HTTP_E_CHUNK_SIZE,        /* 400 bad or overflowing chunk size */
    FF_HTTP_E_CHUNK_EXT,         /* 400 chunk extension over the limit or malformed */
    FF_HTTP_E_CHUNK_FRAMING,     /* 400 missing CRLF after chunk data, bare LF/CR */
    FF_HTTP_E_TRAILER,           /* 400/431 malformed or oversized trailer section */
    FF_HTTP_E__COUNT
};

/* The status code to answer with, and a short human reason for logs/bodies. */
int ff_http_error_status(enum ff_http_error err);
const char *ff_http_error_text(enum ff_http_error err);

typedef struct {
    const char *name;
    size_t name_len;
    const char *value; /* OWS trimmed on both sides */
    size_t value_len;
} ff_http_header;

/* Fixed limits of the codec (the configurable ones are in ff_http_limits). */
#define FF_HTTP_MAX_LEADING_EMPTY_LINES 4 /* CRLFs before a request line; more: 400 */
#define FF_HTTP_MAX_CHUNK_SIZE_DIGITS 16  /* hex digits of a chunk size; more: 400 */
#define FF_HTTP_MAX_CHUNK_EXT 1024        /* the server's max_chunk_ext */

typedef struct {
    size_t max_request_line; /* bytes of the request line, without CRLF: 414 above */
    size_t max_header_bytes; /* bytes of the whole head: 431 above */
    size_t max_headers;      /* header fields: 431 above; capacity of headers[] */
    uint64_t max_body;       /* Content-Length / decoded chunked size: 413 above */
    size_t max_chunk_ext;    /* bytes of extensions on one chunk-size line */
} ff_http_limits;

enum {
    FF_HTTP_F_CHUNKED = 1u << 0,         /* Transfer-Encoding: chunked */
    FF_HTTP_F_KEEP_ALIVE = 1u << 1,      /* connection persists after this request */
    FF_HTTP_F_EXPECT_CONTINUE = 1u << 2, /* Expect: 100-continue */
    FF_HTTP_F_ABSOLUTE_FORM = 1u << 3,   /* target was absolute-form (path points inside it) */
};

typedef struct {
    const char *method;
    size_t method_len;
    const char *target; /* raw request-target as sent */
    size_t target_len;
    const char *path;   /* origin path: target up to '?' ('/'... or "*") */
    size_t path_len;
    const char *query;  /* after '?', without it; NULL/0 when absent */
    size_t query_len;
    const char *authority; /* absolute-form only: host[:port] of the target, which
                            * replaces Host (RFC 9112 3.2.2); NULL/0 otherwise.
                            * Header fields are reported as sent. */
    size_t authority_len;
    int version_minor;  /* 0 or 1 */
    ff_http_header *headers; /* caller's array, max_headers entries */
    size_t num_headers;
    int64_t content_length;  /* -1 when absent */
    unsigned flags;          /* FF_HTTP_F_* */
} ff_http_request;

/* Parses the request head at buf[0..len). prev_len is the length passed to
 * the previous call on the same buffer that returned -2 (0 the first time),
 * so re-entry costs only the new bytes. headers must hold lim->max_headers
 * entries. Leading empty lines before the request line are skipped and
 * counted as consumed. */
ssize_t ff_http_parse_request(const char *buf, size_t len, size_t prev_len,
                              const ff_http_limits *lim, ff_http_request *req,
                              ff_http_header *headers, enum ff_http_error *err);

/* An absolute-form target replaces Host (RFC 9112 3.2.2): the Host field a
 * handler and a WSGI app see is the target's authority. The field list is
 * edited in place: the Host entry's value is pointed at the authority, or an
 * entry is added when an HTTP/1.0 request came without one, so `headers`
 * must have room for one entry more than the parser may fill. */
void ff_http_use_target_host(ff_http_request *req);

/* Resumable in-place chunked body decoder.
 *
 * Feed it the raw bytes after the head, in any splits: on each call buf[0..*len)
 * holds bytes not yet given to the decoder; on return the decoded payload bytes
 * from this call are compacted to buf[0..*len) (the caller appends them to
 * what earlier calls produced). Returns -2 when the terminating last-chunk and
 * trailer section have not arrived yet, -1 on error (*err set), or the number
 * of bytes that follow the chunked message, left at buf[*len..*len+ret) —
 * a pipelined next request. Trailer fields are validated and discarded. */
typedef struct {
    uint64_t remaining;    /* bytes left in the current chunk's data */
    uint64_t total;        /* decoded bytes so far, checked against max_body */
    size_t line_bytes;     /* bytes seen on the current size/trailer line */
    size_t trailer_bytes;  /* bytes seen in the trailer section */
    int state;             /* internal */
    int hex_digits;        /* digits seen in the current size */
} ff_http_chunked;

void ff_http_chunked_init(ff_http_chunked *d);
ssize_t ff_http_chunked_decode(ff_http_chunked *d, const ff_http_limits *lim,
                               char *buf, size_t *len, enum ff_http_error *err);

#endif
