/* tests/c/http/test_form.c — unit tests of http/form.c: urlencoded bodies,
 * the error table, media types and the multipart boundary parameter.
 *
 * Each urlencoded vector is fed whole, one byte at a time and in 20 fixed
 * random splits; the caller keeps what a call did not consume, as a server
 * would, and every call's buffer ends at a guard page. The decoded fields of
 * all calls, written as `name=value&`, must equal the expected text whatever
 * the split.
 */
#include "harness.h"

#include "http/form.h"

typedef struct {
    int line;
    const char *in;
    size_t len;
    const ff_form_limits *lim; /* NULL: L_DEF */
    const char *out;           /* decoded fields, or NULL for an error */
    size_t out_len;
    enum ff_form_error err;
} fvec;

static const ff_form_limits L_DEF = {.max_fields = 100, .max_name = 64, .max_value = 256,
                                     .max_part_header_bytes = 1024, .max_part_headers = 8};
static const ff_form_limits L_SMALL = {.max_fields = 2, .max_name = 3, .max_value = 4,
                                       .max_part_header_bytes = 64, .max_part_headers = 2};

#define FV(in, out) {__LINE__, in, sizeof(in) - 1, NULL, out, sizeof(out) - 1, FF_FORM_OK}
#define FVL(in, lim, out) {__LINE__, in, sizeof(in) - 1, lim, out, sizeof(out) - 1, FF_FORM_OK}
#define FBAD(in, e) {__LINE__, in, sizeof(in) - 1, NULL, NULL, 0, e}
#define FBADL(in, lim, e) {__LINE__, in, sizeof(in) - 1, lim, NULL, 0, e}

static const fvec vectors[] = {
    FV("", ""),
    FV("a=1", "a=1&"),
    FV("a=1&b=2", "a=1&b=2&"),
    FV("a=1&b=2&", "a=1&b=2&"),
    FV("&&a=1&&&b=2&&", "a=1&b=2&"),
    FV("&&&", ""),
    FV("a", "a&"),
    FV("a&b=", "a&b=&"),
    FV("=x", "=x&"),
    FV("=", "=&"),
    FV("a=b=c", "a=b=c&"),
    FV("a+b=c+d", "a b=c d&"),
    FV("a%20b=c%2Bd", "a b=c+d&"),
    FV("%41%42=%e2%82%ac", "AB=\xe2\x82\xac&"),
    FV("k=%26%3D%25", "k=&=%&"),
    FV("k=%00z", "k=\0z&"),
    FV("name=J%C3%BCrgen&city=K%C3%B6ln", "name=J\xc3\xbcrgen&city=K\xc3\xb6ln&"),
    FV("x=1&x=2&x=3", "x=1&x=2&x=3&"),
    FV("raw=\xff\x01", "raw=\xff\x01&"),
    FBAD("a=%zz", FF_FORM_E_ESCAPE),
    FBAD("a=%4", FF_FORM_E_ESCAPE),
    FBAD("a=%", FF_FORM_E_ESCAPE),
    FBAD("a=%4g&b=1", FF_FORM_E_ESCAPE),
    FBAD("%g0=1", FF_FORM_E_ESCAPE),
    FBAD("ok=1&a=%&b", FF_FORM_E_ESCAPE),
    /* limits: names up to 3 bytes, values up to 4, 2 fields */
    FVL("abc=1234&x=", &L_SMALL, "abc=1234&x=&"),
    FVL("a+b=%41", &L_SMALL, "a b=A&"),
    FBADL("abcd=1", &L_SMALL, FF_FORM_E_FIELD_TOO_LARGE),
    FBADL("abcd", &L_SMALL, FF_FORM_E_FIELD_TOO_LARGE),
    FBADL("a=12345", &L_SMALL, FF_FORM_E_FIELD_TOO_LARGE),
    FBADL("a=1&b=2&c=3", &L_SMALL, FF_FORM_E_TOO_MANY_FIELDS),
    FVL("a=1&&&b=2&&&", &L_SMALL, "a=1&b=2&"),
    /* the first problem in byte order wins */
    FBADL("a=%zz12345", &L_SMALL, FF_FORM_E_ESCAPE),
    FBADL("a=12345%zz", &L_SMALL, FF_FORM_E_FIELD_TOO_LARGE),
};
#define NVEC (sizeof(vectors) / sizeof(vectors[0]))

#define OUT_CAP 4096

/* Feeds v->in cut at cuts[0..k) and returns -1 (error in *err), or 0 with
 * the decoded text in out/out_len. The caller's pending bytes are moved to
 * the guard page before every call. */
static int feed(const fvec *v, const size_t *cuts, size_t k, th_guard *g, char *out,
                size_t *out_len, enum ff_form_error *err)
{
    const ff_form_limits *lim = v->lim ? v->lim : &L_DEF;
    static char pending[OUT_CAP];
    size_t plen = 0, fed = 0, piece;
    ff_form f;
    ff_form_field fld;
    ssize_t r;

    ff_form_init(&f);
    *out_len = 0;
    for (piece = 0; piece <= k; piece++) {
        size_t end = piece < k ? cuts[piece] : v->len;
        int final = piece == k;
        memcpy(pending + plen, v->in + fed, end - fed);
        plen += end - fed;
        fed = end;
        for (;;) {
            char *buf = th_guard_place(g, pending, plen);
            r = ff_form_next(&f, buf, plen, final, lim, &fld, err);
            if (r == -1)
                return -1;
            if (r == -2 || r == 0)
                break;
            CHECK((size_t)r <= plen, "line %d: consumed %zd of %zu", v->line, r, plen);
            if (fld.name) {
                *out_len += ff_form_unescape(out + *out_len, fld.name, fld.name_len);
                if (fld.flags & FF_FORM_F_VALUE) {
                    out[(*out_len)++] = '=';
                    *out_len += ff_form_unescape(out + *out_len, fld.value, fld.value_len);
                }
                out[(*out_len)++] = '&';
            }
            memmove(pending, buf + r, plen - (size_t)r);
            plen -= (size_t)r;
        }
        CHECK(!final || r == 0, "line %d: final call returned %zd", v->line, r);
    }
    return 0;
}

static th_guard guard;

static void check_feed(const void *ctx, const size_t *cuts, size_t k, const char *mode)
{
    const fvec *v = ctx;
    char out[OUT_CAP];
    size_t out_len;
    enum ff_form_error err = FF_FORM_OK;
    int r = feed(v, cuts, k, &guard, out, &out_len, &err);

    if (!v->out) {
        CHECK(r == -1 && err == v->err, "line %d (%s): r=%d err=%d, expected error %d", v->line,
              mode, r, (int)err, (int)v->err);
        return;
    }
    CHECK(r == 0, "line %d (%s): error %d (%s)", v->line, mode, (int)err,
          ff_form_error_text(err));
    if (r == 0) {
        CHECK(out_len == v->out_len && memcmp(out, v->out, out_len) == 0,
              "line %d (%s): decoded '%.*s'", v->line, mode, (int)out_len, out);
    }
}

static void run_vectors(void)
{
    uint64_t seed = 0xF0F0F00D1234ULL;
    static size_t cuts[OUT_CAP];
    size_t i;

    th_guard_init(&guard, OUT_CAP);
    for (i = 0; i < NVEC; i++)
        th_each_split(vectors[i].len, &seed, cuts, 20, check_feed, &vectors[i]);
    th_guard_free(&guard);
}

/* Every error code has a status and a text; the limits are 413, the rest 400. */
static void check_errors(void)
{
    int e;

    for (e = 1; e < FF_FORM_E__COUNT; e++) {
        int st = ff_form_error_status((enum ff_form_error)e);
        CHECK(st == 400 || st == 413, "error %d status %d", e, st);
        CHECK(strcmp(ff_form_error_text((enum ff_form_error)e), "ok") != 0, "error %d text", e);
    }
    CHECK_EQ_LL(ff_form_error_status(FF_FORM_E_TOO_MANY_FIELDS), 413, "count");
    CHECK_EQ_LL(ff_form_error_status(FF_FORM_E_PART_HEADERS_TOO_LARGE), 413, "headers");
    CHECK_EQ_LL(ff_form_error_status(FF_FORM_E__COUNT), 400, "out of range");
}

static void check_media_types(void)
{
    static const struct {
        const char *ct;
        int kind;
    } mt[] = {
        {"application/x-www-form-urlencoded", FF_FORM_URLENCODED},
        {"Application/X-WWW-Form-URLEncoded; charset=UTF-8", FF_FORM_URLENCODED},
        {"  application/x-www-form-urlencoded ", FF_FORM_URLENCODED},
        {"multipart/form-data; boundary=x", FF_FORM_MULTIPART},
        {"MULTIPART/FORM-DATA;boundary=x", FF_FORM_MULTIPART},
        {"multipart/mixed; boundary=x", FF_FORM_NONE},
        {"application/json", FF_FORM_NONE},
        {"application/x-www-form-urlencodedx", FF_FORM_NONE},
        {"multipart/form", FF_FORM_NONE},
        {"", FF_FORM_NONE},
    };
    size_t i;

    for (i = 0; i < sizeof(mt) / sizeof(mt[0]); i++)
        CHECK(ff_form_media_type(mt[i].ct, strlen(mt[i].ct)) == mt[i].kind, "media type '%s'",
              mt[i].ct);
}

static void check_boundaries(void)
{
    static const struct {
        const char *ct;
        const char *b; /* NULL: refused */
    } bv[] = {
        {"multipart/form-data; boundary=abc", "abc"},
        {"multipart/form-data;boundary=abc", "abc"},
        {"multipart/form-data; BOUNDARY=abc", "abc"},
        {"multipart/form-data; boundary=\"a b:c\"", "a b:c"},
        {"multipart/form-data; charset=utf-8; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
         "----WebKitFormBoundary7MA4YWxkTrZu0gW"},
        {"multipart/form-data; boundary=abc ; charset=utf-8", "abc"},
        {"multipart/form-data; x=\"boundary=evil\"; boundary=good", "good"},
        {"multipart/form-data; boundary='()+_,-./:=?", "'()+_,-./:=?"},
        {"multipart/form-data; boundary=0123456789012345678901234567890123456789012345678901234567"
         "890123456789",
         "0123456789012345678901234567890123456789012345678901234567890123456789"},
        {"multipart/form-data; boundary=0123456789012345678901234567890123456789012345678901234567"
         "8901234567890",
         NULL},
        {"multipart/form-data", NULL},
        {"multipart/form-data; boundary=", NULL},
        {"multipart/form-data; boundary=\"\"", NULL},
        {"multipart/form-data; boundary=\"abc \"", NULL},
        {"multipart/form-data; boundary=\"ab\\c\"", NULL},
        {"multipart/form-data; boundary=\"abc", NULL},
        {"multipart/form-data; boundary=a{b", NULL},
        {"multipart/form-data; boundary", NULL},
        {"multipart/form-data; =abc", NULL},
        {"multipart/form-data; boundary=abc def", NULL},
    };
    size_t i, bl;
    const char *b;

    for (i = 0; i < sizeof(bv) / sizeof(bv[0]); i++) {
        int r = ff_mp_boundary(bv[i].ct, strlen(bv[i].ct), &b, &bl);
        if (!bv[i].b)
            CHECK(r == -1, "boundary of '%s' accepted", bv[i].ct);
        else
            CHECK(r == 0 && bl == strlen(bv[i].b) && memcmp(b, bv[i].b, bl) == 0,
                  "boundary of '%s': r=%d", bv[i].ct, r);
    }
}

int main(void)
{
    run_vectors();
    check_errors();
    check_media_types();
    check_boundaries();
    printf("test_form: %zu vectors\n", NVEC);
    return th_summary("test_form");
}
