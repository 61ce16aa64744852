/* json/scan.c — the JSON lexer (see scan.h for the contract). */
#include "json/scan.h"
#include "util/hex.h"

#include <stdint.h>
#include <string.h>

void ff_json_scan_reset(ff_json_scan *s, const char *buf, size_t len)
{
    s->buf = s->p = buf;
    s->end = buf + len;
    s->err = NULL;
    s->err_pos = 0;
    s->oom = 0;
}

void ff_json_scan_free(ff_json_scan *s)
{
    ff_buf_free(&s->tmp);
}

void ff_json_fail(ff_json_scan *s, const char *msg)
{
    if (!s->err) {
        s->err = msg;
        s->err_pos = (size_t)(s->p - s->buf);
    }
}

/* ASCII runs are checked eight bytes at a time: most text is ASCII. */
int ff_json_utf8_valid(const char *b, size_t n)
{
    const unsigned char *p = (const unsigned char *)b, *e = p + n;
    while (p < e) {
        if (e - p >= 8) {
            uint64_t w;
            memcpy(&w, p, 8);
            if (!(w & 0x8080808080808080ULL)) {
                p += 8;
                continue;
            }
        }
        unsigned c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF; /* range of the first continuation byte */
        if (c >= 0xC2 && c <= 0xDF)
            need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
            else if (c == 0xED)
                hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else
            return 0;
        if ((size_t)(e - p) <= need || p[1] < lo || p[1] > hi)
            return 0;
        for (size_t i = 2; i <= need; i++)
            if (p[i] < 0x80 || p[i] > 0xBF)
                return 0;
        p += need + 1;
    }
    return 1;
}

static int read_u16(const char *p, const char *end, unsigned *out)
{
    if (end - p < 4)
        return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = ff_hexval(p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + (unsigned)h;
    }
    *out = v;
    return 0;
}

static int put_utf8(ff_buf *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return ff_buf_append(b, u, n);
}

/* The common string has no escape: it is returned in place after one scan.
 * Otherwise the bytes are copied into s->tmp with escapes resolved; a \u
 * surrogate must come as a high-low pair. */
static int string_bytes(ff_json_scan *s, const char **out, size_t *n)
{
    uint64_t high = 0;
    const char *p = ff_json_plain_run(++s->p, s->end, &high);
    if (p < s->end && *p == '"') {
        *out = s->p;
        *n = (size_t)(p - s->p);
        s->p = p + 1;
        s->ascii = high == 0;
        return 0;
    }
    s->ascii = 0;
    ff_buf *b = &s->tmp;
    b->off = b->len = 0;
    int oom = ff_buf_append(b, s->p, (size_t)(p - s->p));
    while (p < s->end && !oom) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            *out = b->data ? b->data : "";
            *n = b->len;
            s->p = p + 1;
            return 0;
        }
        if (c < 0x20) {
            s->p = p;
            ff_json_fail(s, "control character in string");
            return -1;
        }
        if (c != '\\') {
            const char *q = ff_json_plain_run(p, s->end, &high);
            oom = ff_buf_append(b, p, (size_t)(q - p));
            p = q;
            continue;
        }
        if (++p >= s->end)
            break;
        const char *one = NULL;
        switch (*p) {
        case '"': one = "\""; break;
        case '\\': one = "\\"; break;
        case '/': one = "/"; break;
        case 'b': one = "\b"; break;
        case 'f': one = "\f"; break;
        case 'n': one = "\n"; break;
        case 'r': one = "\r"; break;
        case 't': one = "\t"; break;
        case 'u': {
            unsigned cp, lo;
            if (read_u16(p + 1, s->end, &cp) < 0) {
                s->p = p;
                ff_json_fail(s, "invalid \\u escape");
                return -1;
            }
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (s->end - p < 7 || p[1] != '\\' || p[2] != 'u' ||
                    read_u16(p + 3, s->end, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF) {
                    s->p = p;
                    ff_json_fail(s, "lone surrogate in \\u escape");
                    return -1;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                s->p = p;
                ff_json_fail(s, "lone surrogate in \\u escape");
                return -1;
            }
            oom = put_utf8(b, cp);
            break;
        }
        default:
            s->p = p;
            ff_json_fail(s, "invalid escape");
            return -1;
        }
        if (one)
            oom = ff_buf_append(b, one, 1);
        p++;
    }
    if (oom) {
        s->oom = 1;
        return -1;
    }
    s->p = s->end;
    ff_json_fail(s, "unterminated string");
    return -1;
}

/* The whole string token: ff_json_string in scan.h takes the plain,
 * escape-free case inline and comes here for the rest. */
int ff_json_string_slow(ff_json_scan *s, const char **out, size_t *n, int check_utf8)
{
    if (string_bytes(s, out, n) < 0)
        return -1;
    if (check_utf8 && !ff_json_utf8_valid(*out, *n)) {
        ff_json_fail(s, "invalid UTF-8 in string");
        return -1;
    }
    return 0;
}

static inline int digit(const char *p, const char *e) { return p < e && *p >= '0' && *p <= '9'; }

int ff_json_number(ff_json_scan *s, const char **start, size_t *len, int *is_int)
{
    const char *p = s->p, *e = s->end;
    *start = p;
    *is_int = 1;
    if (p < e && *p == '-')
        p++;
    if (p < e && *p == '0')
        p++;
    else if (p < e && *p >= '1' && *p <= '9')
        while (digit(p, e))
            p++;
    else
        goto bad;
    if (p < e && *p == '.') {
        *is_int = 0;
        if (!digit(++p, e))
            goto bad;
        while (digit(p, e))
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        *is_int = 0;
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (!digit(p, e))
            goto bad;
        while (digit(p, e))
            p++;
    }
    *len = (size_t)(p - *start);
    s->p = p;
    return 0;
bad:
    s->p = p;
    ff_json_fail(s, "invalid number");
    return -1;
}

int ff_json_literal(ff_json_scan *s, const char *word, size_t n)
{
    if ((size_t)(s->end - s->p) >= n && memcmp(s->p, word, n) == 0) {
        s->p += n;
        return 0;
    }
    ff_json_fail(s, "invalid literal");
    return -1;
}

int ff_json_expect_slow(ff_json_scan *s, char c, const char *msg)
{
    ff_json_ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return 0;
    }
    ff_json_fail(s, msg);
    return -1;
}

int ff_json_next_item_slow(ff_json_scan *s, char close)
{
    ff_json_ws(s);
    if (s->p < s->end && *s->p == ',') {
        s->p++;
        ff_json_ws(s);
        if (s->p < s->end && *s->p == close) {
            ff_json_fail(s, "trailing comma");
            return -1;
        }
        return 1;
    }
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 0;
    }
    ff_json_fail(s, close == ']' ? "expected ',' or ']'" : "expected ',' or '}'");
    return -1;
}

/* Mirrors the decoder's parse of an untyped value token for token, so a
 * skipped field fails exactly where a decoded one would. */
int ff_json_skip(ff_json_scan *s, int depth_left)
{
    const char *tok;
    size_t n;
    int is_int;
    ff_json_ws(s);
    if (s->p >= s->end) {
        ff_json_fail(s, "unexpected end of input");
        return -1;
    }
    switch (*s->p) {
    case '"':
        return ff_json_string(s, &tok, &n, 1);
    case 't':
        return ff_json_literal(s, "true", 4);
    case 'f':
        return ff_json_literal(s, "false", 5);
    case 'n':
        return ff_json_literal(s, "null", 4);
    case '[':
    case '{': {
        char close = *s->p == '[' ? ']' : '}';
        if (depth_left <= 0) {
            ff_json_fail(s, "nesting too deep");
            return -1;
        }
        int more = ff_json_open(s, close);
        while (more == 1) {
            if (close == '}') {
                ff_json_ws(s);
                if (s->p >= s->end || *s->p != '"') {
                    ff_json_fail(s, "expected a string key");
                    return -1;
                }
                if (ff_json_string(s, &tok, &n, 1) < 0 ||
                    ff_json_expect(s, ':', "expected ':'") < 0)
                    return -1;
            }
            if (ff_json_skip(s, depth_left - 1) < 0 || (more = ff_json_next_item(s, close)) < 0)
                return -1;
        }
        return 0;
    }
    default:
        return ff_json_number(s, &tok, &n, &is_int);
    }
}

/* ------------------------------------------------------------------------ */
/* Dates and times (RFC 3339)                                                */
/* ------------------------------------------------------------------------ */

/* The value of the `k` digits at *p, advancing *p; -1 when fewer are there. */
static int digits(const char **p, const char *e, int k)
{
    int v = 0;
    for (int i = 0; i < k; i++, (*p)++) {
        if (!digit(*p, e))
            return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

static int days_in_month(int y, int m)
{
    static const unsigned char days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

static int parse_date(const char **p, const char *e, ff_datetime *out)
{
    out->year = digits(p, e, 4);
    if (out->year < 1 || *p >= e || *(*p)++ != '-')
        return -1;
    out->month = digits(p, e, 2);
    if (out->month < 1 || out->month > 12 || *p >= e || *(*p)++ != '-')
        return -1;
    out->day = digits(p, e, 2);
    return out->day >= 1 && out->day <= days_in_month(out->year, out->month) ? 0 : -1;
}

/* hh:mm[:ss[.f]][offset] up to the end of the text. */
static int parse_time(const char *p, const char *e, ff_datetime *out)
{
    out->hour = digits(&p, e, 2);
    if (out->hour < 0 || out->hour > 23 || p >= e || *p++ != ':')
        return -1;
    out->minute = digits(&p, e, 2);
    if (out->minute < 0 || out->minute > 59)
        return -1;
    if (p < e && *p == ':') {
        p++;
        out->second = digits(&p, e, 2);
        if (out->second < 0 || out->second > 59)
            return -1;
        if (p < e && (*p == '.' || *p == ',')) {
            int k = 0;
            for (p++; digit(p, e); p++, k++)
                if (k < 6)
                    out->microsecond = out->microsecond * 10 + (*p - '0');
            if (k == 0)
                return -1;
            for (; k < 6; k++)
                out->microsecond *= 10;
        }
    }
    if (p == e)
        return 0;
    out->has_offset = 1;
    if (*p == 'Z' || *p == 'z')
        return p + 1 == e ? 0 : -1;
    int sign = *p == '-' ? -1 : 1;
    if (*p == '+' || *p == '-')
        p++;
    else if (e - p >= 3 && memcmp(p, "\xe2\x88\x92", 3) == 0) /* U+2212 MINUS SIGN */
        p += 3, sign = -1;
    else
        return -1;
    int oh = digits(&p, e, 2), om;
    if (p < e && *p == ':')
        p++;
    om = digits(&p, e, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59 || p != e)
        return -1;
    out->offset = sign * (oh * 3600 + om * 60);
    return 0;
}

/* A strict grammar instead of datetime.fromisoformat, which takes every
 * ISO 8601 shape Python knows (basic form, week dates, "12" for a time) and
 * refuses the lower-case t and z that RFC 3339 allows. */
int ff_parse_datetime(const char *s, size_t n, enum ff_datetime_kind kind, ff_datetime *out)
{
    const char *p = s, *e = s + n;
    memset(out, 0, sizeof *out);
    if (kind != FF_DT_TIME) {
        if (parse_date(&p, e, out) < 0)
            return -1;
        if (kind == FF_DT_DATE)
            return p == e ? 0 : -1;
        if (p >= e || (*p != 'T' && *p != 't' && *p != ' ' && *p != '_'))
            return -1;
        p++;
    }
    return parse_time(p, e, out);
}

/* Writes v as `k` digits at p; returns the end. */
static char *put_digits(char *p, int v, int k)
{
    for (int i = k - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
    return p + k;
}

size_t ff_format_datetime(const ff_datetime *v, enum ff_datetime_kind kind,
                          char out[FF_DATETIME_TEXT_MAX])
{
    char *p = out;
    if (kind != FF_DT_TIME) {
        p = put_digits(p, v->year, 4);
        *p++ = '-';
        p = put_digits(p, v->month, 2);
        *p++ = '-';
        p = put_digits(p, v->day, 2);
        if (kind == FF_DT_DATE)
            return (size_t)(p - out);
        *p++ = 'T';
    }
    p = put_digits(p, v->hour, 2);
    *p++ = ':';
    p = put_digits(p, v->minute, 2);
    *p++ = ':';
    p = put_digits(p, v->second, 2);
    *p++ = '.';
    p = put_digits(p, v->microsecond, 6);
    if (v->has_offset) {
        int off = v->offset < 0 ? -v->offset : v->offset;
        *p++ = v->offset < 0 ? '-' : '+';
        p = put_digits(p, off / 3600, 2);
        *p++ = ':';
        p = put_digits(p, off / 60 % 60, 2);
    }
    return (size_t)(p - out);
}
