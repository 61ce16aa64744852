/* json/scan.h — the JSON lexer, strict RFC 8259.
 *
 * Pure C (no Python.h). Whitespace, strings (escapes resolved, UTF-8
 * checked), numbers, literals and separators, plus ff_json_skip, which
 * checks one whole value without building anything. The typed decoder
 * (json/decode.c) builds Python objects from these tokens and skips the
 * fields a model does not know with ff_json_skip; fuzz/fuzz_json_scan.c
 * drives the lexer alone.
 *
 * Errors: the first one wins. It is a static message in `err` and the byte
 * offset where it was found in `err_pos`. An allocation failure is not the
 * input's fault: it sets `oom` and leaves `err` alone, so the caller can say
 * so (a 500, not a 400). */
#ifndef FF_JSON_SCAN_H
#define FF_JSON_SCAN_H

#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FF_JSON_ONES 0x0101010101010101ULL
#define FF_JSON_HIGHS 0x8080808080808080ULL

/* Nonzero when some byte of the word w is '"', '\\' or below 0x20: the
 * bytes a JSON string cannot hold as they are. Each test is the "a byte is
 * zero" bit trick: (x - 1) borrows into a byte's high bit only through a
 * zero byte, so a false hit can only sit above (at a higher address on a
 * little-endian machine than) a true one, and "any", like "the lowest", is
 * exact. Bytes >= 0x80 never count. Shared by the lexer and the encoder. */
static inline uint64_t ff_json_special_bytes(uint64_t w)
{
    uint64_t q = w ^ (FF_JSON_ONES * '"'), b = w ^ (FF_JSON_ONES * '\\');
    uint64_t zero_q = (q - FF_JSON_ONES) & ~q, zero_b = (b - FF_JSON_ONES) & ~b;
    uint64_t ctl = (w - FF_JSON_ONES * 0x20) & ~w;
    return (zero_q | zero_b | ctl) & FF_JSON_HIGHS;
}

typedef struct {
    const char *buf, *p, *end;
    const char *err; /* first syntax error, or NULL */
    size_t err_pos;
    int oom;
    int ascii; /* 1 when the last string token came back in place and all < 0x80 */
    ff_buf tmp; /* unescaped bytes of the last string that had escapes */
} ff_json_scan;

/* Points the lexer at new input; keeps tmp's memory. */
void ff_json_scan_reset(ff_json_scan *s, const char *buf, size_t len);
void ff_json_scan_free(ff_json_scan *s);

/* Records a syntax error at s->p unless one is recorded already. */
void ff_json_fail(ff_json_scan *s, const char *msg);

static inline void ff_json_ws(ff_json_scan *s)
{
    /* the common case, no whitespace at all, costs one compare */
    while (s->p < s->end && (unsigned char)*s->p <= ' ' &&
           (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
        s->p++;
}

/* Past the bytes from p that a string holds as they are ('"', '\\' and
 * bytes below 0x20 stop it), eight at a time while a whole word is plain,
 * then one by one; *high collects the bytes' top bits (non-ASCII). Inline:
 * every string token of the decoder goes through it. */
static inline const char *ff_json_plain_run(const char *p, const char *end, uint64_t *high)
{
    uint64_t h = 0;
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t sp = ff_json_special_bytes(w);
        if (sp) {
#if defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            /* the lowest flagged byte is the first special one */
            unsigned at = (unsigned)__builtin_ctzll(sp) / 8;
            *high |= (h | (at ? w & (~0ULL >> (64 - 8 * at)) : 0)) & FF_JSON_HIGHS;
            return p + at;
#else
            break;
#endif
        }
        h |= w;
        p += 8;
    }
    while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20) {
        h |= (unsigned char)*p;
        p++;
    }
    *high |= h & FF_JSON_HIGHS;
    return p;
}

/* 1 if b[0..n) is well-formed UTF-8 as Python's strict decoder sees it: no
 * overlong forms, no surrogates, nothing above U+10FFFF. */
int ff_json_utf8_valid(const char *b, size_t n);

/* A string token, s->p at its opening quote. On success points *out, *n at
 * its bytes (the input itself when it has no escapes, else s->tmp), leaves
 * s->p after the closing quote and returns 0. s->ascii tells whether the
 * bytes are all ASCII (then they are valid UTF-8 and the caller may copy
 * them as they are); it is 0 for a string with escapes, whatever it held. The bytes' UTF-8 is checked
 * only when check_utf8 is set (the decoder's str constructor checks it
 * anyway). */
int ff_json_string_slow(ff_json_scan *s, const char **out, size_t *n, int check_utf8);
static inline int ff_json_string(ff_json_scan *s, const char **out, size_t *n, int check_utf8)
{
    uint64_t high = 0;
    const char *start = s->p + 1, *p = ff_json_plain_run(start, s->end, &high);
    if (p < s->end && *p == '"' && (!high || !check_utf8)) { /* no escape: in place */
        *out = start;
        *n = (size_t)(p - start);
        s->p = p + 1;
        s->ascii = high == 0;
        return 0;
    }
    return ff_json_string_slow(s, out, n, check_utf8);
}

/* A number token: its span and whether it is an integer (no fraction, no
 * exponent). */
int ff_json_number(ff_json_scan *s, const char **start, size_t *len, int *is_int);

/* The literal `word` (true, false, null) at s->p. */
int ff_json_literal(ff_json_scan *s, const char *word, size_t n);

/* Whitespace, then the byte c; otherwise the error msg. */
int ff_json_expect_slow(ff_json_scan *s, char c, const char *msg);
static inline int ff_json_expect(ff_json_scan *s, char c, const char *msg)
{
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return 0;
    }
    return ff_json_expect_slow(s, c, msg);
}

/* Consumes an opening bracket (s->p at it) and the whitespace after it:
 * 0 = the container is empty (`close` consumed too), 1 = an item follows. */
static inline int ff_json_open(ff_json_scan *s, char close)
{
    s->p++;
    ff_json_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 0;
    }
    return 1;
}

/* The separator after an array item or object member: 1 = another follows,
 * 0 = `close` ended the container, -1 = error (a trailing comma is one).
 * Inline for the usual `,` followed by no whitespace and no `close`. */
int ff_json_next_item_slow(ff_json_scan *s, char close);
static inline int ff_json_next_item(ff_json_scan *s, char close)
{
    if (s->end - s->p >= 2 && *s->p == ',' && (unsigned char)s->p[1] > ' ' && s->p[1] != close) {
        s->p++;
        return 1;
    }
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 0;
    }
    return ff_json_next_item_slow(s, close);
}

/* Whitespace, then one whole value, checked as strictly as the decoder
 * would (nesting deeper than depth_left is an error), without building it. */
int ff_json_skip(ff_json_scan *s, int depth_left);

/* ---- dates and times in text (RFC 3339, as pydantic reads it) ----
 *
 *   date      = 4DIGIT "-" 2DIGIT "-" 2DIGIT            (year 0001-9999)
 *   time      = 2DIGIT ":" 2DIGIT [":" 2DIGIT ["." / "," 1*DIGIT]] [offset]
 *   offset    = "Z" / "z" / ("+" / "-" / U+2212) 2DIGIT [":"] 2DIGIT  (below 24:00)
 *   date-time = date ("T" / "t" / " " / "_") time
 *
 * RFC 3339 5.6 writes T and Z in either case and lets a space stand for T;
 * pydantic also takes "_", a time without seconds, an offset without its
 * colon or with ISO 8601's minus sign (U+2212, in UTF-8), and so does this. Digits past the sixth of a fraction are dropped.
 * The ISO 8601 basic form (20261130T120000), week dates, a bare hour, an
 * offset of hours only and a date alone for a date-time are refused, as
 * pydantic refuses them. Every field is range-checked (Feb 29 only in leap
 * years; no leap second, no 24:00). */
typedef struct {
    int year, month, day;
    int hour, minute, second, microsecond;
    int has_offset; /* Z or a numeric offset was given */
    int offset;     /* seconds east of UTC */
} ff_datetime;

enum ff_datetime_kind { FF_DT_DATE, FF_DT_TIME, FF_DT_DATETIME };

/* 0 with *out filled when s[0..n) is exactly a `kind`, else -1. */
int ff_parse_datetime(const char *s, size_t n, enum ff_datetime_kind kind, ff_datetime *out);

/* The longest text ff_format_datetime writes: "YYYY-MM-DDTHH:MM:SS.ffffff+HH:MM". */
#define FF_DATETIME_TEXT_MAX 32
/* Writes v as the one spelling every reader takes (and ff_parse_datetime
 * reads back the same): YYYY-MM-DD, HH:MM:SS.ffffff[+HH:MM] or both joined
 * by 'T'. Returns the length written to out (no NUL). */
size_t ff_format_datetime(const ff_datetime *v, enum ff_datetime_kind kind,
                          char out[FF_DATETIME_TEXT_MAX]);

#endif
