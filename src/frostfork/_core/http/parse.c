/* http/parse.c — the HTTP/1.1 request-head parser (RFC 9112, RFC 9110).
 *
 * A call works in two steps. A cheap scan first finds where the head ends (the
 * first empty line) and enforces the size limits, which have to be decided
 * before the head is complete so that an endless request line or header
 * section is refused early instead of being buffered. Only when the whole head
 * is present is it parsed, in one pass, every byte checked against a class
 * table. Since a complete head is known to end in LF and LF belongs to no
 * class a scanning loop continues on, every loop stops at that LF at the
 * latest: the loops need no bounds checks and cannot read past the head.
 *
 * Errors are reported for the first offending byte in buffer order, except
 * that the two size limits are decided before anything else, because they
 * are the only errors reported for an incomplete head: whichever way the
 * bytes are split between calls, the same input gives the same answer.
 */
#include "parse.h"
#include "chars.h"

#include <string.h>
#include <strings.h>


/* Empty lines (CRLF) skipped before a request line (RFC 9112 2.2 asks for at
 * least one, for clients that send an extra CRLF after a POST body). */

/* Returns the first byte at or after p outside class k. Unrolled by four;
 * each byte is read only after all before it matched, so the scan still
 * stops at the head's final LF and never reads past it. */
static inline const char *skip_class(const char *p, unsigned k)
{
    for (;;) {
        if (!FF_HTTP_IS(p[0], k))
            return p;
        if (!FF_HTTP_IS(p[1], k))
            return p + 1;
        if (!FF_HTTP_IS(p[2], k))
            return p + 2;
        if (!FF_HTTP_IS(p[3], k))
            return p + 3;
        p += 4;
    }
}

/* ------------------------------------------------------------------------ */
/* Error codes                                                               */
/* ------------------------------------------------------------------------ */

static const short error_status[FF_HTTP_E__COUNT] = {
    [FF_HTTP_OK] = 200,
    [FF_HTTP_E_REQUEST_LINE] = 400,
    [FF_HTTP_E_METHOD] = 400,
    [FF_HTTP_E_TARGET] = 400,
    [FF_HTTP_E_VERSION] = 505,
    [FF_HTTP_E_URI_TOO_LONG] = 414,
    [FF_HTTP_E_HEADERS_TOO_LARGE] = 431,
    [FF_HTTP_E_TOO_MANY_HEADERS] = 431,
    [FF_HTTP_E_HEADER_NAME] = 400,
    [FF_HTTP_E_HEADER_VALUE] = 400,
    [FF_HTTP_E_OBS_FOLD] = 400,
    [FF_HTTP_E_SPACE_BEFORE_COLON] = 400,
    [FF_HTTP_E_BARE_CR] = 400,
    [FF_HTTP_E_BARE_LF] = 400,
    [FF_HTTP_E_CONTENT_LENGTH] = 400,
    [FF_HTTP_E_CL_AND_TE] = 400,
    [FF_HTTP_E_TRANSFER_ENCODING] = 400,
    [FF_HTTP_E_TE_NOT_IMPLEMENTED] = 501,
    [FF_HTTP_E_HOST] = 400,
    [FF_HTTP_E_BODY_TOO_LARGE] = 413,
    [FF_HTTP_E_CHUNK_SIZE] = 400,
    [FF_HTTP_E_CHUNK_EXT] = 400,
    [FF_HTTP_E_CHUNK_FRAMING] = 400,
    [FF_HTTP_E_TRAILER] = 400,
};

static const char *const error_text[FF_HTTP_E__COUNT] = {
    [FF_HTTP_OK] = "ok",
    [FF_HTTP_E_REQUEST_LINE] = "malformed request line",
    [FF_HTTP_E_METHOD] = "method is not a token",
    [FF_HTTP_E_TARGET] = "invalid request target",
    [FF_HTTP_E_VERSION] = "HTTP version not supported",
    [FF_HTTP_E_URI_TOO_LONG] = "request line too long",
    [FF_HTTP_E_HEADERS_TOO_LARGE] = "header section too large",
    [FF_HTTP_E_TOO_MANY_HEADERS] = "too many header fields",
    [FF_HTTP_E_HEADER_NAME] = "invalid header field name",
    [FF_HTTP_E_HEADER_VALUE] = "invalid character in header field value",
    [FF_HTTP_E_OBS_FOLD] = "obsolete line folding",
    [FF_HTTP_E_SPACE_BEFORE_COLON] = "whitespace before colon in header field",
    [FF_HTTP_E_BARE_CR] = "CR not followed by LF",
    [FF_HTTP_E_BARE_LF] = "LF not preceded by CR",
    [FF_HTTP_E_CONTENT_LENGTH] = "invalid Content-Length",
    [FF_HTTP_E_CL_AND_TE] = "both Content-Length and Transfer-Encoding",
    [FF_HTTP_E_TRANSFER_ENCODING] = "invalid Transfer-Encoding",
    [FF_HTTP_E_TE_NOT_IMPLEMENTED] = "transfer coding not implemented",
    [FF_HTTP_E_HOST] = "missing or duplicated Host",
    [FF_HTTP_E_BODY_TOO_LARGE] = "body too large",
    [FF_HTTP_E_CHUNK_SIZE] = "invalid chunk size",
    [FF_HTTP_E_CHUNK_EXT] = "invalid or oversized chunk extension",
    [FF_HTTP_E_CHUNK_FRAMING] = "invalid chunked framing",
    [FF_HTTP_E_TRAILER] = "invalid or oversized trailer section",
};

int ff_http_error_status(enum ff_http_error err)
{
    if ((unsigned)err >= FF_HTTP_E__COUNT)
        return 400;
    return error_status[err];
}

const char *ff_http_error_text(enum ff_http_error err)
{
    if ((unsigned)err >= FF_HTTP_E__COUNT)
        return "unknown error";
    return error_text[err];
}

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */
/* ------------------------------------------------------------------------ */

/* A line was cut short by the CR or LF at p. Returns the terminator's own
 * defect if it has one, so that a bare CR or LF is always reported as such,
 * or FF_HTTP_OK for a proper CRLF (the caller then reports the line's defect).
 * Reading p[1] is safe: a CR is never the last byte of a complete head. */
static enum ff_http_error line_end_error(const char *p)
{
    if (*p == '\n')
        return FF_HTTP_E_BARE_LF;
    if (p[1] != '\n')
        return FF_HTTP_E_BARE_CR;
    return FF_HTTP_OK;
}

/* Compares s[0..n) with a lowercase literal, ignoring ASCII case. Setting bit
 * 0x20 lowercases a letter; the literals here hold only letters, digits, '-',
 * ':' and '/', and the only other bytes that the same bit maps onto those are
 * control characters, which never reach this function (names are tokens,
 * values and targets have been validated already). */
static int eq_nocase(const char *s, size_t n, const char *lit, size_t lit_len)
{
    size_t i;

    if (n != lit_len)
        return 0;
    for (i = 0; i < n; i++)
        if (((unsigned char)s[i] | 0x20) != (unsigned char)lit[i])
            return 0;
    return 1;
}

#define EQ_LIT(s, n, lit) eq_nocase((s), (n), lit, sizeof(lit) - 1)

/* Steps through a comma-separated field value (RFC 9110 5.6.1) one element
 * at a time. Returns 0 once the list is exhausted (*cur set to NULL), else 1
 * with [*s, *s + *n) the element without surrounding OWS. Empty elements are
 * returned too; the rules that call this ignore them, as the RFC asks. */
static int list_next(const char **cur, const char *end, const char **s, size_t *n)
{
    const char *p = *cur, *b, *t;

    if (p == NULL)
        return 0;
    for (b = p; p < end && *p != ','; p++)
        ;
    t = p;
    while (b < t && FF_HTTP_IS(*b, FF_C_WS))
        b++;
    while (t > b && FF_HTTP_IS(t[-1], FF_C_WS))
        t--;
    *s = b;
    *n = (size_t)(t - b);
    *cur = p < end ? p + 1 : NULL;
    return 1;
}

/* Content-Length is 1*DIGIT (RFC 9110 8.6). A list of identical values, as
 * made by intermediaries that merge repeated fields, stands for that value;
 * anything else is refused, since disagreeing with an intermediary about
 * where a body ends is how requests get smuggled. Eighteen digits keep any
 * value inside int64_t without an overflow check. */
static int parse_content_length(const char *v, size_t n, uint64_t *out)
{
    const char *cur = v, *s;
    size_t k, i;
    uint64_t x, first = 0;
    int seen = 0;

    while (list_next(&cur, v + n, &s, &k)) {
        if (k == 0 || k > 18)
            return -1;
        for (x = 0, i = 0; i < k; i++) {
            if (s[i] < '0' || s[i] > '9')
                return -1;
            x = x * 10 + (uint64_t)(s[i] - '0');
        }
        if (seen && x != first)
            return -1;
        first = x;
        seen = 1;
    }
    *out = first;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Finding the end of the head                                               */
/* ------------------------------------------------------------------------ */

/* Returns the offset just past the empty line that ends the head, or 0 when
 * buf[from..len) holds no complete end. The end is an LF followed by another
 * LF, optionally with a CR between. Lines ended by a bare LF count here on
 * purpose: such a head is then delimited and rejected by the full parse with
 * a precise reason, rather than waited on for bytes that never come. */
static size_t find_head_end(const char *buf, size_t from, size_t len)
{
    const char *p = buf + from, *e = buf + len, *lf;

    while (p < e) {
        lf = memchr(p, '\n', (size_t)(e - p));
        if (lf == NULL || e - lf < 2)
            return 0;
        if (lf[1] == '\n')
            return (size_t)(lf + 2 - buf);
        if (lf[1] == '\r') {
            if (e - lf < 3)
                return 0;
            if (lf[2] == '\n')
                return (size_t)(lf + 3 - buf);
        }
        p = lf + 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The request line                                                          */
/* ------------------------------------------------------------------------ */

/* Host = uri-host [ ":" port ] (RFC 9112 3.2, RFC 3986 3.2.2): reg-name
 * characters, percent-escapes, IP literals in brackets and the port colon;
 * no space, no userinfo '@', no path. An empty value is allowed. */
static int host_value_ok(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 (c != 0 && strchr("-._~!$&'()*+,;=%:[]", c) != NULL);
        if (!ok)
            return 0;
    }
    return 1;
}

/* Works out which request-target form (RFC 9112 3.2) the target has and where
 * its path and query are. Accepted are the forms an origin server is asked
 * for: origin-form, absolute-form with an http or https scheme (which every
 * HTTP/1.1 server must accept, 3.2.2), and asterisk-form with OPTIONS.
 * authority-form belongs to CONNECT, which an application server does not
 * tunnel. An absolute-form target must name a host (RFC 9110 4.2.1) made of
 * the characters a Host field may hold, so no userinfo (4.2.4); it is
 * reported as the authority, which the server uses in place of Host. */
static enum ff_http_error split_target(ff_http_request *req)
{
    const char *t = req->target, *e = t + req->target_len, *p, *q;
    size_t scheme;

    if (t[0] == '/') {
        p = t;
    } else if (req->target_len == 1 && t[0] == '*') {
        if (req->method_len != 7 || memcmp(req->method, "OPTIONS", 7) != 0)
            return FF_HTTP_E_TARGET;
        req->path = t;
        req->path_len = 1;
        return FF_HTTP_OK;
    } else {
        if (req->target_len > 7 && EQ_LIT(t, 7, "http://"))
            scheme = 7;
        else if (req->target_len > 8 && EQ_LIT(t, 8, "https://"))
            scheme = 8;
        else
            return FF_HTTP_E_TARGET;
        for (p = t + scheme; p < e && *p != '/' && *p != '?'; p++)
            ;
        if (p == t + scheme || !host_value_ok(t + scheme, (size_t)(p - t - scheme)))
            return FF_HTTP_E_TARGET;
        req->flags |= FF_HTTP_F_ABSOLUTE_FORM;
        req->authority = t + scheme;
        req->authority_len = (size_t)(p - t - scheme);
        if (p == e || *p == '?') {
            req->path = "/";
            req->path_len = 1;
            if (p < e) {
                req->query = p + 1;
                req->query_len = (size_t)(e - p - 1);
            }
            return FF_HTTP_OK;
        }
    }
    q = memchr(p, '?', (size_t)(e - p));
    req->path = p;
    if (q == NULL) {
        req->path_len = (size_t)(e - p);
    } else {
        req->path_len = (size_t)(q - p);
        req->query = q + 1;
        req->query_len = (size_t)(e - q - 1);
    }
    return FF_HTTP_OK;
}

/* Parses `method SP request-target SP HTTP-version CRLF` exactly, with single
 * spaces (RFC 9112 3): the lenient whitespace parsing the RFC permits is what
 * lets two parsers in a chain split one line differently. A well-formed
 * version other than 1.0 and 1.1 gets its own error so it can be answered
 * with 505; anything else malformed is a 400. */
static enum ff_http_error parse_request_line(const char **pp, ff_http_request *req)
{
    static const char version_pattern[] = "HTTP/d.d";
    const char *p = *pp, *s;
    enum ff_http_error e;
    int i;

    s = p;
    p = skip_class(p, FF_C_TCHAR);
    if (p == s || *p != ' ') {
        if (FF_HTTP_IS(*p, FF_C_EOL))
            return (e = line_end_error(p)) ? e : FF_HTTP_E_REQUEST_LINE;
        return FF_HTTP_IS(*p, FF_C_WS) ? FF_HTTP_E_REQUEST_LINE : FF_HTTP_E_METHOD;
    }
    req->method = s;
    req->method_len = (size_t)(p - s);

    s = ++p;
    p = skip_class(p, FF_C_TARGET);
    if (p == s || *p != ' ') {
        if (FF_HTTP_IS(*p, FF_C_EOL))
            return (e = line_end_error(p)) ? e : FF_HTTP_E_REQUEST_LINE;
        return FF_HTTP_IS(*p, FF_C_WS) ? FF_HTTP_E_REQUEST_LINE : FF_HTTP_E_TARGET;
    }
    req->target = s;
    req->target_len = (size_t)(p - s);
    if ((e = split_target(req)) != FF_HTTP_OK)
        return e;

    /* Compare byte by byte: the first mismatch stops the scan, and the LF
     * that ends the line mismatches every pattern byte. */
    s = ++p;
    for (i = 0; i < 8; i++) {
        char c = s[i];
        int ok = version_pattern[i] == 'd' ? (c >= '0' && c <= '9') : c == version_pattern[i];
        if (!ok) {
            if (FF_HTTP_IS(c, FF_C_EOL) && (e = line_end_error(s + i)) != FF_HTTP_OK)
                return e;
            return FF_HTTP_E_REQUEST_LINE;
        }
    }
    if (!FF_HTTP_IS(s[8], FF_C_EOL))
        return FF_HTTP_E_REQUEST_LINE;
    if ((e = line_end_error(s + 8)) != FF_HTTP_OK)
        return e;
    if (s[5] != '1' || (s[7] != '0' && s[7] != '1'))
        return FF_HTTP_E_VERSION;
    req->version_minor = s[7] - '0';
    *pp = s + 10;
    return FF_HTTP_OK;
}

/* ------------------------------------------------------------------------ */
/* Header fields                                                             */
/* ------------------------------------------------------------------------ */

/* What the fields that matter to framing and connection handling said. */
typedef struct {
    int hosts;
    int have_cl;
    uint64_t cl;
    int te_present;      /* any Transfer-Encoding field */
    int te_chunked;      /* chunked seen */
    int te_last_chunked; /* the last non-empty coding so far is chunked */
    int te_other;        /* a coding other than chunked seen */
    int conn_close;
    int conn_keep_alive;
    int expect_continue;
} field_notes;

/* Records what one field means for framing and connection handling. Repeated
 * fields are combined as one list, as RFC 9110 5.3 defines. Errors that one
 * field shows on its own are reported here, at that field; the checks that
 * combine several fields run once the section is complete. */
static enum ff_http_error note_field(field_notes *st, const char *name, size_t name_len,
                                     const char *v, size_t n)
{
    const char *cur = v, *s;
    size_t k;
    uint64_t cl;

    switch (name_len) {
    case 4:
        if (EQ_LIT(name, name_len, "host")) {
            st->hosts++;
            if (!host_value_ok(v, n))
                return FF_HTTP_E_HOST;
        }
        break;
    case 6:
        if (EQ_LIT(name, name_len, "expect"))
            while (list_next(&cur, v + n, &s, &k))
                if (EQ_LIT(s, k, "100-continue"))
                    st->expect_continue = 1;
        break;
    case 10:
        if (EQ_LIT(name, name_len, "connection"))
            while (list_next(&cur, v + n, &s, &k)) {
                if (EQ_LIT(s, k, "close"))
                    st->conn_close = 1;
                else if (EQ_LIT(s, k, "keep-alive"))
                    st->conn_keep_alive = 1;
            }
        break;
    case 14:
        if (EQ_LIT(name, name_len, "content-length")) {
            if (parse_content_length(v, n, &cl) != 0 || (st->have_cl && cl != st->cl))
                return FF_HTTP_E_CONTENT_LENGTH;
            st->have_cl = 1;
            st->cl = cl;
        }
        break;
    case 17:
        if (EQ_LIT(name, name_len, "transfer-encoding")) {
            st->te_present = 1;
            while (list_next(&cur, v + n, &s, &k)) {
                if (k == 0)
                    continue;
                if (EQ_LIT(s, k, "chunked")) {
                    if (st->te_chunked)
                        return FF_HTTP_E_TRANSFER_ENCODING;
                    st->te_chunked = 1;
                    st->te_last_chunked = 1;
                } else {
                    if (!FF_HTTP_IS(s[0], FF_C_TCHAR))
                        return FF_HTTP_E_TRANSFER_ENCODING;
                    st->te_other = 1;
                    st->te_last_chunked = 0;
                }
            }
        }
        break;
    default:
        break;
    }
    return FF_HTTP_OK;
}

/* Parses the field lines after the request line up to and including the
 * empty line: `field-name ":" OWS field-value OWS CRLF` (RFC 9112 5). A line
 * starting with whitespace is obs-fold (or whitespace before the first field,
 * 2.2); both are rejected rather than unfolded. Whitespace between name and
 * colon must be rejected with 400 (5.1). */
static enum ff_http_error parse_fields(const char *p, const ff_http_limits *lim,
                                       ff_http_request *req, field_notes *st)
{
    const char *name, *v, *t;
    enum ff_http_error e;
    ff_http_header *h;

    for (;;) {
        if (*p == '\r')
            /* The empty line. It is the end found by find_head_end: an
             * earlier one would have been found there first. */
            return p[1] == '\n' ? FF_HTTP_OK : FF_HTTP_E_BARE_CR;
        if (*p == '\n')
            return FF_HTTP_E_BARE_LF;
        if (FF_HTTP_IS(*p, FF_C_WS))
            return FF_HTTP_E_OBS_FOLD;
        if (req->num_headers == lim->max_headers)
            return FF_HTTP_E_TOO_MANY_HEADERS;

        name = p;
        p = skip_class(p, FF_C_TCHAR);
        if (p == name || *p != ':') {
            if (FF_HTTP_IS(*p, FF_C_EOL))
                return (e = line_end_error(p)) ? e : FF_HTTP_E_HEADER_NAME;
            if (p > name && FF_HTTP_IS(*p, FF_C_WS)) {
                while (FF_HTTP_IS(*p, FF_C_WS))
                    p++;
                if (*p == ':')
                    return FF_HTTP_E_SPACE_BEFORE_COLON;
            }
            return FF_HTTP_E_HEADER_NAME;
        }
        t = p++;

        while (FF_HTTP_IS(*p, FF_C_WS))
            p++;
        v = p;
        p = skip_class(p, FF_C_VALUE);
        if (*p != '\r')
            return *p == '\n' ? FF_HTTP_E_BARE_LF : FF_HTTP_E_HEADER_VALUE;
        if (p[1] != '\n')
            return FF_HTTP_E_BARE_CR;

        h = &req->headers[req->num_headers++];
        h->name = name;
        h->name_len = (size_t)(t - name);
        for (t = p; t > v && FF_HTTP_IS(t[-1], FF_C_WS); t--)
            ;
        h->value = v;
        h->value_len = (size_t)(t - v);
        if ((e = note_field(st, h->name, h->name_len, v, h->value_len)) != FF_HTTP_OK)
            return e;
        p += 2;
    }
}

/* Parses a complete head, head[0..) ending in the empty line, and applies the
 * rules that tie fields together: message framing (RFC 9112 6), Host (RFC
 * 9112 3.2), persistence (9.3) and Expect (RFC 9110 10.1.1). A request with
 * both Content-Length and Transfer-Encoding is refused outright (6.1 allows
 * that), as is Transfer-Encoding in HTTP/1.0, whose framing it cannot have. */
static enum ff_http_error parse_head(const char *head, const ff_http_limits *lim,
                                     ff_http_request *req, ff_http_header *headers)
{
    field_notes st;
    enum ff_http_error e;
    const char *p = head;

    memset(req, 0, sizeof(*req));
    memset(&st, 0, sizeof(st));
    req->headers = headers;
    req->content_length = -1;

    if ((e = parse_request_line(&p, req)) != FF_HTTP_OK)
        return e;
    if ((e = parse_fields(p, lim, req, &st)) != FF_HTTP_OK)
        return e;

    if (st.te_present) {
        if (st.have_cl)
            return FF_HTTP_E_CL_AND_TE;
        if (req->version_minor == 0 || !st.te_last_chunked)
            return FF_HTTP_E_TRANSFER_ENCODING;
        if (st.te_other)
            return FF_HTTP_E_TE_NOT_IMPLEMENTED;
        req->flags |= FF_HTTP_F_CHUNKED;
    }
    if (st.hosts > 1 || (req->version_minor == 1 && st.hosts != 1))
        return FF_HTTP_E_HOST;
    if (st.have_cl) {
        if (st.cl > lim->max_body)
            return FF_HTTP_E_BODY_TOO_LARGE;
        req->content_length = (int64_t)st.cl;
    }
    if (!st.conn_close && (req->version_minor == 1 || st.conn_keep_alive))
        req->flags |= FF_HTTP_F_KEEP_ALIVE;
    if (st.expect_continue && req->version_minor == 1)
        req->flags |= FF_HTTP_F_EXPECT_CONTINUE;
    return FF_HTTP_OK;
}

/* ------------------------------------------------------------------------ */
/* Entry point                                                               */
/* ------------------------------------------------------------------------ */

static ssize_t fail(enum ff_http_error *err, enum ff_http_error e)
{
    *err = e;
    return -1;
}

/* The resumable entry point. Each call is a pure function of buf[0..len):
 * prev_len only tells it which work an earlier call already did (the search
 * for the end restarts a few bytes before prev_len, and the request-line
 * limit, once passed, is not checked again), so feeding a head one byte at
 * a time costs O(n) overall.
 *
 * The two limits are decided at fixed positions relative to the request
 * line's start: 414 once max_request_line + 1 bytes hold no CR or LF, 431
 * once max_header_bytes bytes hold no end of head. When both apply, the one
 * decided at the smaller position wins, which is what a byte-at-a-time feed
 * reports, so every split of the same input gets the same answer. */
ssize_t ff_http_parse_request(const char *buf, size_t len, size_t prev_len,
                              const ff_http_limits *lim, ff_http_request *req,
                              ff_http_header *headers, enum ff_http_error *err)
{
    size_t start = 0, end, from, avail, i;
    int empty_lines = 0, line_long = 0, head_long;
    enum ff_http_error e;

    *err = FF_HTTP_OK;
    if (prev_len > len)
        prev_len = 0;

    for (;;) {
        if (start == len)
            return -2;
        if (buf[start] == '\n')
            return fail(err, FF_HTTP_E_BARE_LF);
        if (buf[start] != '\r')
            break;
        if (start + 1 == len)
            return -2;
        if (buf[start + 1] != '\n')
            return fail(err, FF_HTTP_E_BARE_CR);
        if (empty_lines == FF_HTTP_MAX_LEADING_EMPTY_LINES)
            return fail(err, FF_HTTP_E_REQUEST_LINE);
        empty_lines++;
        start += 2;
    }

    avail = len - start;
    if (avail > lim->max_request_line &&
        (prev_len <= start || prev_len - start <= lim->max_request_line)) {
        line_long = 1;
        for (i = 0; i <= lim->max_request_line; i++)
            if (FF_HTTP_IS(buf[start + i], FF_C_EOL)) {
                line_long = 0;
                break;
            }
    }

    from = prev_len > start + 3 ? prev_len - 3 : start;
    end = find_head_end(buf, from, len);
    head_long = end ? end - start > lim->max_header_bytes : avail >= lim->max_header_bytes;

    if (line_long && (!head_long || lim->max_request_line < lim->max_header_bytes))
        return fail(err, FF_HTTP_E_URI_TOO_LONG);
    if (head_long)
        return fail(err, FF_HTTP_E_HEADERS_TOO_LARGE);
    if (end == 0)
        return -2;

    if ((e = parse_head(buf + start, lim, req, headers)) != FF_HTTP_OK)
        return fail(err, e);
    return (ssize_t)end;
}

void ff_http_use_target_host(ff_http_request *req)
{
    for (size_t i = 0; i < req->num_headers; i++) {
        ff_http_header *f = &req->headers[i];
        if (f->name_len == 4 && strncasecmp(f->name, "host", 4) == 0) {
            f->value = req->authority;
            f->value_len = req->authority_len;
            return;
        }
    }
    ff_http_header *f = &req->headers[req->num_headers++];
    f->name = "Host";
    f->name_len = 4;
    f->value = req->authority;
    f->value_len = req->authority_len;
}
