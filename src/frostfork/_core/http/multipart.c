/* http/multipart.c — the resumable multipart/form-data parser (RFC 7578 on
 * RFC 2046 5.1).
 *
 * The body is a sequence of parts, each introduced by a delimiter line
 * `--boundary`, holding a header section like HTTP's and then data that runs
 * until the next CRLF `--boundary`; `--boundary--` closes the body. The parser
 * hands back one event per call and consumes only what that event covers, so
 * the caller streams a part's data straight to where it goes (a spool file,
 * a field buffer) without the parser holding any of it.
 *
 * The only bytes a caller must keep between calls are those that could still
 * turn out to be the start of a delimiter (fewer than the delimiter's length)
 * or an incomplete part header section (bounded by max_part_header_bytes):
 * for those the answer is -2 and nothing is consumed. Data is found with
 * memchr for the CR that every delimiter begins with, so a part's bytes are
 * looked at roughly once.
 */
#include "form.h"

#include <string.h>

#include "chars.h"

enum {
    S_START = 0, /* before the first delimiter: "--boundary" may come at once */
    S_PREAMBLE,  /* discarding bytes until CRLF "--boundary" */
    S_TAIL,      /* after a boundary: transport padding CRLF, or "--" */
    S_HEADERS,   /* a part's header section */
    S_DATA,      /* a part's data */
    S_EPILOGUE,  /* after the close delimiter */
    S_FAILED,    /* an error was returned; err holds it */
};

void ff_mp_init(ff_multipart *p, const char *boundary, size_t blen)
{
    memset(p, 0, sizeof(*p));
    if (blen > FF_MP_MAX_BOUNDARY)
        blen = FF_MP_MAX_BOUNDARY;
    memcpy(p->delim, "\r\n--", 4);
    memcpy(p->delim + 4, boundary, blen);
    p->delim_len = 4 + blen;
    p->state = S_START;
}

int ff_mp_done(const ff_multipart *p)
{
    return p->state == S_EPILOGUE;
}

size_t ff_mp_unquote(char *dst, const char *src, size_t n)
{
    size_t r = 0, w = 0;

    while (r < n) {
        if (src[r] == '\\' && r + 1 < n)
            r++;
        dst[w++] = src[r++];
    }
    return w;
}

static ssize_t fail(ff_multipart *p, enum ff_form_error e, enum ff_form_error *err)
{
    p->state = S_FAILED;
    p->err = (int)e;
    *err = e;
    return -1;
}

/* Looks for the delimiter in buf[0..len). Returns its offset, or -1 with
 * *safe set to how many leading bytes cannot belong to a delimiter: all of
 * them, unless the buffer ends in a proper prefix of the delimiter. */
static ssize_t find_delim(const ff_multipart *p, const char *buf, size_t len, size_t *safe)
{
    size_t pos = 0, rem;
    const char *q;

    while (pos < len) {
        q = memchr(buf + pos, '\r', len - pos);
        if (!q)
            break;
        pos = (size_t)(q - buf);
        rem = len - pos;
        if (rem >= p->delim_len) {
            if (memcmp(q, p->delim, p->delim_len) == 0)
                return (ssize_t)pos;
        } else if (memcmp(q, p->delim, rem) == 0) {
            *safe = pos;
            return -1;
        }
        pos++;
    }
    *safe = len;
    return -1;
}

/* Reads one `; name=value` parameter of a Content-Disposition value at
 * v[*i..n). The value is a token or a quoted-string; a quoted one is returned
 * without its quotes and *escaped says whether it holds backslash pairs.
 * Returns 0, 1 at the end of the value, -1 when malformed. */
static int next_param(const char *v, size_t n, size_t *i, const char **name, size_t *name_len,
                      const char **val, size_t *val_len, int *escaped)
{
    size_t k = *i, s;

    while (k < n && FF_HTTP_IS(v[k], FF_C_WS))
        k++;
    if (k == n)
        return 1;
    if (v[k++] != ';')
        return -1;
    while (k < n && FF_HTTP_IS(v[k], FF_C_WS))
        k++;
    s = k;
    while (k < n && FF_HTTP_IS(v[k], FF_C_TCHAR))
        k++;
    if (k == s)
        return -1;
    *name = v + s;
    *name_len = k - s;
    while (k < n && FF_HTTP_IS(v[k], FF_C_WS))
        k++;
    if (k == n || v[k++] != '=')
        return -1;
    while (k < n && FF_HTTP_IS(v[k], FF_C_WS))
        k++;
    *escaped = 0;
    if (k < n && v[k] == '"') {
        s = ++k;
        for (;;) {
            if (k == n)
                return -1;
            if (v[k] == '"')
                break;
            if (v[k] == '\\') {
                if (k + 1 == n || !FF_HTTP_IS(v[k + 1], FF_C_VALUE))
                    return -1;
                *escaped = 1;
                k += 2;
                continue;
            }
            if (!FF_HTTP_IS(v[k], FF_C_QDTEXT))
                return -1;
            k++;
        }
        *val = v + s;
        *val_len = k - s;
        k++;
    } else {
        s = k;
        while (k < n && FF_HTTP_IS(v[k], FF_C_TCHAR))
            k++;
        if (k == s)
            return -1;
        *val = v + s;
        *val_len = k - s;
    }
    *i = k;
    return 0;
}

/* `form-data` followed by parameters, of which name is required (RFC 7578
 * 4.2) and filename optional; others (filename* among them, which RFC 7578
 * 4.2 says not to use) are skipped. A repeated name or filename is refused
 * rather than resolved either way. */
static int parse_disposition(const char *v, size_t n, ff_mp_event *ev)
{
    size_t i = 0, s, pn_len, pv_len;
    const char *pn, *pv;
    int esc, r, have_name = 0;

    s = i;
    while (i < n && FF_HTTP_IS(v[i], FF_C_TCHAR))
        i++;
    if (!ff__form_ieq(v + s, i - s, "form-data"))
        return -1;
    while ((r = next_param(v, n, &i, &pn, &pn_len, &pv, &pv_len, &esc)) == 0) {
        if (ff__form_ieq(pn, pn_len, "name")) {
            if (have_name)
                return -1;
            have_name = 1;
            ev->name = pv;
            ev->name_len = pv_len;
            if (esc)
                ev->flags |= FF_MP_F_NAME_QUOTED;
        } else if (ff__form_ieq(pn, pn_len, "filename")) {
            if (ev->flags & FF_MP_F_FILENAME)
                return -1;
            ev->flags |= FF_MP_F_FILENAME;
            ev->filename = pv;
            ev->filename_len = pv_len;
            if (esc)
                ev->flags |= FF_MP_F_FILENAME_QUOTED;
        }
    }
    return r < 0 || !have_name ? -1 : 0;
}

/* Parses a part's header section once all of it is in the buffer; lines are
 * checked as their LF arrives, in byte order, and the size limit applies to
 * the section as a whole, so a split never changes the verdict. Field lines
 * follow RFC 9112 5: a token, a colon with no whitespace before it, OWS, a
 * value of field-value bytes; no obs-fold, no bare CR or LF. */
static ssize_t part_headers(ff_multipart *p, const char *buf, size_t len,
                            const ff_form_limits *lim, ff_http_header *headers, ff_mp_event *ev,
                            enum ff_form_error *err)
{
    size_t pos = 0, limit = len < lim->max_part_header_bytes ? len : lim->max_part_header_bytes;
    size_t nh = 0, i, end, vb, ve, disp = 0;
    const char *nl;

    for (;;) {
        nl = pos < limit ? memchr(buf + pos, '\n', limit - pos) : NULL;
        if (!nl) {
            if (len >= lim->max_part_header_bytes)
                return fail(p, FF_FORM_E_PART_HEADERS_TOO_LARGE, err);
            return -2;
        }
        end = (size_t)(nl - buf);
        if (end == pos || buf[end - 1] != '\r')
            return fail(p, FF_FORM_E_PART_HEADER, err);
        end--; /* the CR */
        if (end == pos) {
            pos = end + 2;
            break;
        }
        i = pos;
        while (i < end && FF_HTTP_IS(buf[i], FF_C_TCHAR))
            i++;
        if (i == pos || i == end || buf[i] != ':')
            return fail(p, FF_FORM_E_PART_HEADER, err);
        vb = i + 1;
        while (vb < end && FF_HTTP_IS(buf[vb], FF_C_WS))
            vb++;
        for (ve = vb; ve < end; ve++)
            if (!FF_HTTP_IS(buf[ve], FF_C_VALUE))
                return fail(p, FF_FORM_E_PART_HEADER, err);
        while (ve > vb && FF_HTTP_IS(buf[ve - 1], FF_C_WS))
            ve--;
        if (nh == lim->max_part_headers)
            return fail(p, FF_FORM_E_TOO_MANY_PART_HEADERS, err);
        headers[nh].name = buf + pos;
        headers[nh].name_len = i - pos;
        headers[nh].value = buf + vb;
        headers[nh].value_len = ve - vb;
        nh++;
        pos = end + 2;
    }

    memset(ev, 0, sizeof(*ev));
    ev->type = FF_MP_PART;
    ev->headers = headers;
    ev->num_headers = nh;
    for (i = 0; i < nh; i++) {
        if (ff__form_ieq(headers[i].name, headers[i].name_len, "content-disposition")) {
            if (disp++ ||
                parse_disposition(headers[i].value, headers[i].value_len, ev) != 0)
                return fail(p, FF_FORM_E_DISPOSITION, err);
        } else if (!ev->content_type &&
                   ff__form_ieq(headers[i].name, headers[i].name_len, "content-type")) {
            ev->content_type = headers[i].value;
            ev->content_type_len = headers[i].value_len;
        }
    }
    if (!disp)
        return fail(p, FF_FORM_E_DISPOSITION, err);
    if (p->parts >= lim->max_fields)
        return fail(p, FF_FORM_E_TOO_MANY_FIELDS, err);
    p->parts++;
    p->part_bytes = 0;
    p->is_file = (ev->flags & FF_MP_F_FILENAME) != 0;
    p->state = S_DATA;
    return (ssize_t)pos;
}

/* One event per call: the state machine is written as a loop only so that
 * S_START can fall through to S_PREAMBLE without a second call. */
ssize_t ff_mp_next(ff_multipart *p, const char *buf, size_t len, const ff_form_limits *lim,
                   ff_http_header *headers, ff_mp_event *ev, enum ff_form_error *err)
{
    size_t safe = 0, i, dash_len = p->delim_len - 2;
    ssize_t at;

    if (p->state == S_FAILED) {
        *err = (enum ff_form_error)p->err;
        return -1;
    }
    ev->type = FF_MP_NONE;
    if (len == 0)
        return -2;

    switch (p->state) {
    case S_START:
        /* The first delimiter may open the body without the CRLF before it. */
        if (len < dash_len) {
            if (memcmp(buf, p->delim + 2, len) == 0)
                return -2;
        } else if (memcmp(buf, p->delim + 2, dash_len) == 0) {
            p->state = S_TAIL;
            return (ssize_t)dash_len;
        }
        p->state = S_PREAMBLE;
        /* fall through */
    case S_PREAMBLE:
        at = find_delim(p, buf, len, &safe);
        if (at >= 0) {
            p->state = S_TAIL;
            return at + (ssize_t)p->delim_len;
        }
        return safe ? (ssize_t)safe : -2;

    case S_TAIL:
        if (buf[0] == '-') {
            if (len < 2)
                return -2;
            if (buf[1] != '-')
                return fail(p, FF_FORM_E_DELIMITER, err);
            p->state = S_EPILOGUE;
            ev->type = FF_MP_DONE;
            return 2;
        }
        for (i = 0; i < len && FF_HTTP_IS(buf[i], FF_C_WS); i++)
            if (i == FF_MP_MAX_PADDING)
                return fail(p, FF_FORM_E_DELIMITER, err);
        if (i + 2 > len) {
            if (i < len && buf[i] != '\r')
                return fail(p, FF_FORM_E_DELIMITER, err);
            return -2;
        }
        if (buf[i] != '\r' || buf[i + 1] != '\n')
            return fail(p, FF_FORM_E_DELIMITER, err);
        p->state = S_HEADERS;
        return (ssize_t)(i + 2);

    case S_HEADERS:
        return part_headers(p, buf, len, lim, headers, ev, err);

    case S_DATA:
        at = find_delim(p, buf, len, &safe);
        if (at == 0) {
            p->state = S_TAIL;
            ev->type = FF_MP_PART_END;
            return (ssize_t)p->delim_len;
        }
        if (at > 0)
            safe = (size_t)at;
        if (safe == 0)
            return -2;
        p->part_bytes += safe;
        if (!p->is_file && p->part_bytes > lim->max_value)
            return fail(p, FF_FORM_E_FIELD_TOO_LARGE, err);
        ev->type = FF_MP_DATA;
        ev->data = buf;
        ev->data_len = safe;
        return (ssize_t)safe;

    case S_EPILOGUE:
        return (ssize_t)len;
    }
    return fail(p, FF_FORM_E_DELIMITER, err);
}
