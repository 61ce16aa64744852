/* fuzz/fuzz_json_scan.c — libFuzzer target for the JSON lexer (json/scan.c).
 *
 * Pure C, no interpreter: the input is JSON text, copied into an exact-size
 * allocation so a read past it is an ASan report. Checked on every input:
 *   - ff_json_skip ends inside the input, and an error's offset lies in it;
 *     it never claims an allocation failed;
 *   - a second walk over the same text, written here from the token
 *     functions alone (strings, numbers, literals, separators), reaches the
 *     same verdict: the same end, or the same message at the same byte;
 *   - a value accepted under a depth limit of 3 is accepted under 64, with
 *     the same end;
 *   - an accepted value is rewritten canonically (no whitespace, strings
 *     with only the escapes JSON requires): the rewrite is accepted whole,
 *     its strings are valid UTF-8, and rewriting it again changes nothing;
 *   - the same bytes read as an RFC 3339 date, time and date-time
 *     (ff_parse_datetime): an accepted one has every field in range, and
 *     its fields written back as YYYY-MM-DDTHH:MM:SS.ffffff+HH:MM (as the
 *     decoder does for unusual spellings) parse to the same fields.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/scan.h"

#define FAIL(...)                                                                             \
    do {                                                                                      \
        fprintf(stderr, "fuzz_json_scan invariant broken (%s:%d): ", __FILE__, __LINE__);   \
        fprintf(stderr, __VA_ARGS__);                                                         \
        fputc('\n', stderr);                                                                  \
        abort();                                                                              \
    } while (0)

static void put(ff_buf *o, const void *p, size_t n)
{
    if (ff_buf_append(o, p, n) < 0)
        abort();
}

static void put_string(ff_buf *o, const char *s, size_t n)
{
    put(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            put(o, e, 2);
        } else if (c < 0x20) {
            char e[7];
            snprintf(e, sizeof e, "\\u%04x", c);
            put(o, e, 6);
        } else {
            put(o, &s[i], 1);
        }
    }
    put(o, "\"", 1);
}

/* The reference walk: one value, written canonically to o. It shares only the
 * token functions with ff_json_skip, not its structure. */
static int walk(ff_json_scan *s, int depth_left, ff_buf *o)
{
    const char *tok;
    size_t n;
    int is_int;
    ff_json_ws(s);
    if (s->p >= s->end) {
        ff_json_fail(s, "unexpected end of input");
        return -1;
    }
    char c = *s->p;
    if (c == '"') {
        if (ff_json_string(s, &tok, &n, 1) < 0)
            return -1;
        if (!ff_json_utf8_valid(tok, n))
            FAIL("a string accepted with invalid UTF-8");
        put_string(o, tok, n);
        return 0;
    }
    if (c == 't' || c == 'f' || c == 'n') {
        const char *w = c == 't' ? "true" : c == 'f' ? "false" : "null";
        if (ff_json_literal(s, w, strlen(w)) < 0)
            return -1;
        put(o, w, strlen(w));
        return 0;
    }
    if (c != '[' && c != '{') {
        if (ff_json_number(s, &tok, &n, &is_int) < 0)
            return -1;
        put(o, tok, n);
        return 0;
    }
    int object = c == '{';
    if (depth_left <= 0) {
        ff_json_fail(s, "nesting too deep");
        return -1;
    }
    s->p++;
    put(o, &c, 1);
    ff_json_ws(s);
    char close = object ? '}' : ']';
    int more = 1;
    if (s->p < s->end && *s->p == close) {
        s->p++;
        more = 0;
    }
    for (int first = 1; more == 1; first = 0) {
        if (!first)
            put(o, ",", 1);
        if (object) {
            ff_json_ws(s);
            if (s->p >= s->end || *s->p != '"') {
                ff_json_fail(s, "expected a string key");
                return -1;
            }
            if (ff_json_string(s, &tok, &n, 1) < 0)
                return -1;
            put_string(o, tok, n);
            if (ff_json_expect(s, ':', "expected ':'") < 0)
                return -1;
            put(o, ":", 1);
        }
        if (walk(s, depth_left - 1, o) < 0)
            return -1;
        more = ff_json_next_item(s, close);
        if (more < 0)
            return -1;
    }
    put(o, &close, 1);
    return 0;
}

typedef struct {
    int rc;
    const char *err;
    size_t pos; /* error offset, or the end of the value */
} verdict;

static verdict run(const char *text, size_t len, int depth, ff_buf *canon)
{
    ff_json_scan s = {0};
    ff_json_scan_reset(&s, text, len);
    verdict v;
    v.rc = canon ? walk(&s, depth, canon) : ff_json_skip(&s, depth);
    v.err = s.err;
    v.pos = v.rc < 0 ? s.err_pos : (size_t)(s.p - s.buf);
    if (s.oom)
        FAIL("out of memory reported");
    if (s.p < s.buf || s.p > s.end || v.pos > len)
        FAIL("position %zu outside %zu bytes", v.pos, len);
    if ((v.rc < 0) != (v.err != NULL))
        FAIL("rc %d with error %s", v.rc, v.err ? v.err : "(none)");
    ff_json_scan_free(&s);
    return v;
}

static void same(verdict a, verdict b, const char *what)
{
    if (a.rc != b.rc || a.pos != b.pos || (a.err && strcmp(a.err, b.err) != 0))
        FAIL("%s: rc %d/%d, pos %zu/%zu, error %s/%s", what, a.rc, b.rc, a.pos, b.pos,
             a.err ? a.err : "-", b.err ? b.err : "-");
}

static void check_datetime(const char *text, size_t size, enum ff_datetime_kind kind)
{
    ff_datetime v, again;
    if (ff_parse_datetime(text, size, kind, &v) < 0)
        return;
    if (v.year < 0 || v.year > 9999 || v.month < 0 || v.month > 12 || v.day < 0 || v.day > 31 ||
        v.hour < 0 || v.hour > 23 || v.minute < 0 || v.minute > 59 || v.second < 0 ||
        v.second > 59 || v.microsecond < 0 || v.microsecond > 999999 || v.offset <= -86400 ||
        v.offset >= 86400 || (kind != FF_DT_TIME && (v.year < 1 || v.month < 1 || v.day < 1)))
        FAIL("a field out of range: %d-%d-%d %d:%d:%d.%d %d", v.year, v.month, v.day, v.hour,
             v.minute, v.second, v.microsecond, v.offset);
    char buf[FF_DATETIME_TEXT_MAX];
    size_t len = ff_format_datetime(&v, kind, buf);
    if (ff_parse_datetime(buf, len, kind, &again) < 0 || memcmp(&v, &again, sizeof v) != 0)
        FAIL("the canonical spelling %.*s does not read back the same", (int)len, buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    ff_buf c1 = {0}, c2 = {0};

    verdict skip = run(text, size, 64, NULL);
    same(skip, run(text, size, 64, &c1), "skip against the reference walk");
    verdict shallow = run(text, size, 3, NULL);
    if (shallow.rc == 0)
        same(shallow, skip, "depth 3 against depth 64");

    if (skip.rc == 0) {
        char *canon = malloc(c1.len ? c1.len : 1);
        if (!canon)
            abort();
        memcpy(canon, c1.data, c1.len);
        verdict again = run(canon, c1.len, 64, &c2);
        if (again.rc != 0 || again.pos != c1.len)
            FAIL("the canonical rewrite is refused: %s at %zu", again.err ? again.err : "-",
                 again.pos);
        if (c2.len != c1.len || memcmp(c1.data, c2.data, c1.len) != 0)
            FAIL("rewriting the canonical form changed it");
        free(canon);
    }
    ff_buf_free(&c1);
    ff_buf_free(&c2);
    check_datetime(text, size, FF_DT_DATE);
    check_datetime(text, size, FF_DT_TIME);
    check_datetime(text, size, FF_DT_DATETIME);
    free(text);
    return 0;
}
