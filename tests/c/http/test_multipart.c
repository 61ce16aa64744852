/* tests/c/http/test_multipart.c — unit tests of http/multipart.c.
 *
 * Each body is fed whole, one byte at a time and in 20 fixed random splits.
 * The driver behaves as a server does: it keeps what a call did not consume,
 * appends the next piece and calls again, and every call's buffer ends at a
 * guard page. The events are written as a transcript that does not depend on
 * the split: `[name|f=filename|t=type]` for a part's headers, the data bytes
 * as they are, `$` for a part's end and `#` for the close delimiter. The
 * vectors were written for this file from RFC 7578 and RFC 2046 5.1, and
 * from what browsers and curl send.
 */
#include "harness.h"

#include "http/form.h"

#define B "XyZ"
#define D "--" B
#define CD "Content-Disposition: form-data; "

typedef struct {
    int line;
    const char *in;
    size_t len;
    const ff_form_limits *lim; /* NULL: L_DEF */
    const char *out;           /* transcript when the body parses */
    size_t out_len;
    int done;                  /* 1: complete; 0: truncated (still waiting) */
    enum ff_form_error err;    /* set: the body is refused with this error */
} mvec;

static const ff_form_limits L_DEF = {.max_fields = 16, .max_name = 64, .max_value = 64,
                                     .max_part_header_bytes = 256, .max_part_headers = 4};
/* Two parts, 8-byte fields, 64-byte header sections, two header fields. */
static const ff_form_limits L_SMALL = {.max_fields = 2, .max_name = 8, .max_value = 8,
                                       .max_part_header_bytes = 64, .max_part_headers = 2};

#define MV(in, out) {__LINE__, in, sizeof(in) - 1, NULL, out, sizeof(out) - 1, 1, FF_FORM_OK}
#define MVL(in, lim, out) {__LINE__, in, sizeof(in) - 1, lim, out, sizeof(out) - 1, 1, FF_FORM_OK}
#define MMORE(in, out) {__LINE__, in, sizeof(in) - 1, NULL, out, sizeof(out) - 1, 0, FF_FORM_OK}
#define MBAD(in, e) {__LINE__, in, sizeof(in) - 1, NULL, NULL, 0, 0, e}
#define MBADL(in, lim, e) {__LINE__, in, sizeof(in) - 1, lim, NULL, 0, 0, e}

static const mvec vectors[] = {
    /* ------------------------------------------------------------- valid */
    MV(D "\r\n" CD "name=\"a\"\r\n\r\nhello\r\n" D "--\r\n", "[a]hello$#"),
    MV(D "\r\n" CD "name=\"a\"\r\n\r\n1\r\n" D "\r\n" CD "name=\"b\"\r\n\r\n2\r\n" D "--",
       "[a]1$[b]2$#"),
    MV(D "\r\n" CD "name=\"f\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\n"
         "line1\r\nline2\r\n" D "--\r\n",
       "[f|f=a.txt|t=text/plain]line1\r\nline2$#"),
    /* an empty file input: filename="" and no data */
    MV(D "\r\n" CD "name=\"f\"; filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n"
         "\r\n" D "--\r\n",
       "[f|f=|t=application/octet-stream]$#"),
    MV(D "\r\n" CD "name=\"e\"\r\n\r\n\r\n" D "--", "[e]$#"),
    /* preamble and epilogue are discarded */
    MV("This is the preamble.\r\n" D "\r\n" CD "name=a\r\n\r\nx\r\n" D "--\r\nepilogue\r\n" D
       "\r\nnot a part",
       "[a]x$#"),
    MV("\r\n" D "\r\n" CD "name=a\r\n\r\nx\r\n" D "--", "[a]x$#"),
    /* transport padding after a boundary */
    MV(D " \t \r\n" CD "name=a\r\n\r\nx\r\n" D "  \r\n" CD "name=b\r\n\r\ny\r\n" D "--",
       "[a]x$[b]y$#"),
    /* no parts at all */
    MV(D "--\r\n", "#"),
    /* data that looks like a delimiter but is not one */
    MV(D "\r\n" CD "name=a\r\n\r\n\r\n--XyY\r\n-\r\r\n--Xy\r\n\r\r\n" D "--",
       "[a]\r\n--XyY\r\n-\r\r\n--Xy\r\n\r$#"),
    MV(D "\r\n" CD "name=a\r\n\r\n--" B "\r\n" D "--", "[a]--" B "$#"),
    MV(D "\r\n" CD "name=a\r\n\r\n\r\r\r\r\n\r\n" D "--", "[a]\r\r\r\r\n$#"),
    /* binary data, NULs included */
    MV(D "\r\n" CD "name=a; filename=b.bin\r\n\r\n\0\1\2\xff\r\n" D "--", "[a|f=b.bin]\0\1\2\xff$#"),
    /* header names in any case, values with OWS, extra headers kept */
    MV(D "\r\ncontent-disposition:form-data;name=a\r\nCONTENT-TYPE:  text/x  \r\nX-A: 1\r\n\r\n"
         "v\r\n" D "--",
       "[a|t=text/x]v$#"),
    MV(D "\r\nContent-Disposition: FORM-DATA ; NAME = \"a\" ; FileName = \"c:\\\\x\\\\y.txt\"\r\n\r\n"
         "v\r\n" D "--",
       "[a|f=c:\\x\\y.txt]v$#"),
    /* quoted names with backslash escapes, names and filenames in UTF-8, filename* ignored */
    MV(D "\r\n" CD "name=\"a\\\"b\"\r\n\r\nv\r\n" D "--", "[a\"b]v$#"),
    MV(D "\r\n" CD "name=\"\xc3\xa4\"; filename=\"\xe2\x82\xac.txt\"; filename*=UTF-8''x\r\n\r\n"
         "v\r\n" D "--",
       "[\xc3\xa4|f=\xe2\x82\xac.txt]v$#"),
    MV(D "\r\n" CD "name=\"\"\r\n\r\nv\r\n" D "--", "[]v$#"),
    /* ---------------------------------------------------------- truncated */
    MMORE("", ""),
    MMORE("--Xy", ""),
    MMORE(D, ""),
    MMORE(D "\r\n" CD "name=a\r\n", ""),
    MMORE(D "\r\n" CD "name=a\r\n\r\nabc", "[a]abc"),
    MMORE(D "\r\n" CD "name=a\r\n\r\nabc\r\n--X", "[a]abc"),
    MMORE(D "\r\n" CD "name=a\r\n\r\nabc\r\n" D, "[a]abc$"),
    MMORE(D "\r\n" CD "name=a\r\n\r\nabc\r\n" D "-", "[a]abc$"),
    MMORE("preamble without a boundary", ""),
    /* --------------------------------------------------------------- bad */
    MBAD(D "x\r\n" CD "name=a\r\n\r\nv\r\n" D "--", FF_FORM_E_DELIMITER),
    MBAD(D "-x", FF_FORM_E_DELIMITER),
    MBAD(D " x\r\n", FF_FORM_E_DELIMITER),
    MBAD(D "\n" CD "name=a\r\n\r\nv\r\n" D "--", FF_FORM_E_DELIMITER),
    MBAD(D "\r\n" CD "name=a\r\n\r\nv\r\n" D "x", FF_FORM_E_DELIMITER),
    MBAD(D "\r\n" CD "name=a\n\nv\r\n" D "--", FF_FORM_E_PART_HEADER),
    MBAD(D "\r\n" CD "name=a\r\n X: y\r\n\r\nv\r\n" D "--", FF_FORM_E_PART_HEADER),
    MBAD(D "\r\nX : y\r\n" CD "name=a\r\n\r\n", FF_FORM_E_PART_HEADER),
    MBAD(D "\r\n: y\r\n\r\n", FF_FORM_E_PART_HEADER),
    MBAD(D "\r\nNoColon\r\n\r\n", FF_FORM_E_PART_HEADER),
    MBAD(D "\r\nX: a\rb\r\n\r\n", FF_FORM_E_PART_HEADER),
    MBAD(D "\r\nX: a\x01\r\n\r\n", FF_FORM_E_PART_HEADER),
    MBAD(D "\r\n\r\nv\r\n" D "--", FF_FORM_E_DISPOSITION),
    MBAD(D "\r\nContent-Type: text/plain\r\n\r\nv\r\n" D "--", FF_FORM_E_DISPOSITION),
    MBAD(D "\r\nContent-Disposition: attachment; name=a\r\n\r\n", FF_FORM_E_DISPOSITION),
    MBAD(D "\r\nContent-Disposition: form-data\r\n\r\n", FF_FORM_E_DISPOSITION),
    MBAD(D "\r\n" CD "filename=a\r\n\r\n", FF_FORM_E_DISPOSITION),
    MBAD(D "\r\n" CD "name=a; name=b\r\n\r\n", FF_FORM_E_DISPOSITION),
    MBAD(D "\r\n" CD "name=a; filename=b; filename=c\r\n\r\n", FF_FORM_E_DISPOSITION),
    MBAD(D "\r\n" CD "name=\"a\r\n\r\n", FF_FORM_E_DISPOSITION),
    MBAD(D "\r\n" CD "name=a b\r\n\r\n", FF_FORM_E_DISPOSITION),
    MBAD(D "\r\n" CD "name=\r\n\r\n", FF_FORM_E_DISPOSITION),
    MBAD(D "\r\n" CD "name=a;\r\n\r\n", FF_FORM_E_DISPOSITION),
    MBAD(D "\r\n" CD "name=a\r\n" CD "name=b\r\n\r\n", FF_FORM_E_DISPOSITION),
    MBAD(D "\r\n" CD "name=\"a\\\x01\"\r\n\r\n", FF_FORM_E_PART_HEADER),
    /* -------------------------------------------------------------- limits */
    MVL(D "\r\n" CD "name=a\r\n\r\n12345678\r\n" D "--", &L_SMALL, "[a]12345678$#"),
    MBADL(D "\r\n" CD "name=a\r\n\r\n123456789\r\n" D "--", &L_SMALL,
          FF_FORM_E_FIELD_TOO_LARGE),
    /* a file part's data is not a field: no limit here */
    MVL(D "\r\n" CD "name=a; filename=b\r\n\r\n123456789abcdef\r\n" D "--", &L_SMALL,
        "[a|f=b]123456789abcdef$#"),
    MBADL(D "\r\n" CD "name=a\r\n\r\n1\r\n" D "\r\n" CD "name=b\r\n\r\n2\r\n" D "\r\n" CD
             "name=c\r\n\r\n3\r\n" D "--",
          &L_SMALL, FF_FORM_E_TOO_MANY_FIELDS),
    MBADL(D "\r\n" CD "name=a\r\nX-A: 1\r\nX-B: 2\r\n\r\n", &L_SMALL,
          FF_FORM_E_TOO_MANY_PART_HEADERS),
    /* 64 bytes of header section: accepted at 64, refused at 65 */
    MVL(D "\r\n" CD "name=a\r\nX: 12345678901234567\r\n\r\nv\r\n" D "--", &L_SMALL,
        "[a]v$#"),
    MBADL(D "\r\n" CD "name=a\r\nX: 123456789012345678\r\n\r\nv\r\n" D "--", &L_SMALL,
          FF_FORM_E_PART_HEADERS_TOO_LARGE),
    MBADL(D "\r\n" CD "name=a; xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
          &L_SMALL, FF_FORM_E_PART_HEADERS_TOO_LARGE),
};
#define NVEC (sizeof(vectors) / sizeof(vectors[0]))

#define CAP 4096

/* Appends a part's description to the transcript. */
static void put_part(char *out, size_t *n, const ff_mp_event *ev)
{
    out[(*n)++] = '[';
    *n += ff_mp_unquote(out + *n, ev->name, ev->name_len);
    if (ev->filename) {
        memcpy(out + *n, "|f=", 3);
        *n += 3;
        *n += ff_mp_unquote(out + *n, ev->filename, ev->filename_len);
    }
    if (ev->content_type) {
        memcpy(out + *n, "|t=", 3);
        *n += 3;
        memcpy(out + *n, ev->content_type, ev->content_type_len);
        *n += ev->content_type_len;
    }
    out[(*n)++] = ']';
}

/* Feeds v->in cut at cuts[0..k); returns -1 with *err on an error, else
 * whether the body was complete, with the transcript in out. */
static int feed(const mvec *v, const size_t *cuts, size_t k, th_guard *g, char *out,
                size_t *out_len, enum ff_form_error *err)
{
    const ff_form_limits *lim = v->lim ? v->lim : &L_DEF;
    static char pending[CAP];
    ff_http_header headers[8];
    size_t plen = 0, fed = 0, piece;
    ff_multipart p;
    ff_mp_event ev;
    ssize_t r;
    int in_part = 0;

    ff_mp_init(&p, B, strlen(B));
    *out_len = 0;
    for (piece = 0; piece <= k; piece++) {
        size_t end = piece < k ? cuts[piece] : v->len;
        memcpy(pending + plen, v->in + fed, end - fed);
        plen += end - fed;
        fed = end;
        for (;;) {
            char *buf = th_guard_place(g, pending, plen);
            r = ff_mp_next(&p, buf, plen, lim, headers, &ev, err);
            if (r == -1) {
                enum ff_form_error again = FF_FORM_OK;
                CHECK(ff_mp_next(&p, buf, plen, lim, headers, &ev, &again) == -1 && again == *err,
                      "line %d: error %d did not stick", v->line, (int)*err);
                return -1;
            }
            if (r == -2)
                break;
            CHECK(r > 0 && (size_t)r <= plen, "line %d: consumed %zd of %zu", v->line, r, plen);
            switch (ev.type) {
            case FF_MP_PART:
                CHECK(!in_part, "line %d: part inside a part", v->line);
                in_part = 1;
                put_part(out, out_len, &ev);
                break;
            case FF_MP_DATA:
                CHECK(in_part && ev.data == buf && ev.data_len == (size_t)r,
                      "line %d: data event", v->line);
                memcpy(out + *out_len, ev.data, ev.data_len);
                *out_len += ev.data_len;
                break;
            case FF_MP_PART_END:
                CHECK(in_part, "line %d: part end outside a part", v->line);
                in_part = 0;
                out[(*out_len)++] = '$';
                break;
            case FF_MP_DONE:
                CHECK(!in_part, "line %d: done inside a part", v->line);
                out[(*out_len)++] = '#';
                break;
            case FF_MP_NONE:
                break;
            }
            memmove(pending, buf + r, plen - (size_t)r);
            plen -= (size_t)r;
        }
        /* What a caller keeps is bounded by the header limit or the delimiter. */
        CHECK(plen < lim->max_part_header_bytes + FF_MP_MAX_PADDING + 8,
              "line %d: %zu bytes kept", v->line, plen);
    }
    return ff_mp_done(&p);
}

static th_guard guard;

static void check_feed(const void *ctx, const size_t *cuts, size_t k, const char *mode)
{
    const mvec *v = ctx;
    char out[CAP];
    size_t out_len = 0;
    enum ff_form_error err = FF_FORM_OK;
    int r = feed(v, cuts, k, &guard, out, &out_len, &err);

    if (v->err) {
        CHECK(r == -1 && err == v->err, "line %d (%s): r=%d err=%d, expected error %d (%s)",
              v->line, mode, r, (int)err, (int)v->err, ff_form_error_text(v->err));
        return;
    }
    CHECK(r == v->done, "line %d (%s): r=%d (err %d: %s), expected done=%d", v->line, mode, r,
          (int)err, ff_form_error_text(err), v->done);
    if (r >= 0)
        CHECK(out_len == v->out_len && memcmp(out, v->out, out_len) == 0,
              "line %d (%s): transcript '%.*s'", v->line, mode, (int)out_len, out);
}

static void run_vectors(void)
{
    uint64_t seed = 0xB0B0CAFE5678ULL;
    static size_t cuts[CAP];
    size_t i;

    th_guard_init(&guard, CAP);
    for (i = 0; i < NVEC; i++)
        th_each_split(vectors[i].len, &seed, cuts, 20, check_feed, &vectors[i]);
    th_guard_free(&guard);
}

/* A 1 MiB file part of every byte value, fed in 4000-byte reads as a socket
 * would deliver it: the data comes out unchanged, in runs that never hold
 * back more than a delimiter's length. */
static void check_large_part(void)
{
    static const char head[] = D "\r\n" CD "name=f; filename=big.bin\r\n\r\n";
    static const char tail[] = "\r\n" D "--\r\n";
    size_t size = 1u << 20, total = sizeof(head) - 1 + size + sizeof(tail) - 1;
    char *body = malloc(total), *pending = malloc(8192), *got = malloc(size);
    size_t i, fed = 0, plen = 0, got_len = 0;
    ff_form_limits lim = L_DEF;
    ff_http_header headers[4];
    ff_multipart p;
    ff_mp_event ev;
    enum ff_form_error err = FF_FORM_OK;
    ssize_t r;
    uint64_t s = 42;

    memcpy(body, head, sizeof(head) - 1);
    for (i = 0; i < size; i++)
        body[sizeof(head) - 1 + i] = (char)(th_rand(&s) >> 56);
    /* a near-delimiter inside the data */
    memcpy(body + sizeof(head) - 1 + 1000, "\r\n--XyY", 7);
    memcpy(body + sizeof(head) - 1 + size, tail, sizeof(tail) - 1);
    ff_mp_init(&p, B, strlen(B));
    while (fed < total) {
        size_t n = total - fed < 4000 ? total - fed : 4000;
        memcpy(pending + plen, body + fed, n);
        plen += n;
        fed += n;
        while ((r = ff_mp_next(&p, pending, plen, &lim, headers, &ev, &err)) > 0) {
            if (ev.type == FF_MP_DATA) {
                memcpy(got + got_len, ev.data, ev.data_len);
                got_len += ev.data_len;
            }
            memmove(pending, pending + r, plen - (size_t)r);
            plen -= (size_t)r;
        }
        CHECK(r == -2, "large part: r=%zd err=%d", r, (int)err);
        CHECK(plen < 8, "large part: %zu bytes kept", plen);
    }
    CHECK(ff_mp_done(&p), "large part: not done");
    CHECK(got_len == size && memcmp(got, body + sizeof(head) - 1, size) == 0,
          "large part: %zu bytes out", got_len);
    free(body);
    free(pending);
    free(got);
}

int main(void)
{
    run_vectors();
    check_large_part();
    printf("test_multipart: %zu vectors\n", NVEC);
    return th_summary("test_multipart");
}
