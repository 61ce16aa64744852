/* tests/c/http/test_cors.c — unit tests of http/cors.c: origin/method/header
 * decisions and the exact header lines of simple and preflight answers. */
#include "harness.h"

#include "http/cors.h"

static int has_line(const ff_buf *b, const char *l)
{
    size_t n = strlen(l);
    for (size_t i = 0; i + n <= b->len; i++)
        if (memcmp(b->data + i, l, n) == 0 && (i == 0 || b->data[i - 1] == '\n'))
            return 1;
    return 0;
}

#define S(x) x, strlen(x)

static void test_listed(void)
{
    const char *o[] = {"https://a.example", "http://b.example:8080"};
    const char *m[] = {"get", "POST"};
    const char *h[] = {"X-Token", "Content-Type"};
    ff_cors c;
    CHECK(ff_cors_init(&c, o, 2, m, 2, h, 2, 0, 600) == 0, "init");
    CHECK(ff_cors_origin_allowed(&c, S("https://a.example")), "listed origin");
    CHECK(!ff_cors_origin_allowed(&c, S("https://a.example.evil")), "suffix is another origin");
    CHECK(!ff_cors_origin_allowed(&c, S("https://a.exampl")), "prefix is another origin");
    CHECK(!ff_cors_origin_allowed(&c, S("null")), "null origin");
    CHECK(strcmp(c.methods_text, "GET, POST") == 0, "methods upper-cased: %s", c.methods_text);
    CHECK(strcmp(c.headers_text, "x-token, content-type, accept, accept-language, content-language") == 0,
          "headers: %s", c.headers_text);

    ff_buf b = {0};
    CHECK(ff_cors_simple_headers(&c, &b, S("https://a.example")) == 0, "simple");
    CHECK(has_line(&b, "Access-Control-Allow-Origin: https://a.example\r\n"), "echo origin");
    CHECK(has_line(&b, "Vary: Origin\r\n"), "vary");
    CHECK(!has_line(&b, "Access-Control-Allow-Credentials"), "no credentials");
    b.len = 0;
    CHECK(ff_cors_simple_headers(&c, &b, S("https://evil.example")) == 0 && b.len == 0,
          "nothing for another origin");

    const char *why;
    b.len = 0;
    CHECK(ff_cors_preflight(&c, &b, S("https://a.example"), S("POST"), S("x-token, Content-Type"),
                            &why) == 200, "preflight ok");
    CHECK(why == NULL, "no reason");
    CHECK(has_line(&b, "Access-Control-Allow-Methods: GET, POST\r\n"), "allow methods");
    CHECK(has_line(&b, "Access-Control-Max-Age: 600\r\n"), "max age");
    CHECK(has_line(&b, "Access-Control-Allow-Origin: https://a.example\r\n"), "origin");
    b.len = 0;
    CHECK(ff_cors_preflight(&c, &b, S("https://a.example"), S("DELETE"), NULL, 0, &why) == 400,
          "method refused");
    CHECK(why && strcmp(why, "Disallowed CORS method") == 0, "reason %s", why ? why : "-");
    CHECK(!has_line(&b, "Access-Control-Allow-Origin"), "refused: no Allow-Origin");
    b.len = 0;
    CHECK(ff_cors_preflight(&c, &b, S("https://a.example"), S("get"), NULL, 0, &why) == 400,
          "methods compare case-sensitively (RFC 9110 9.1)");
    b.len = 0;
    CHECK(ff_cors_preflight(&c, &b, S("https://a.example"), S("GET"), S("x-token,,x-other"),
                            &why) == 400 && strcmp(why, "Disallowed CORS headers") == 0,
          "unlisted header");
    b.len = 0;
    CHECK(ff_cors_preflight(&c, &b, S("https://z.example"), S("GET"), NULL, 0, &why) == 400 &&
              strcmp(why, "Disallowed CORS origin") == 0, "origin refused");
    b.len = 0;
    CHECK(ff_cors_preflight(&c, &b, S("https://a.example"), S("GET"), S(" , "), &why) == 200,
          "empty header list");
    ff_buf_free(&b);
    ff_cors_free(&c);
}

static void test_any(void)
{
    const char *o[] = {"*"};
    const char *m[] = {"*"};
    const char *h[] = {"*"};
    ff_cors c;
    CHECK(ff_cors_init(&c, o, 1, m, 1, h, 1, 0, 0) == 0, "init");
    ff_buf b = {0};
    CHECK(ff_cors_simple_headers(&c, &b, S("https://x")) == 0, "simple");
    CHECK(has_line(&b, "Access-Control-Allow-Origin: *\r\n"), "star");
    CHECK(!has_line(&b, "Vary:"), "no vary for *");
    const char *why;
    b.len = 0;
    CHECK(ff_cors_preflight(&c, &b, S("https://x"), S("PURGE"), S("x-a, x-b"), &why) == 200,
          "any method and header");
    CHECK(has_line(&b, "Access-Control-Allow-Headers: x-a, x-b\r\n"), "requested headers echoed");
    CHECK(has_line(&b, "Access-Control-Allow-Methods: DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT\r\n"),
          "all methods listed");
    ff_cors_free(&c);

    /* credentials: "*" may not be used, the origin is echoed */
    CHECK(ff_cors_init(&c, o, 1, m, 1, h, 1, 1, 0) == 0, "init");
    b.len = 0;
    CHECK(ff_cors_simple_headers(&c, &b, S("https://x")) == 0, "simple");
    CHECK(has_line(&b, "Access-Control-Allow-Origin: https://x\r\n"), "echoed");
    CHECK(has_line(&b, "Access-Control-Allow-Credentials: true\r\n"), "credentials");
    CHECK(has_line(&b, "Vary: Origin\r\n"), "vary");
    ff_buf_free(&b);
    ff_cors_free(&c);
}

int main(void)
{
    test_listed();
    test_any();
    return th_summary("http/cors");
}
