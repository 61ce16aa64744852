/* tests/c/http/test_response.c — unit tests of http/response.c: status
 * lines, the cached Date header, Content-Length and Connection as the
 * version and keep-alive call for, and whole error responses. */
#include "harness.h"

#include "http/response.h"

static int has(const ff_buf *b, const char *s)
{
    size_t n = strlen(s), used = ff_buf_used(b);
    for (size_t i = 0; i + n <= used; i++)
        if (memcmp(b->data + b->off + i, s, n) == 0)
            return 1;
    return 0;
}

int main(void)
{
    ff_date_cache d = {0};
    ff_date_update(&d, 784111777); /* RFC 9110's example instant */
    CHECK(d.len == strlen("Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n") &&
              memcmp(d.line, "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n", d.len) == 0,
          "IMF-fixdate: %.*s", (int)d.len, d.line);
    CHECK(strcmp(ff_status_reason(404), "Not Found") == 0 &&
              strcmp(ff_status_reason(422), "Unprocessable Content") == 0, "reasons");
    /* every status the server itself sends, and the registered ones a handler may choose */
    static const int known[] = {101, 200, 201, 204, 206, 304, 400, 401, 403, 404, 405, 408,
                                413, 414, 416, 418, 422, 426, 429, 431, 500, 501, 503, 504};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        CHECK(strcmp(ff_status_reason(known[i]), "Unknown") != 0, "a reason for %d", known[i]);
    CHECK(strcmp(ff_status_reason(299), "Unknown") == 0, "unregistered: Unknown");

    ff_buf b = {0};
    CHECK(ff_response_begin(&b, 201, NULL, 0, &d) == 0 &&
              ff_response_finish_head(&b, "application/json", 2, 1, 0) == 0 &&
              ff_buf_append(&b, "{}", 2) == 0, "write");
    CHECK(ff_buf_used(&b) > 12 && memcmp(b.data, "HTTP/1.1 201 Created\r\n", 22) == 0, "status line");
    CHECK(has(&b, "Content-Type: application/json\r\n") && has(&b, "Content-Length: 2\r\n") &&
              has(&b, "Date: Sun, 06 Nov 1994") && !has(&b, "Connection:"), "HTTP/1.1 keep-alive head");
    CHECK(has(&b, "\r\n\r\n{}"), "blank line then body");

    b.off = b.len = 0;
    CHECK(ff_response_begin(&b, 200, "Fine", 4, &d) == 0 &&
              ff_response_finish_head(&b, NULL, (size_t)-1, 0, 0) == 0, "no length");
    CHECK(memcmp(b.data, "HTTP/1.1 200 Fine\r\n", 19) == 0 && !has(&b, "Content-Length") &&
              has(&b, "Connection: close\r\n"), "own reason, close, no length");

    b.off = b.len = 0;
    CHECK(ff_response_begin(&b, 200, NULL, 0, &d) == 0 &&
              ff_response_finish_head(&b, NULL, 0, 1, 1) == 0, "1.0 keep-alive");
    CHECK(has(&b, "Connection: keep-alive\r\n"), "HTTP/1.0 keep-alive is said");

    b.off = b.len = 0;
    CHECK(ff_response_error(&b, 413, "too \"big\"", &d, 0, 0, 0) == 0, "error response");
    CHECK(memcmp(b.data, "HTTP/1.1 413 ", 13) == 0 && has(&b, "{\"detail\":\"too \\\"big\\\"\"}"),
          "JSON detail, escaped");
    b.off = b.len = 0;
    CHECK(ff_response_error(&b, 404, "Not Found", &d, 1, 0, 1) == 0, "HEAD error");
    CHECK(has(&b, "Content-Length: 22\r\n") && has(&b, "\r\n\r\n") &&
              b.data[b.len - 1] == '\n', "a HEAD answer has the length but no body");
    ff_buf_free(&b);
    return th_summary("test_response");
}
