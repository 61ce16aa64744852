/* tests/c/json/test_scan.c — unit tests of json/scan.c.
 *
 * Vectors written for this file from RFC 8259 and RFC 3629. Every input is
 * placed so that it ends at a guard page, so a read past the end faults. A
 * value vector states whether ff_json_skip accepts the text and, if not, the
 * message and the byte offset of the first error; the error positions are
 * the ones the typed decoder reports (tests/json/test_skip.py checks that
 * the two agree on every one of its inputs).
 */
#include "harness.h"

#include "json/scan.h"

typedef struct {
    int line;
    const char *in;
    size_t len;
    int depth;       /* 0: 64 */
    const char *err; /* NULL: accepted */
    size_t pos;      /* where the error is, or where the value ends */
} svec;

#define OK(text) {__LINE__, text, sizeof(text) - 1, 0, NULL, sizeof(text) - 1}
#define OKAT(text, end) {__LINE__, text, sizeof(text) - 1, 0, NULL, end}
#define BAD(text, msg, at) {__LINE__, text, sizeof(text) - 1, 0, msg, at}
#define DEEP(text, d, msg, at) {__LINE__, text, sizeof(text) - 1, d, msg, at}

static const svec VALUES[] = {
    OK("0"), OK("-0"), OK("12"), OK("-1.5e+10"), OK("1E-2"), OK("0.0"), OK("3.25"),
    OK("true"), OK("false"), OK("null"), OK("\"\""), OK("\"abc\""),
    OK("  [ 1 , \"x\" , [ ] , { } ]"), OK("{\"a\":{\"b\":[true,false,null]}}"),
    OK("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""), OK("\"\\u00e9\\uD83D\\uDE00\""),
    OK("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""), OK("\"\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf\""),
    OKAT("1 ]", 1), OKAT("[1]x", 3), OKAT("\"a\"\"b\"", 3),
    BAD("", "unexpected end of input", 0), BAD("   ", "unexpected end of input", 3),
    OKAT("01", 1) /* "0" ends the value; the caller sees the "1" */,
    BAD("-", "invalid number", 1), BAD("1.", "invalid number", 2), BAD("1.e5", "invalid number", 2),
    BAD("1e", "invalid number", 2), BAD("1e+", "invalid number", 3), BAD("+1", "invalid number", 0),
    BAD(".5", "invalid number", 0), BAD("NaN", "invalid number", 0),
    BAD("tru", "invalid literal", 0), BAD("nul", "invalid literal", 0), BAD("True", "invalid number", 0),
    BAD("\"abc", "unterminated string", 4), BAD("\"a\\", "unterminated string", 3),
    BAD("\"a\x01\"", "control character in string", 2), BAD("\"a\\x\"", "invalid escape", 3),
    BAD("\"\\u12\"", "invalid \\u escape", 2), BAD("\"\\uZZZZ\"", "invalid \\u escape", 2),
    BAD("\"\\uD800\"", "lone surrogate in \\u escape", 6),
    BAD("\"\\uD800\\u0041\"", "lone surrogate in \\u escape", 6),
    BAD("\"\\uDC00\"", "lone surrogate in \\u escape", 6),
    BAD("\"\xc0\xaf\"", "invalid UTF-8 in string", 4) /* overlong "/" */,
    BAD("\"\xe0\x80\xaf\"", "invalid UTF-8 in string", 5) /* overlong, 3 bytes */,
    BAD("\"\xed\xa0\x80\"", "invalid UTF-8 in string", 5) /* a surrogate in UTF-8 */,
    BAD("\"\xf4\x90\x80\x80\"", "invalid UTF-8 in string", 6) /* above U+10FFFF */,
    BAD("\"\xf5\x80\x80\x80\"", "invalid UTF-8 in string", 6), BAD("\"\x80\"", "invalid UTF-8 in string", 3),
    BAD("\"\xc3\"", "invalid UTF-8 in string", 3) /* truncated */,
    BAD("\"\xe2\x82\"", "invalid UTF-8 in string", 4), BAD("\"\xff\"", "invalid UTF-8 in string", 3),
    BAD("[1,]", "trailing comma", 3), BAD("[1 2]", "expected ',' or ']'", 3),
    BAD("{\"a\":1,}", "trailing comma", 7), BAD("{\"a\" 1}", "expected ':'", 5),
    BAD("{1:2}", "expected a string key", 1), BAD("{\"a\":1 \"b\":2}", "expected ',' or '}'", 7),
    BAD("[", "unexpected end of input", 1), BAD("{", "expected a string key", 1),
    BAD("[1", "expected ',' or ']'", 2), BAD("{\"\xff\":1}", "invalid UTF-8 in string", 4),
    DEEP("[[1]]", 2, NULL, 5), DEEP("[[[1]]]", 2, "nesting too deep", 2),
    DEEP("{\"a\":{\"b\":{}}}", 2, "nesting too deep", 10), DEEP("1", -1, NULL, 1),
};

static void test_values(th_guard *g)
{
    char ctx[64];
    for (size_t i = 0; i < sizeof VALUES / sizeof *VALUES; i++) {
        const svec *v = &VALUES[i];
        snprintf(ctx, sizeof ctx, "line %d", v->line);
        ff_json_scan s = {0};
        ff_json_scan_reset(&s, th_guard_place(g, v->in, v->len), v->len);
        int rc = ff_json_skip(&s, v->depth ? v->depth : 64);
        CHECK_EQ_LL(rc, v->err ? -1 : 0, ctx);
        CHECK(!s.oom, "%s: oom", ctx);
        if (v->err) {
            CHECK(s.err && strcmp(s.err, v->err) == 0, "%s: error \"%s\", expected \"%s\"", ctx,
                  s.err ? s.err : "(none)", v->err);
            CHECK_EQ_LL(s.err_pos, v->pos, ctx);
        } else {
            CHECK(!s.err, "%s: unexpected error \"%s\"", ctx, s.err);
            CHECK_EQ_LL(s.p - s.buf, v->pos, ctx);
        }
        ff_json_scan_free(&s);
    }
}

/* A string's bytes: in place without escapes, unescaped into tmp with them. */
static void test_strings(th_guard *g)
{
    static const struct {
        int line;
        const char *in, *out;
        size_t out_len;
        int in_place;
    } S[] = {
        {__LINE__, "\"plain text\"", "plain text", 10, 1},
        {__LINE__, "\"\"", "", 0, 1},
        {__LINE__, "\"a\\nb\"", "a\nb", 3, 0},
        {__LINE__, "\"\\u0000\"", "\0", 1, 0},
        {__LINE__, "\"x\\u00e9y\"", "x\xc3\xa9y", 4, 0},
        {__LINE__, "\"\\u20AC\"", "\xe2\x82\xac", 3, 0},
        {__LINE__, "\"\\ud83d\\ude00!\"", "\xf0\x9f\x98\x80!", 5, 0},
        {__LINE__, "\"long run before the escape \\t and after\"", "long run before the escape \t and after", 38, 0},
    };
    char ctx[64];
    for (size_t i = 0; i < sizeof S / sizeof *S; i++) {
        snprintf(ctx, sizeof ctx, "line %d", S[i].line);
        size_t len = strlen(S[i].in);
        const char *in = th_guard_place(g, S[i].in, len);
        ff_json_scan s = {0};
        ff_json_scan_reset(&s, in, len);
        const char *out = NULL;
        size_t n = 0;
        CHECK_EQ_LL(ff_json_string(&s, &out, &n, 1), 0, ctx);
        CHECK_EQ_LL(n, S[i].out_len, ctx);
        CHECK(out && memcmp(out, S[i].out, n) == 0, "%s: wrong bytes", ctx);
        CHECK_EQ_LL(out >= in && out < in + len, S[i].in_place, ctx);
        CHECK_EQ_LL(s.p - in, len, ctx);
        ff_json_scan_free(&s);
    }
}

static void test_numbers(th_guard *g)
{
    static const struct {
        int line;
        const char *in;
        size_t len;
        int is_int;
    } N[] = {
        {__LINE__, "0,", 1, 1}, {__LINE__, "-12]", 3, 1}, {__LINE__, "1.5}", 3, 0},
        {__LINE__, "2e9 ", 3, 0}, {__LINE__, "123456789012345678901234567890", 30, 1},
    };
    char ctx[64];
    for (size_t i = 0; i < sizeof N / sizeof *N; i++) {
        snprintf(ctx, sizeof ctx, "line %d", N[i].line);
        size_t len = strlen(N[i].in);
        ff_json_scan s = {0};
        ff_json_scan_reset(&s, th_guard_place(g, N[i].in, len), len);
        const char *start;
        size_t n;
        int is_int;
        CHECK_EQ_LL(ff_json_number(&s, &start, &n, &is_int), 0, ctx);
        CHECK_EQ_LL(n, N[i].len, ctx);
        CHECK_EQ_LL(is_int, N[i].is_int, ctx);
    }
}

/* Every 1- to 3-byte sequence, against a decoder written the plain way:
 * code point from the bits, then reject overlongs, surrogates, > U+10FFFF. */
static int reference_utf8(const unsigned char *b, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = b[i], need, cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            need = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            need = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            need = 3;
            cp = c & 0x07;
        } else
            return 0;
        if (i + need >= n)
            return 0;
        for (unsigned k = 1; k <= need; k++) {
            if ((b[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (b[i + k] & 0x3F);
        }
        static const unsigned min[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += need + 1;
    }
    return 1;
}

static void test_utf8_exhaustive(void)
{
    unsigned char b[12];
    unsigned long bad = 0;
    for (unsigned x = 0; x < (1u << 24); x += (x < (1u << 16) ? 1 : 7)) {
        b[0] = (unsigned char)(x >> 16);
        b[1] = (unsigned char)(x >> 8);
        b[2] = (unsigned char)x;
        for (size_t n = 1; n <= 3; n++) {
            /* the sequence alone, and after an ASCII run (the 8-byte fast path) */
            const unsigned char *seq = b + 3 - n;
            unsigned char padded[16];
            memcpy(padded, "abcdefghij", 10);
            memcpy(padded + 10, seq, n);
            int want = reference_utf8(seq, n);
            if (ff_json_utf8_valid((const char *)seq, n) != want ||
                ff_json_utf8_valid((const char *)padded, 10 + n) != want)
                bad++;
        }
    }
    CHECK(bad == 0, "%lu sequences judged differently from the reference", bad);
    /* four-byte forms around the edges */
    static const char *four_ok[] = {"\xf0\x90\x80\x80", "\xf3\xbf\xbf\xbf", "\xf4\x8f\xbf\xbf"};
    static const char *four_bad[] = {"\xf0\x8f\xbf\xbf", "\xf4\x90\x80\x80", "\xf0\x90\x80",
                                     "\xf0\x90\x80\x7f", "\xf8\x88\x80\x80\x80"};
    for (size_t i = 0; i < 3; i++)
        CHECK(ff_json_utf8_valid(four_ok[i], strlen(four_ok[i])), "four_ok[%zu]", i);
    for (size_t i = 0; i < 5; i++)
        CHECK(!ff_json_utf8_valid(four_bad[i], strlen(four_bad[i])), "four_bad[%zu]", i);
}

/* RFC 3339 text as pydantic reads it: every field of the good forms, and
 * the ISO 8601 shapes Python's fromisoformat takes but pydantic refuses.
 * Each input ends at a guard page, so reading past it crashes. */
static void test_datetimes(th_guard *g)
{
    static const struct {
        int line;
        enum ff_datetime_kind kind;
        const char *in;
        int ok;
        ff_datetime want; /* y m d H M S us has_offset offset */
    } D[] = {
#define DT(k, s, ...) {__LINE__, FF_DT_##k, s, 1, {__VA_ARGS__}}
#define NO(k, s) {__LINE__, FF_DT_##k, s, 0, {0}}
        DT(DATETIME, "2026-11-30T12:00:00", 2026, 11, 30, 12, 0, 0, 0, 0, 0),
        DT(DATETIME, "2026-11-30t12:00:00z", 2026, 11, 30, 12, 0, 0, 0, 1, 0),
        DT(DATETIME, "2026-11-30 12:34Z", 2026, 11, 30, 12, 34, 0, 0, 1, 0),
        DT(DATETIME, "2026-11-30_12:34:56", 2026, 11, 30, 12, 34, 56, 0, 0, 0),
        DT(DATETIME, "0001-01-01T00:00:00.1", 1, 1, 1, 0, 0, 0, 100000, 0, 0),
        DT(DATETIME, "9999-12-31T23:59:59,1234567890-23:59", 9999, 12, 31, 23, 59, 59, 123456, 1,
           -86340),
        DT(DATETIME, "2024-02-29T01:02:03+0130", 2024, 2, 29, 1, 2, 3, 0, 1, 5400),
        DT(DATETIME, "2026-11-30T12:00-00:00", 2026, 11, 30, 12, 0, 0, 0, 1, 0),
        DT(DATE, "2024-02-29", 2024, 2, 29, 0, 0, 0, 0, 0, 0),
        DT(DATE, "2000-02-29", 2000, 2, 29, 0, 0, 0, 0, 0, 0),
        DT(TIME, "12:00", 0, 0, 0, 12, 0, 0, 0, 0, 0),
        DT(TIME, "23:59:59.999999z", 0, 0, 0, 23, 59, 59, 999999, 1, 0),
        DT(TIME, "00:00:00+05:45", 0, 0, 0, 0, 0, 0, 0, 1, 20700),
        DT(TIME, "00:00\xe2\x88\x92" "0130", 0, 0, 0, 0, 0, 0, 0, 1, -5400),
        NO(TIME, "00:00\xe2\x88\x93" "0130"),
        NO(TIME, "00:00\xe2\x88"),
        NO(DATETIME, "20261130T120000"),     /* ISO 8601 basic form */
        NO(DATETIME, "2026-11-30"),          /* a date alone */
        NO(DATETIME, "2026-W48-1T12:00:00"), /* week date */
        NO(DATETIME, "2026-334T12:00:00"),   /* ordinal date */
        NO(DATETIME, "2026-11-30T12"),       /* hour alone */
        NO(DATETIME, "2026-11-30T12:00:00+01"),
        NO(DATETIME, "2026-11-30T12:00:00+24:00"),
        NO(DATETIME, "2026-11-30T12:00:00+01:60"),
        NO(DATETIME, "2026-11-30T12:00:00+01:0"),
        NO(DATETIME, "2026-11-30T12:00:00."),
        NO(DATETIME, "2026-11-30T12:00.5"),
        NO(DATETIME, "2026-11-30T24:00:00"),
        NO(DATETIME, "2026-11-30T23:59:60"),
        NO(DATETIME, "2026-11-30T12:00:00Z "),
        NO(DATETIME, " 2026-11-30T12:00:00"),
        NO(DATETIME, "2026-11-30x12:00:00"),
        NO(DATETIME, "2026-11-30T1:00:00"),
        NO(DATETIME, "0000-01-01T00:00:00"),
        NO(DATETIME, "+2026-11-30T12:00:00"),
        NO(DATETIME, "1700000000"),
        NO(DATETIME, "2026-11-30T12:00:00UTC"),
        NO(DATETIME, ""),
        NO(DATE, "2026-02-29"),
        NO(DATE, "1900-02-29"),
        NO(DATE, "2026-04-31"),
        NO(DATE, "2026-13-01"),
        NO(DATE, "2026-00-10"),
        NO(DATE, "2026-11-00"),
        NO(DATE, "20261130"),
        NO(DATE, "2026-11-30T00:00:00"),
        NO(DATE, "2026-2-3"),
        NO(DATE, "2026-11"),
        NO(TIME, "1200"),
        NO(TIME, "12"),
        NO(TIME, "T12:00:00"),
        NO(TIME, "12:00:00Zz"),
        NO(TIME, "12:0"),
#undef DT
#undef NO
    };
    char ctx[64];
    for (size_t i = 0; i < sizeof D / sizeof *D; i++) {
        snprintf(ctx, sizeof ctx, "datetime vector at line %d", D[i].line);
        size_t n = strlen(D[i].in);
        ff_datetime v;
        int rc = ff_parse_datetime(th_guard_place(g, D[i].in, n), n, D[i].kind, &v);
        CHECK_EQ_LL(rc, D[i].ok ? 0 : -1, ctx);
        if (rc == 0 && D[i].ok)
            CHECK(memcmp(&v, &D[i].want, sizeof v) == 0,
                  "%s: %d-%d-%d %d:%d:%d.%d offset %d/%d", ctx, v.year, v.month, v.day, v.hour,
                  v.minute, v.second, v.microsecond, v.has_offset, v.offset);
    }
}

int main(void)
{
    th_guard g;
    th_guard_init(&g, 4096);
    test_values(&g);
    test_strings(&g);
    test_numbers(&g);
    test_datetimes(&g);
    test_utf8_exhaustive();
    th_guard_free(&g);
    return th_summary("json/scan");
}
