/* http/form.c — application/x-www-form-urlencoded bodies, the form codecs'
 * error table and the Content-Type checks both codecs start from.
 *
 * A urlencoded body is a run of fields separated by '&', each `name[=value]`
 * with '+' for space and %XX for any byte. Fields are returned one at a time
 * as they appear, still escaped; the one pass that finds a field's end also
 * checks its escapes and its size, in byte order, so the verdict on a body
 * does not depend on how it was split between calls.
 */
#include "form.h"

#include <string.h>

#include "chars.h"

static const short error_status[FF_FORM_E__COUNT] = {
    [FF_FORM_OK] = 200,
    [FF_FORM_E_TOO_MANY_FIELDS] = 413,
    [FF_FORM_E_FIELD_TOO_LARGE] = 413,
    [FF_FORM_E_ESCAPE] = 400,
    [FF_FORM_E_BOUNDARY] = 400,
    [FF_FORM_E_DELIMITER] = 400,
    [FF_FORM_E_PART_HEADERS_TOO_LARGE] = 413,
    [FF_FORM_E_TOO_MANY_PART_HEADERS] = 413,
    [FF_FORM_E_PART_HEADER] = 400,
    [FF_FORM_E_DISPOSITION] = 400,
    [FF_FORM_E_TRUNCATED] = 400,
};

static const char *const error_text[FF_FORM_E__COUNT] = {
    [FF_FORM_OK] = "ok",
    [FF_FORM_E_TOO_MANY_FIELDS] = "too many form fields",
    [FF_FORM_E_FIELD_TOO_LARGE] = "form field too large",
    [FF_FORM_E_ESCAPE] = "invalid percent-escape in form data",
    [FF_FORM_E_BOUNDARY] = "missing or invalid multipart boundary",
    [FF_FORM_E_DELIMITER] = "invalid multipart boundary line",
    [FF_FORM_E_PART_HEADERS_TOO_LARGE] = "multipart part headers too large",
    [FF_FORM_E_TOO_MANY_PART_HEADERS] = "too many header fields in a multipart part",
    [FF_FORM_E_PART_HEADER] = "invalid header line in a multipart part",
    [FF_FORM_E_DISPOSITION] = "missing or invalid Content-Disposition in a multipart part",
    [FF_FORM_E_TRUNCATED] = "multipart body ended before its close delimiter",
};

int ff_form_error_status(enum ff_form_error err)
{
    if ((unsigned)err >= FF_FORM_E__COUNT)
        return 400;
    return error_status[err];
}

const char *ff_form_error_text(enum ff_form_error err)
{
    if ((unsigned)err >= FF_FORM_E__COUNT)
        return "unknown error";
    return error_text[err];
}

/* Media types, parameter names and header names are compared without
 * regard to case (RFC 9110 8.3.1, 5.1). */
int ff__form_ieq(const char *s, size_t n, const char *lit)
{
    size_t i;

    if (strlen(lit) != n)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            c |= 0x20;
        if (c != (unsigned char)lit[i])
            return 0;
    }
    return 1;
}

/* The media type is `type "/" subtype`, both tokens, before any ';'. OWS
 * around it is tolerated because proxies and hand-written clients add it. */
int ff_form_media_type(const char *ct, size_t len)
{
    size_t b = 0, e;

    while (b < len && FF_HTTP_IS(ct[b], FF_C_WS))
        b++;
    e = b;
    while (e < len && (FF_HTTP_IS(ct[e], FF_C_TCHAR) || ct[e] == '/'))
        e++;
    if (ff__form_ieq(ct + b, e - b, "application/x-www-form-urlencoded"))
        return FF_FORM_URLENCODED;
    if (ff__form_ieq(ct + b, e - b, "multipart/form-data"))
        return FF_FORM_MULTIPART;
    return FF_FORM_NONE;
}

/* A boundary is 1..70 bchars, where a space may occur but not last (RFC
 * 2046 5.1.1). The parameter is found by walking `;` name=value pairs so that
 * a boundary= inside another parameter's quoted value is not taken for it. */
int ff_mp_boundary(const char *ct, size_t len, const char **b, size_t *blen)
{
    size_t i = 0, ns, ne, vs, ve;
    int quoted;

    while (i < len && ct[i] != ';')
        i++;
    while (i < len) {
        i++; /* the ';' */
        while (i < len && FF_HTTP_IS(ct[i], FF_C_WS))
            i++;
        ns = i;
        while (i < len && FF_HTTP_IS(ct[i], FF_C_TCHAR))
            i++;
        ne = i;
        while (i < len && FF_HTTP_IS(ct[i], FF_C_WS))
            i++;
        if (ne == ns || i >= len || ct[i] != '=')
            return -1;
        i++;
        while (i < len && FF_HTTP_IS(ct[i], FF_C_WS))
            i++;
        quoted = i < len && ct[i] == '"';
        if (quoted) {
            vs = ++i;
            while (i < len && ct[i] != '"') {
                if (ct[i] == '\\' || !FF_HTTP_IS(ct[i], FF_C_QDTEXT))
                    return -1;
                i++;
            }
            if (i >= len)
                return -1;
            ve = i++;
        } else {
            vs = i;
            while (i < len && FF_HTTP_IS(ct[i], FF_C_TCHAR | FF_C_BCHAR))
                i++;
            ve = i;
        }
        while (i < len && FF_HTTP_IS(ct[i], FF_C_WS))
            i++;
        if (i < len && ct[i] != ';')
            return -1;
        if (ff__form_ieq(ct + ns, ne - ns, "boundary")) {
            size_t k;
            if (ve == vs || ve - vs > FF_MP_MAX_BOUNDARY || ct[ve - 1] == ' ')
                return -1;
            for (k = vs; k < ve; k++)
                if (!FF_HTTP_IS(ct[k], FF_C_BCHAR) && ct[k] != ' ')
                    return -1;
            *b = ct + vs;
            *blen = ve - vs;
            return 0;
        }
    }
    return -1;
}

/* ---- application/x-www-form-urlencoded ------------------------------------ */

void ff_form_init(ff_form *f)
{
    f->fields = 0;
}

/* One pass over the field finds its '&' and '=', checks every escape and
 * counts the name's and value's bytes as sent, reporting the first problem
 * in byte order; an escape cut off by the end of the buffer is "need more"
 * unless the body is complete. Empty fields ("a=1&&b=2") are skipped as
 * browsers and Python's parse_qs skip them. */
ssize_t ff_form_next(ff_form *f, const char *buf, size_t len, int final,
                     const ff_form_limits *lim, ff_form_field *out, enum ff_form_error *err)
{
    size_t i = 0, start, eq = 0, j;
    int have_eq = 0;
    unsigned flags = 0;

    memset(out, 0, sizeof(*out));
    while (i < len && buf[i] == '&')
        i++;
    if (i == len) {
        if (final)
            return 0;
        return i ? (ssize_t)i : -2; /* empty fields only: consumed, no field */
    }
    start = i;
    for (j = start; j < len && buf[j] != '&'; j++) {
        char c = buf[j];
        if (c == '=' && !have_eq) {
            have_eq = 1;
            eq = j;
            continue;
        }
        if (!have_eq ? j - start >= lim->max_name : j - eq - 1 >= lim->max_value) {
            *err = FF_FORM_E_FIELD_TOO_LARGE;
            return -1;
        }
        if (c == '+') {
            flags |= FF_FORM_F_ESCAPED;
        } else if (c == '%') {
            flags |= FF_FORM_F_ESCAPED;
            if (j + 1 < len && !FF_HTTP_IS(buf[j + 1], FF_C_HEX))
                goto bad_escape;
            if (j + 2 < len && !FF_HTTP_IS(buf[j + 2], FF_C_HEX))
                goto bad_escape;
            if (j + 2 >= len) {
                if (final)
                    goto bad_escape;
                return -2;
            }
        }
    }
    if (j == len && !final)
        return -2;
    if (f->fields >= lim->max_fields) {
        *err = FF_FORM_E_TOO_MANY_FIELDS;
        return -1;
    }
    f->fields++;
    out->name = buf + start;
    if (have_eq) {
        out->name_len = eq - start;
        out->value = buf + eq + 1;
        out->value_len = j - eq - 1;
        flags |= FF_FORM_F_VALUE;
    } else {
        out->name_len = j - start;
        out->value = buf + j;
        out->value_len = 0;
    }
    out->flags = flags;
    return (ssize_t)(j < len ? j + 1 : j);

bad_escape:
    *err = FF_FORM_E_ESCAPE;
    return -1;
}

static unsigned hexval(unsigned char c)
{
    return c <= '9' ? (unsigned)(c - '0') : (unsigned)((c | 0x20) - 'a' + 10);
}

size_t ff_form_unescape(char *dst, const char *src, size_t n)
{
    size_t r = 0, w = 0;

    while (r < n) {
        char c = src[r];
        if (c == '+') {
            dst[w++] = ' ';
            r++;
        } else if (c == '%' && r + 2 < n) {
            dst[w++] = (char)(hexval((unsigned char)src[r + 1]) << 4 |
                              hexval((unsigned char)src[r + 2]));
            r += 3;
        } else {
            dst[w++] = c;
            r++;
        }
    }
    return w;
}
