/* tests/c/http/test_parse.c — unit tests of http/parse.c (the request head).
 *
 * Every vector below was written for this file from RFC 9112 / RFC 9110. Each
 * is run four ways, all through the guard page so that any read past the
 * input faults: whole; one byte at a time with the prev_len protocol; every
 * prefix parsed afresh; and 20 deterministic random splits. A split feed must
 * answer -2 until the byte at which the whole-input answer becomes certain,
 * and then exactly that answer.
 */
#include "harness.h"

#include "http/parse.h"

#define ALL 0 /* .ret: the whole input is the head */

typedef struct {
    int line; /* source line: names the vector in failure reports */
    const char *in;
    size_t len;
    const ff_http_limits *lim; /* NULL: L_DEF */
    ssize_t ret;               /* ALL, a byte count, or -2 (-1 is implied by .err) */
    enum ff_http_error err;
    int status; /* expected ff_http_error_status(err) */
    /* valid vectors only */
    const char *method, *path, *query; /* query NULL: absent */
    const char *auth;                  /* absolute-form: the authority */
    int v10;                           /* HTTP/1.0 (else 1.1) */
    int has_cl;
    long long cl;
    unsigned flags;
    int nh; /* 0: as many as listed in h[] */
    struct {
        const char *n, *v;
    } h[5];
} pvec;

static const ff_http_limits L_DEF = {
    .max_request_line = 128,
    .max_header_bytes = 1024,
    .max_headers = 16,
    .max_body = 1000000,
    .max_chunk_ext = 32,
};
/* A short request line: exactly 24 bytes pass, 25 do not. */
static const ff_http_limits L_RL = {24, 1024, 16, 1000000, 32};
/* A small head: exactly 64 bytes pass, 65 do not. */
static const ff_http_limits L_HB = {128, 64, 16, 1000000, 32};
/* Both limits decided at the same byte (25): 414 wins the tie. */
static const ff_http_limits L_TIE = {24, 25, 16, 1000000, 32};
/* 431 decided one byte before 414 would be. */
static const ff_http_limits L_HB_FIRST = {24, 24, 16, 1000000, 32};
static const ff_http_limits L_FEW = {128, 1024, 2, 1000000, 32};
static const ff_http_limits L_NONE = {128, 1024, 0, 1000000, 32};
static const ff_http_limits L_BODY = {128, 1024, 16, 100, 32};
static const ff_http_limits L_HUGE_BODY = {128, 1024, 16, UINT64_MAX, 32};

#define IN(s) .in = (s), .len = sizeof(s) - 1
#define CL(n) .has_cl = 1, .cl = (n)
#define KA FF_HTTP_F_KEEP_ALIVE
#define CH FF_HTTP_F_CHUNKED
#define EC FF_HTTP_F_EXPECT_CONTINUE
#define AF FF_HTTP_F_ABSOLUTE_FORM

/* A valid request: input, method, path, query, flags, then extra fields. */
#define GOOD(s, m, p, q, fl, ...)                                                          \
    {                                                                                      \
        .line = __LINE__, IN(s), .method = (m), .path = (p), .query = (q), .flags = (fl), \
        __VA_ARGS__                                                                        \
    }
/* An input the parser must keep asking more of. */
#define MORE(s, ...) { .line = __LINE__, IN(s), .ret = -2, __VA_ARGS__ }
/* A malformed input: the error and the status it maps to. */
#define BAD(s, e, st, ...) { .line = __LINE__, IN(s), .ret = -1, .err = (e), .status = (st), __VA_ARGS__ }

#define RL11 "GET / HTTP/1.1\r\n"
#define HOST "Host: example.org\r\n"
#define END "\r\n"
#define H15                                                                            \
    "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\nF: 6\r\nG: 7\r\nH: 8\r\nI: 9\r\nJ: 10\r\n" \
    "K: 11\r\nL: 12\r\nM: 13\r\nN: 14\r\nO: 15\r\n"
#define PIPE1 "GET /first HTTP/1.1\r\nHost: a\r\n\r\n"
#define POSTH "POST /users HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n"

static const pvec vectors[] = {
    /* ---------------------------------------------------------------- valid */
    GOOD(RL11 HOST END, "GET", "/", NULL, KA, .h = {{"Host", "example.org"}}),
    GOOD("GET /search?q=frost&lang=en HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/search",
         "q=frost&lang=en", KA, .h = {{"Host", "a"}}),
    GOOD("GET /x? HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/x", "", KA, .nh = 1),
    GOOD("GET /?a=1?b=2 HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/", "a=1?b=2", KA, .nh = 1),
    GOOD("GET /a%20b/c;p=1/d.txt?x=y/z HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/a%20b/c;p=1/d.txt",
         "x=y/z", KA, .nh = 1),
    GOOD("GET /!$&'()*+,;=:@-._~ HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/!$&'()*+,;=:@-._~", NULL, KA,
         .nh = 1),
    GOOD(POSTH "{\"name\":\"x\"}", "POST", "/users", NULL, KA, CL(13), .ret = sizeof(POSTH) - 1,
         .h = {{"Host", "a"}, {"Content-Type", "application/json"}, {"Content-Length", "13"}}),
    GOOD("POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", "POST", "/up", NULL,
         KA | CH, .h = {{"Host", "a"}, {"Transfer-Encoding", "chunked"}}),
    GOOD("POST /up HTTP/1.1\r\nTransfer-Encoding: Chunked\r\nHost: a\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
         "POST", "/up", NULL, KA | CH,
         .ret = sizeof("POST /up HTTP/1.1\r\nTransfer-Encoding: Chunked\r\nHost: a\r\n\r\n") - 1,
         .h = {{"Transfer-Encoding", "Chunked"}, {"Host", "a"}}),
    GOOD("POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked ,\r\n\r\n", "POST", "/up",
         NULL, KA | CH, .h = {{"Host", "a"}, {"Transfer-Encoding", ", chunked ,"}}),
    GOOD("POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\nTransfer-Encoding: CHUNKED\r\n\r\n",
         "POST", "/up", NULL, KA | CH, .nh = 3),
    GOOD(PIPE1 "GET /second HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/first", NULL, KA,
         .ret = sizeof(PIPE1) - 1, .h = {{"Host", "a"}}),
    GOOD(PIPE1 "GARBAGE\n\n", "GET", "/first", NULL, KA, .ret = sizeof(PIPE1) - 1, .nh = 1),
    GOOD(PIPE1 "\r", "GET", "/first", NULL, KA, .ret = sizeof(PIPE1) - 1, .nh = 1),
    GOOD("GET http://example.com/a/b?c=d HTTP/1.1\r\nHost: example.com\r\n\r\n", "GET", "/a/b",
         "c=d", KA | AF, .auth = "example.com", .h = {{"Host", "example.com"}}),
    GOOD("GET HTTPS://Example.COM:8443 HTTP/1.1\r\nHost: x\r\n\r\n", "GET", "/", NULL, KA | AF,
         .auth = "Example.COM:8443", .nh = 1),
    GOOD("GET http://h?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", "GET", "/", "x=1", KA | AF, .auth = "h",
         .nh = 1),
    GOOD("GET Http://h:80/p/ HTTP/1.1\r\nHost: other\r\n\r\n", "GET", "/p/", NULL, KA | AF,
         .auth = "h:80", .h = {{"Host", "other"}}),
    GOOD("GET http://[::1]:8080/ HTTP/1.1\r\nHost: x\r\n\r\n", "GET", "/", NULL, KA | AF,
         .auth = "[::1]:8080", .nh = 1),
    GOOD("GET http://a%41.b-c_~!$&'()*+,;=:/x HTTP/1.0\r\n\r\n", "GET", "/x", NULL, AF,
         .auth = "a%41.b-c_~!$&'()*+,;=:", .v10 = 1),
    GOOD("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "OPTIONS", "*", NULL, KA, .nh = 1),
    GOOD("OPTIONS /x HTTP/1.1\r\nHost: a\r\n\r\n", "OPTIONS", "/x", NULL, KA, .nh = 1),
    GOOD("GET / HTTP/1.0\r\n\r\n", "GET", "/", NULL, 0, .v10 = 1),
    GOOD("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET", "/", NULL, KA, .v10 = 1,
         .h = {{"Connection", "keep-alive"}}),
    GOOD("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", "GET", "/", NULL, KA, .v10 = 1,
         .h = {{"Connection", "Keep-Alive"}}),
    GOOD("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", "GET", "/", NULL, 0, .v10 = 1,
         .h = {{"Connection", "keep-alive, close"}}),
    GOOD("GET / HTTP/1.0\r\nConnection: keep-alive-ish\r\n\r\n", "GET", "/", NULL, 0, .v10 = 1,
         .nh = 1),
    /* RFC 9112 3.2: more than one Host line is a 400 on any version */
    BAD("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", FF_HTTP_E_HOST, 400),
    BAD("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", FF_HTTP_E_HOST, 400),
    BAD("GET / HTTP/1.1\r\nHost: user@example.com\r\n\r\n", FF_HTTP_E_HOST, 400),
    BAD("GET / HTTP/1.1\r\nHost: example.com/x\r\n\r\n", FF_HTTP_E_HOST, 400),
    GOOD("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", "GET", "/", NULL, FF_HTTP_F_KEEP_ALIVE, .nh = 1),
    GOOD("POST /f HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc", "POST", "/f", NULL, 0, .v10 = 1, CL(3),
         .ret = sizeof("POST /f HTTP/1.0\r\nContent-Length: 3\r\n\r\n") - 1,
         .h = {{"Content-Length", "3"}}),
    GOOD(RL11 HOST "Connection: close\r\n\r\n", "GET", "/", NULL, 0, .nh = 2),
    GOOD(RL11 HOST "Connection: Upgrade, CLOSE\r\n\r\n", "GET", "/", NULL, 0, .nh = 2),
    GOOD(RL11 HOST "Connection: , ,\t close ,\r\n\r\n", "GET", "/", NULL, 0, .nh = 2),
    GOOD(RL11 HOST "Connection: closed\r\n\r\n", "GET", "/", NULL, KA, .nh = 2),
    GOOD(RL11 HOST "Connection: keep-alive\r\nConnection: close\r\n\r\n", "GET", "/", NULL, 0,
         .nh = 3),
    GOOD("\r\n" RL11 HOST END, "GET", "/", NULL, KA, .nh = 1),
    GOOD("\r\n\r\n\r\n\r\n" RL11 HOST END, "GET", "/", NULL, KA, .nh = 1),
    GOOD(RL11 "X-Name: caf\xc3\xa9\r\n" HOST END, "GET", "/", NULL, KA,
         .h = {{"X-Name", "caf\xc3\xa9"}, {"Host", "example.org"}}),
    GOOD(RL11 "X-Bin: \x80\xff\xfe\r\n" HOST END, "GET", "/", NULL, KA,
         .h = {{"X-Bin", "\x80\xff\xfe"}, {"Host", "example.org"}}),
    GOOD(RL11 "X-T:\tvalue\twith\ttabs\t\r\n" HOST END, "GET", "/", NULL, KA,
         .h = {{"X-T", "value\twith\ttabs"}, {"Host", "example.org"}}),
    GOOD(RL11 "X-Empty:\r\n" HOST END, "GET", "/", NULL, KA,
         .h = {{"X-Empty", ""}, {"Host", "example.org"}}),
    GOOD(RL11 "X-Blank:  \t \r\n" HOST END, "GET", "/", NULL, KA,
         .h = {{"X-Blank", ""}, {"Host", "example.org"}}),
    GOOD(RL11 "X-A:   spaced  out   \r\n" HOST END, "GET", "/", NULL, KA,
         .h = {{"X-A", "spaced  out"}, {"Host", "example.org"}}),
    GOOD(RL11 "X-Colon: a:b::c\r\nReferer: http://x/y?z\r\n" HOST END, "GET", "/", NULL, KA,
         .h = {{"X-Colon", "a:b::c"}, {"Referer", "http://x/y?z"}, {"Host", "example.org"}}),
    GOOD(RL11 "X-V: !\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~\r\n" HOST END, "GET", "/", NULL, KA,
         .h = {{"X-V", "!\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~"}, {"Host", "example.org"}}),
    GOOD(RL11 "!#$%&'*+-.^_`|~09azAZ: tchar\r\n" HOST END, "GET", "/", NULL, KA,
         .h = {{"!#$%&'*+-.^_`|~09azAZ", "tchar"}, {"Host", "example.org"}}),
    GOOD(RL11 "Host:\r\n\r\n", "GET", "/", NULL, KA, .h = {{"Host", ""}}),
    GOOD(RL11 "HOST: Upper\r\n\r\n", "GET", "/", NULL, KA, .h = {{"HOST", "Upper"}}),
    GOOD(RL11 "Host: a\r\n" H15 END, "GET", "/", NULL, KA, .nh = 16,
         .h = {{"Host", "a"}, {"A", "1"}, {"B", "2"}}),
    GOOD("PUT /d HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", "PUT",
         "/d", NULL, KA | EC, CL(5),
         .h = {{"Host", "a"}, {"Content-Length", "5"}, {"Expect", "100-continue"}}),
    GOOD("PUT /d HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nTransfer-Encoding: chunked\r\n\r\n",
         "PUT", "/d", NULL, KA | EC | CH, .nh = 3),
    GOOD("PUT /d HTTP/1.1\r\nHost: a\r\nExpect: something-else\r\n\r\n", "PUT", "/d", NULL, KA,
         .nh = 2),
    GOOD("PUT /d HTTP/1.1\r\nHost: a\r\nExpect: 100-continuex\r\n\r\n", "PUT", "/d", NULL, KA,
         .nh = 2),
    GOOD("PUT /d HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", "PUT", "/d", NULL, 0,
         .v10 = 1, CL(1), .nh = 2),
    GOOD(RL11 HOST "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", "GET", "/", NULL, KA, CL(5),
         .nh = 3),
    GOOD(RL11 HOST "Content-Length: 5, 5\r\n\r\n", "GET", "/", NULL, KA, CL(5), .nh = 2),
    GOOD(RL11 HOST "Content-Length: 7,7,\t7\r\nContent-Length: 7\r\n\r\n", "GET", "/", NULL, KA, CL(7),
         .nh = 3),
    GOOD(RL11 HOST "Content-Length: 0\r\n\r\n", "GET", "/", NULL, KA, CL(0), .nh = 2),
    GOOD(RL11 HOST "content-LENGTH: 00042\r\n\r\n", "GET", "/", NULL, KA, CL(42), .nh = 2),
    GOOD(RL11 HOST "Content-Length: 100\r\n\r\n", "GET", "/", NULL, KA, CL(100), .nh = 2,
         .lim = &L_BODY),
    GOOD(RL11 HOST "Content-Length: 999999999999999999\r\n\r\n", "GET", "/", NULL, KA,
         CL(999999999999999999LL), .nh = 2, .lim = &L_HUGE_BODY),
    GOOD(RL11 HOST "Content-Length: 000000000000000042\r\n\r\n", "GET", "/", NULL, KA, CL(42),
         .nh = 2, .lim = &L_HUGE_BODY),
    GOOD("M-SEARCH /ssdp HTTP/1.1\r\nHost: a\r\n\r\n", "M-SEARCH", "/ssdp", NULL, KA, .nh = 1),
    GOOD("PROPFIND /dav HTTP/1.1\r\nHost: a\r\n\r\n", "PROPFIND", "/dav", NULL, KA, .nh = 1),
    GOOD("get / HTTP/1.1\r\nHost: a\r\n\r\n", "get", "/", NULL, KA, .nh = 1),
    GOOD("!#$%&'*+-.^_`|~09azAZ / HTTP/1.1\r\nHost: a\r\n\r\n", "!#$%&'*+-.^_`|~09azAZ", "/", NULL,
         KA, .nh = 1),
    GOOD("GET /abcdefghij HTTP/1.1\r\nHost: a\r\n\r\n", "GET", "/abcdefghij", NULL, KA, .lim = &L_RL,
         .nh = 1),
    GOOD(RL11 "Host: a\r\nX: 0123456789abcdef0123456789abcdef\r\n\r\n", "GET", "/", NULL, KA,
         .nh = 2,
         .lim = &L_HB),
    GOOD("GET / HTTP/1.0\r\n\r\n", "GET", "/", NULL, 0, .v10 = 1, .lim = &L_NONE),
    GOOD(RL11 "Host: a\r\nX: 1\r\n\r\n", "GET", "/", NULL, KA, .nh = 2, .lim = &L_FEW),
    GOOD("DELETE /items/42 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer x.y.z\r\n\r\n", "DELETE",
         "/items/42", NULL, KA, .h = {{"Host", "a"}, {"Authorization", "Bearer x.y.z"}}),
    GOOD("GET / HTTP/1.1\r\nHost: a\r\nX-Long-Name-With-Many-Dashes-0123456789: v\r\n\r\n", "GET", "/",
         NULL, KA, .h = {{"Host", "a"}, {"X-Long-Name-With-Many-Dashes-0123456789", "v"}}),
    GOOD(RL11 HOST "Transfer-Encodings: gzip\r\nContent-Lengths: x\r\n\r\n", "GET", "/", NULL, KA,
         .nh = 3),
    /* ----------------------------------------------------------- incomplete */
    MORE(""),
    MORE("\r"),
    MORE("\r\n"),
    MORE("\r\n\r\n\r\n\r\n\r"),
    MORE("GET"),
    MORE("GET / HTTP/1.1"),
    MORE("GET / HTTP/1.1\r"),
    MORE(RL11 "Host: a\r\n"),
    MORE(RL11 "Host: a\r\n\r"),
    MORE(RL11 "Host: a\n\r"),
    MORE("G@T / HTTP/1.1\r\nHost: a\r\n"),
    MORE(RL11 "Host: a\r\n\rX\r\n"),
    MORE("GET /abcdefghij HTTP/1.1", .lim = &L_RL),
    MORE("GET /abcdefghij HTTP/1.1\r", .lim = &L_RL),
    MORE(RL11 "Host: a\r\nX: 0123456789abcdef0123456789abcdef012", .lim = &L_HB),
    /* --------------------------------------------------------- request line */
    BAD("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_REQUEST_LINE, 400),
    BAD(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_REQUEST_LINE, 400),
    BAD("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_REQUEST_LINE, 400),
    BAD("GET /\tHTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_REQUEST_LINE, 400),
    BAD("GET /\r\n\r\n", FF_HTTP_E_REQUEST_LINE, 400),
    BAD("GET\r\n\r\n", FF_HTTP_E_REQUEST_LINE, 400),
    BAD("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", FF_HTTP_E_REQUEST_LINE, 400),
    BAD("GET / http/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_REQUEST_LINE, 400),
    BAD("GET / HTTP/11\r\nHost: a\r\n\r\n", FF_HTTP_E_REQUEST_LINE, 400),
    BAD("GET / HTTP/1.10\r\nHost: a\r\n\r\n", FF_HTTP_E_REQUEST_LINE, 400),
    BAD("GET / HTTP/1.1x\r\nHost: a\r\n\r\n", FF_HTTP_E_REQUEST_LINE, 400),
    BAD("GET / HTTP/1\r\n\r\n", FF_HTTP_E_REQUEST_LINE, 400),
    BAD("GET / \r\n\r\n", FF_HTTP_E_REQUEST_LINE, 400),
    BAD("\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_REQUEST_LINE, 400),
    BAD("\r\n\r\n\r\n\r\n\r\n", FF_HTTP_E_REQUEST_LINE, 400),
    /* --------------------------------------------------------------- method */
    BAD("G@T / HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_METHOD, 400),
    BAD("GET(x) / HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_METHOD, 400),
    BAD("\x7fGET / HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_METHOD, 400),
    BAD("GE\0T / HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_METHOD, 400),
    BAD("G\xc3\x89T / HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_METHOD, 400),
    BAD("/ HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_METHOD, 400),
    /* --------------------------------------------------------------- target */
    BAD("GET /a\x01" "b HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_TARGET, 400),
    BAD("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_TARGET, 400),
    BAD("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_TARGET, 400),
    BAD("GET /a\x7f" "b HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_TARGET, 400),
    BAD("GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_TARGET, 400),
    BAD("GET * HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_TARGET, 400),
    BAD("OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_TARGET, 400),
    BAD("options * HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_TARGET, 400),
    BAD("M-SEARCH * HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_TARGET, 400),
    BAD("GET foo HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_TARGET, 400),
    BAD("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", FF_HTTP_E_TARGET, 400),
    BAD("GET http:// HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_TARGET, 400),
    BAD("GET http:///path HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_TARGET, 400),
    BAD("GET https://?q HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_TARGET, 400),
    BAD("GET http://user:pw@host/ HTTP/1.1\r\nHost: host\r\n\r\n", FF_HTTP_E_TARGET, 400),
    BAD("GET ftp://host/ HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_TARGET, 400),
    BAD("GET http:/host/ HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_TARGET, 400),
    /* the authority replaces Host, so it is held to Host's characters */
    BAD("GET http://ex\"ample/ HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_TARGET, 400),
    BAD("GET http://ex<a>/ HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_TARGET, 400),
    BAD("GET http://{x}/ HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_TARGET, 400),
    BAD("GET http://a\\b/ HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_TARGET, 400),
    /* -------------------------------------------------------------- version */
    BAD("GET / HTTP/2.0\r\nHost: a\r\n\r\n", FF_HTTP_E_VERSION, 505),
    BAD("GET / HTTP/1.2\r\nHost: a\r\n\r\n", FF_HTTP_E_VERSION, 505),
    BAD("GET / HTTP/0.9\r\n\r\n", FF_HTTP_E_VERSION, 505),
    BAD("GET / HTTP/3.1\r\nHost: a\r\n\r\n", FF_HTTP_E_VERSION, 505),
    /* ---------------------------------------------------------------- 414 */
    BAD("GET /abcdefghijk HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_URI_TOO_LONG, 414, .lim = &L_RL),
    BAD("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", FF_HTTP_E_URI_TOO_LONG, 414, .lim = &L_RL),
    BAD("GET /abcdefghijk HTTP/1.1", FF_HTTP_E_URI_TOO_LONG, 414, .lim = &L_RL),
    BAD("\r\n\r\nGET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", FF_HTTP_E_URI_TOO_LONG, 414, .lim = &L_RL),
    BAD("G@T /aaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\n\r\n", FF_HTTP_E_URI_TOO_LONG, 414, .lim = &L_RL),
    BAD("GET /aaaaaaaaaaaaaaaaaaaa HTTP/1.1\n\n", FF_HTTP_E_URI_TOO_LONG, 414, .lim = &L_RL),
    BAD("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", FF_HTTP_E_URI_TOO_LONG, 414,
        .lim = &L_TIE),
    /* ---------------------------------------------------------------- 431 */
    BAD(RL11 "Host: a\r\nX: 0123456789abcdef0123456789abcdef0\r\n\r\n", FF_HTTP_E_HEADERS_TOO_LARGE,
        431, .lim = &L_HB),
    BAD(RL11 "Host: a\r\nX: 0123456789abcdef0123456789abcdef0123", FF_HTTP_E_HEADERS_TOO_LARGE, 431,
        .lim = &L_HB),
    BAD(RL11 "Host: a\r\nX: 0123456789abcdef0123456789abcdef0123456789abcdef",
        FF_HTTP_E_HEADERS_TOO_LARGE, 431, .lim = &L_HB),
    BAD(RL11 "Host: a\r\nX: 0123456789abcdef0123456789abcdef0123456789abcdef\n\n",
        FF_HTTP_E_HEADERS_TOO_LARGE, 431, .lim = &L_HB),
    BAD("GET /0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef HTTP/1.1",
        FF_HTTP_E_HEADERS_TOO_LARGE, 431, .lim = &L_HB),
    BAD("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", FF_HTTP_E_HEADERS_TOO_LARGE, 431,
        .lim = &L_HB_FIRST),
    BAD(RL11 "Host: a\r\n\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r"
             "\r\r\r\r\r",
        FF_HTTP_E_HEADERS_TOO_LARGE, 431, .lim = &L_HB),
    BAD(RL11 "Host: a\r\n" H15 "P: 16\r\n\r\n", FF_HTTP_E_TOO_MANY_HEADERS, 431),
    BAD(RL11 "Host: a\r\nX: 1\r\nY: 2\r\n\r\n", FF_HTTP_E_TOO_MANY_HEADERS, 431, .lim = &L_FEW),
    BAD(RL11 "Host: a\r\nX: 1\r\nY: \0\r\n\r\n", FF_HTTP_E_TOO_MANY_HEADERS, 431, .lim = &L_FEW),
    BAD("GET / HTTP/1.0\r\nHost: a\r\n\r\n", FF_HTTP_E_TOO_MANY_HEADERS, 431, .lim = &L_NONE),
    /* ---------------------------------------------------------- field names */
    BAD(RL11 ": value\r\nHost: a\r\n\r\n", FF_HTTP_E_HEADER_NAME, 400),
    BAD(RL11 "Na(me: v\r\nHost: a\r\n\r\n", FF_HTTP_E_HEADER_NAME, 400),
    BAD(RL11 "NoColon\r\nHost: a\r\n\r\n", FF_HTTP_E_HEADER_NAME, 400),
    BAD(RL11 "Na\0me: v\r\nHost: a\r\n\r\n", FF_HTTP_E_HEADER_NAME, 400),
    BAD(RL11 "Foo Bar: v\r\nHost: a\r\n\r\n", FF_HTTP_E_HEADER_NAME, 400),
    BAD(RL11 "Caf\xc3\xa9: v\r\nHost: a\r\n\r\n", FF_HTTP_E_HEADER_NAME, 400),
    BAD(RL11 "Foo\x7f: v\r\nHost: a\r\n\r\n", FF_HTTP_E_HEADER_NAME, 400),
    BAD(RL11 "Host: a\r\n\"Q\": v\r\n\r\n", FF_HTTP_E_HEADER_NAME, 400),
    BAD(RL11 "Host: a\r\nFoo \r\n\r\n", FF_HTTP_E_HEADER_NAME, 400),
    /* --------------------------------------------------------- field values */
    BAD(RL11 "X: a\0b\r\nHost: a\r\n\r\n", FF_HTTP_E_HEADER_VALUE, 400),
    BAD(RL11 "X: a\x01" "b\r\nHost: a\r\n\r\n", FF_HTTP_E_HEADER_VALUE, 400),
    BAD(RL11 "X: a\x7f" "b\r\nHost: a\r\n\r\n", FF_HTTP_E_HEADER_VALUE, 400),
    BAD(RL11 "X: \x1b[31mred\r\nHost: a\r\n\r\n", FF_HTTP_E_HEADER_VALUE, 400),
    BAD(RL11 "Host: a\r\nX:\v\r\n\r\n", FF_HTTP_E_HEADER_VALUE, 400),
    /* ------------------------------------------------------------- obs-fold */
    BAD(RL11 "X: a\r\n  continued\r\nHost: a\r\n\r\n", FF_HTTP_E_OBS_FOLD, 400),
    BAD(RL11 "Host: a\r\nX: a\r\n\tcontinued\r\n\r\n", FF_HTTP_E_OBS_FOLD, 400),
    BAD(RL11 " Host: a\r\n\r\n", FF_HTTP_E_OBS_FOLD, 400),
    /* --------------------------------------------- whitespace before colon */
    BAD(RL11 "Host : a\r\n\r\n", FF_HTTP_E_SPACE_BEFORE_COLON, 400),
    BAD(RL11 "Host: a\r\nContent-Length\t: 5\r\n\r\n", FF_HTTP_E_SPACE_BEFORE_COLON, 400),
    BAD(RL11 "Host: a\r\nX \t :y\r\n\r\n", FF_HTTP_E_SPACE_BEFORE_COLON, 400),
    /* -------------------------------------------------------------- bare CR */
    BAD("GET / HTTP/1.1\rHost: a\r\n\r\n", FF_HTTP_E_BARE_CR, 400),
    BAD(RL11 "X: a\rb\r\nHost: a\r\n\r\n", FF_HTTP_E_BARE_CR, 400),
    BAD("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_BARE_CR, 400),
    BAD("\r\n\rGET / HTTP/1.1\r\n", FF_HTTP_E_BARE_CR, 400),
    BAD(RL11 "Host: a\r\n\r\r\n\r\n", FF_HTTP_E_BARE_CR, 400),
    BAD("GE\rT / HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_BARE_CR, 400),
    BAD("GET /\rx HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_BARE_CR, 400),
    BAD("GET / HTTP/1.1\r\nHost: a\r\nNa\rme: v\r\n\r\n", FF_HTTP_E_BARE_CR, 400),
    BAD("GET / HTTP\r/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_BARE_CR, 400),
    /* -------------------------------------------------------------- bare LF */
    BAD("GET / HTTP/1.1\nHost: a\n\n", FF_HTTP_E_BARE_LF, 400),
    BAD(RL11 "Host: a\n\r\n", FF_HTTP_E_BARE_LF, 400),
    BAD("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", FF_HTTP_E_BARE_LF, 400),
    BAD("\r\n\nGET", FF_HTTP_E_BARE_LF, 400),
    BAD(RL11 "Host: a\r\n\n", FF_HTTP_E_BARE_LF, 400),
    BAD(RL11 "Host: a\r\nX\n\r\n", FF_HTTP_E_BARE_LF, 400),
    BAD("GET /\n\n", FF_HTTP_E_BARE_LF, 400),
    BAD("GET / HTTP/1.1\r\nHost: a\r\nX: 1\nY: 2\r\n\r\n", FF_HTTP_E_BARE_LF, 400),
    /* ------------------------------------------------------- Content-Length */
    BAD(RL11 HOST "Content-Length: abc\r\n\r\n", FF_HTTP_E_CONTENT_LENGTH, 400),
    BAD(RL11 HOST "Content-Length: -1\r\n\r\n", FF_HTTP_E_CONTENT_LENGTH, 400),
    BAD(RL11 HOST "Content-Length: +5\r\n\r\n", FF_HTTP_E_CONTENT_LENGTH, 400),
    BAD(RL11 HOST "Content-Length: 5, 6\r\n\r\n", FF_HTTP_E_CONTENT_LENGTH, 400),
    BAD(RL11 HOST "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", FF_HTTP_E_CONTENT_LENGTH, 400),
    BAD(RL11 HOST "Content-Length:\r\n\r\n", FF_HTTP_E_CONTENT_LENGTH, 400),
    BAD(RL11 HOST "Content-Length: 0000000000000000005\r\n\r\n", FF_HTTP_E_CONTENT_LENGTH, 400),
    BAD(RL11 HOST "Content-Length: 99999999999999999999\r\n\r\n", FF_HTTP_E_CONTENT_LENGTH, 400),
    BAD(RL11 HOST "Content-Length: 5,,5\r\n\r\n", FF_HTTP_E_CONTENT_LENGTH, 400),
    BAD(RL11 HOST "Content-Length: 5,\r\n\r\n", FF_HTTP_E_CONTENT_LENGTH, 400),
    BAD(RL11 HOST "Content-Length: 1 2\r\n\r\n", FF_HTTP_E_CONTENT_LENGTH, 400),
    BAD(RL11 HOST "Content-Length: 0x10\r\n\r\n", FF_HTTP_E_CONTENT_LENGTH, 400),
    BAD(RL11 HOST "Content-Length: 5\r\ncontent-length: 5, 05, 6\r\n\r\n", FF_HTTP_E_CONTENT_LENGTH,
        400),
    /* --------------------------------------------------- framing conflicts */
    BAD(RL11 HOST "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", FF_HTTP_E_CL_AND_TE, 400),
    BAD(RL11 HOST "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", FF_HTTP_E_CL_AND_TE, 400),
    BAD(RL11 HOST "Transfer-Encoding: gzip\r\n\r\n", FF_HTTP_E_TRANSFER_ENCODING, 400),
    BAD(RL11 HOST "Transfer-Encoding: chunked, gzip\r\n\r\n", FF_HTTP_E_TRANSFER_ENCODING, 400),
    BAD(RL11 HOST "Transfer-Encoding: chunked, chunked\r\n\r\n", FF_HTTP_E_TRANSFER_ENCODING, 400),
    BAD(RL11 HOST "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        FF_HTTP_E_TRANSFER_ENCODING, 400),
    BAD(RL11 HOST "Transfer-Encoding: gzip, chunked, chunked\r\n\r\n", FF_HTTP_E_TRANSFER_ENCODING,
        400),
    BAD("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", FF_HTTP_E_TRANSFER_ENCODING, 400),
    BAD(RL11 HOST "Transfer-Encoding: chunked;q=1\r\n\r\n", FF_HTTP_E_TRANSFER_ENCODING, 400),
    BAD(RL11 HOST "Transfer-Encoding: \"chunked\"\r\n\r\n", FF_HTTP_E_TRANSFER_ENCODING, 400),
    BAD(RL11 HOST "Transfer-Encoding:\r\n\r\n", FF_HTTP_E_TRANSFER_ENCODING, 400),
    BAD(RL11 HOST "Transfer-Encoding: xchunked\r\n\r\n", FF_HTTP_E_TRANSFER_ENCODING, 400),
    BAD(RL11 HOST "Transfer-Encoding: gzip, chunked\r\n\r\n", FF_HTTP_E_TE_NOT_IMPLEMENTED, 501),
    BAD(RL11 HOST "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
        FF_HTTP_E_TE_NOT_IMPLEMENTED, 501),
    BAD(RL11 HOST "Transfer-Encoding: deflate ,\tCHUNKED\r\n\r\n", FF_HTTP_E_TE_NOT_IMPLEMENTED, 501),
    /* ----------------------------------------------------------------- Host */
    BAD(RL11 "\r\n", FF_HTTP_E_HOST, 400),
    BAD(RL11 "X-Host: a\r\n\r\n", FF_HTTP_E_HOST, 400),
    BAD(RL11 "Host: a\r\nHost: a\r\n\r\n", FF_HTTP_E_HOST, 400),
    BAD("GET http://a/ HTTP/1.1\r\n\r\n", FF_HTTP_E_HOST, 400),
    /* ---------------------------------------------------------------- 413 */
    BAD(RL11 HOST "Content-Length: 1000001\r\n\r\n", FF_HTTP_E_BODY_TOO_LARGE, 413),
    BAD(RL11 HOST "Content-Length: 101\r\n\r\n", FF_HTTP_E_BODY_TOO_LARGE, 413, .lim = &L_BODY),
    BAD(RL11 HOST "Content-Length: 999999999999999999\r\n\r\n", FF_HTTP_E_BODY_TOO_LARGE, 413),
};

#define NVEC (sizeof(vectors) / sizeof(vectors[0]))

static int in_range(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && p + n <= buf + len;
}

static int same(const char *p, size_t n, const char *want)
{
    return want != NULL && p != NULL && n == strlen(want) && memcmp(p, want, n) == 0;
}

/* Checks one answer against the vector: the return value and error code, and
 * for a parsed head every field of the request, with every pointer inside
 * the bytes the parser claimed to consume. */
static void check_answer(const pvec *v, const char *mode, const char *buf, ssize_t r,
                         enum ff_http_error err, const ff_http_request *req)
{
    char ctx[96];
    ssize_t want = v->err ? -1 : v->ret == ALL ? (ssize_t)v->len : v->ret;
    size_t i, listed;

    snprintf(ctx, sizeof(ctx), "vector at line %d (%s)", v->line, mode);
    CHECK_EQ_LL(r, want, ctx);
    CHECK_EQ_LL(err, v->err, ctx);
    if (r < 0 || r != want)
        return;

    CHECK(same(req->method, req->method_len, v->method), "%s: method", ctx);
    CHECK(in_range(req->method, req->method_len, buf, (size_t)r), "%s: method pointer", ctx);
    CHECK(in_range(req->target, req->target_len, buf, (size_t)r), "%s: target pointer", ctx);
    CHECK(same(req->path, req->path_len, v->path), "%s: path '%.*s'", ctx, (int)req->path_len,
          req->path);
    CHECK(in_range(req->path, req->path_len, buf, (size_t)r) ||
              ((req->flags & FF_HTTP_F_ABSOLUTE_FORM) && req->path_len == 1 && *req->path == '/'),
          "%s: path pointer", ctx);
    if (v->query == NULL) {
        CHECK(req->query == NULL && req->query_len == 0, "%s: query should be absent", ctx);
    } else {
        CHECK(same(req->query, req->query_len, v->query), "%s: query '%.*s'", ctx,
              (int)req->query_len, req->query ? req->query : "");
        CHECK(in_range(req->query, req->query_len, buf, (size_t)r), "%s: query pointer", ctx);
    }
    if (v->flags & AF) {
        CHECK(same(req->authority, req->authority_len, v->auth), "%s: authority '%.*s'", ctx,
              (int)req->authority_len, req->authority ? req->authority : "");
        CHECK(in_range(req->authority, req->authority_len, buf, (size_t)r), "%s: authority pointer",
              ctx);
    } else {
        CHECK(req->authority == NULL && req->authority_len == 0, "%s: authority should be absent",
              ctx);
    }
    CHECK_EQ_LL(req->version_minor, v->v10 ? 0 : 1, ctx);
    CHECK_EQ_LL(req->content_length, v->has_cl ? v->cl : -1, ctx);
    CHECK_EQ_LL(req->flags, v->flags, ctx);

    for (listed = 0; listed < 5 && v->h[listed].n; listed++)
        ;
    CHECK_EQ_LL(req->num_headers, v->nh ? (size_t)v->nh : listed, ctx);
    for (i = 0; i < req->num_headers; i++) {
        const ff_http_header *h = &req->headers[i];
        CHECK(in_range(h->name, h->name_len, buf, (size_t)r) &&
                  in_range(h->value, h->value_len, buf, (size_t)r),
              "%s: header %zu pointers", ctx, i);
        if (i < listed) {
            CHECK(same(h->name, h->name_len, v->h[i].n), "%s: header %zu name '%.*s'", ctx, i,
                  (int)h->name_len, h->name);
            CHECK(same(h->value, h->value_len, v->h[i].v), "%s: header %zu value '%.*s'", ctx, i,
                  (int)h->value_len, h->value);
        }
    }
}

typedef struct {
    const pvec *v;
    const ff_http_limits *lim;
    th_guard g;
    ff_http_header *headers;
} runner;

/* Parses in[0..n) placed at the guard page. */
static ssize_t parse_at_guard(runner *rn, size_t n, size_t prev, const char **bufp,
                              ff_http_request *req, enum ff_http_error *err)
{
    *bufp = th_guard_place(&rn->g, rn->v->in, n);
    return ff_http_parse_request(*bufp, n, prev, rn->lim, req, rn->headers, err);
}

static void run_vector(const pvec *v, uint64_t *seed)
{
    runner rn = {.v = v, .lim = v->lim ? v->lim : &L_DEF};
    ff_http_request req;
    enum ff_http_error err;
    const char *buf;
    ssize_t r;
    size_t p, prev, first, i, k, cuts[8];
    int split;
    char mode[64];

    th_guard_init(&rn.g, v->len);
    /* Exactly max_headers entries, so that ASan and valgrind see any write
     * past the caller's array. */
    rn.headers = malloc(sizeof(ff_http_header) * (rn.lim->max_headers ? rn.lim->max_headers : 1));

    /* Whole. */
    r = parse_at_guard(&rn, v->len, 0, &buf, &req, &err);
    check_answer(v, "whole", buf, r, err, &req);

    /* One byte at a time, prev_len protocol. first = the length at which the
     * answer became certain. */
    first = v->len + 1;
    for (prev = 0, p = 0; p <= v->len; p++) {
        r = parse_at_guard(&rn, p, prev, &buf, &req, &err);
        if (r == -2) {
            prev = p;
            continue;
        }
        first = p;
        check_answer(v, "byte by byte", buf, r, err, &req);
        break;
    }
    if (first > v->len)
        check_answer(v, "byte by byte, at end", buf, r, err, &req);
    if (v->err == FF_HTTP_OK && v->ret != -2)
        CHECK_EQ_LL(first, v->ret == ALL ? (ssize_t)v->len : v->ret, "complete exactly at the head's end");

    /* Every prefix parsed afresh: -2 before `first`, the answer from there on. */
    for (p = 0; p <= v->len; p++) {
        r = parse_at_guard(&rn, p, 0, &buf, &req, &err);
        if (p < first) {
            CHECK(r == -2, "vector at line %d: fresh prefix %zu gave %zd (err %d), not -2", v->line,
                  p, r, (int)err);
        } else {
            snprintf(mode, sizeof(mode), "fresh prefix %zu", p);
            check_answer(v, mode, buf, r, err, &req);
        }
    }

    /* Random splits. */
    for (split = 0; split < 20; split++) {
        k = th_random_cuts(seed, v->len, cuts, 6);
        cuts[k++] = v->len;
        snprintf(mode, sizeof(mode), "split %d", split);
        for (prev = 0, i = 0; i < k; i++) {
            r = parse_at_guard(&rn, cuts[i], prev, &buf, &req, &err);
            if (cuts[i] < first) {
                CHECK(r == -2, "vector at line %d: %s: %zu bytes gave %zd, not -2", v->line, mode,
                      cuts[i], r);
                prev = cuts[i];
                continue;
            }
            check_answer(v, mode, buf, r, err, &req);
            break;
        }
    }

    free(rn.headers);
    th_guard_free(&rn.g);
}

/* Every parser error code must be exercised by at least one vector, with
 * the status that code is documented to map to. */
static void check_coverage(void)
{
    static const int documented[FF_HTTP_E__COUNT] = {
        [FF_HTTP_E_REQUEST_LINE] = 400,      [FF_HTTP_E_METHOD] = 400,
        [FF_HTTP_E_TARGET] = 400,            [FF_HTTP_E_VERSION] = 505,
        [FF_HTTP_E_URI_TOO_LONG] = 414,      [FF_HTTP_E_HEADERS_TOO_LARGE] = 431,
        [FF_HTTP_E_TOO_MANY_HEADERS] = 431,  [FF_HTTP_E_HEADER_NAME] = 400,
        [FF_HTTP_E_HEADER_VALUE] = 400,      [FF_HTTP_E_OBS_FOLD] = 400,
        [FF_HTTP_E_SPACE_BEFORE_COLON] = 400, [FF_HTTP_E_BARE_CR] = 400,
        [FF_HTTP_E_BARE_LF] = 400,           [FF_HTTP_E_CONTENT_LENGTH] = 400,
        [FF_HTTP_E_CL_AND_TE] = 400,         [FF_HTTP_E_TRANSFER_ENCODING] = 400,
        [FF_HTTP_E_TE_NOT_IMPLEMENTED] = 501, [FF_HTTP_E_HOST] = 400,
        [FF_HTTP_E_BODY_TOO_LARGE] = 413,    [FF_HTTP_E_CHUNK_SIZE] = 400,
        [FF_HTTP_E_CHUNK_EXT] = 400,         [FF_HTTP_E_CHUNK_FRAMING] = 400,
        [FF_HTTP_E_TRAILER] = 400,
    };
    int seen[FF_HTTP_E__COUNT] = {0};
    size_t i;
    int e;

    for (i = 0; i < NVEC; i++) {
        if (vectors[i].err) {
            seen[vectors[i].err] = 1;
            CHECK(ff_http_error_status(vectors[i].err) == vectors[i].status,
                  "vector at line %d: status %d, expected %d", vectors[i].line,
                  ff_http_error_status(vectors[i].err), vectors[i].status);
        }
    }
    for (e = FF_HTTP_E_REQUEST_LINE; e <= FF_HTTP_E_BODY_TOO_LARGE; e++)
        CHECK(seen[e], "no vector for error %d (%s)", e, ff_http_error_text((enum ff_http_error)e));
    for (e = 1; e < FF_HTTP_E__COUNT; e++) {
        const char *t = ff_http_error_text((enum ff_http_error)e);
        CHECK(ff_http_error_status((enum ff_http_error)e) == documented[e], "status of error %d", e);
        CHECK(t != NULL && *t != '\0', "text of error %d", e);
    }
    CHECK(ff_http_error_status(FF_HTTP_E__COUNT) == 400, "out-of-range error maps to 400");
    CHECK(ff_http_error_text(FF_HTTP_E__COUNT) != NULL, "out-of-range error has a text");
}

/* A head far larger than the test vectors, fed in small pieces: checks the
 * prev_len re-entry on a realistic size and that a stale prev_len larger than
 * len is harmless. */
static void check_large_head(void)
{
    static const ff_http_limits lim = {8192, 1 << 20, 200, 1000, 32};
    ff_http_header headers[200];
    ff_http_request req;
    enum ff_http_error err;
    char *buf = malloc(1 << 16);
    size_t n = 0, prev = 0, p;
    ssize_t r = -2;
    int i;

    n += (size_t)sprintf(buf + n, "GET /big HTTP/1.1\r\nHost: h\r\n");
    for (i = 0; i < 199; i++)
        n += (size_t)sprintf(buf + n, "X-Field-%03d: value %d with some words in it\r\n", i, i);
    n += (size_t)sprintf(buf + n, "\r\n");
    for (p = 7; p < n + 7; p += 7) {
        size_t len = p < n ? p : n;
        r = ff_http_parse_request(buf, len, prev, &lim, &req, headers, &err);
        if (r != -2)
            break;
        prev = len;
    }
    CHECK_EQ_LL(r, n, "large head in 7-byte steps");
    CHECK_EQ_LL(req.num_headers, 200, "large head");
    r = ff_http_parse_request(buf, n, n + 100, &lim, &req, headers, &err);
    CHECK_EQ_LL(r, n, "prev_len beyond len");
    free(buf);
}

int main(void)
{
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    size_t i;

    for (i = 0; i < NVEC; i++)
        run_vector(&vectors[i], &seed);
    check_coverage();
    check_large_head();
    printf("test_parse: %zu vectors\n", NVEC);
    return th_summary("test_parse");
}
