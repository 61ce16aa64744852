/* tests/c/http/test_router.c — unit tests of http/router.c: literal segments
 * win over captures with backtracking, captures come back in pattern order
 * and still percent-encoded, a path with other methods answers BAD_METHOD
 * with the allowed set, and bad patterns are refused with a message. */
#include "harness.h"

#include "http/router.h"

static int match(const ff_router *r, enum ff_method m, const char *path, int *id, ff_slice *caps,
                 size_t *n, unsigned *allow)
{
    return ff_router_match(r, m, path, strlen(path), id, caps, n, allow);
}

int main(void)
{
    ff_router r;
    char err[128];
    CHECK(ff_router_init(&r) == 0, "init");
    CHECK(ff_router_add(&r, FF_M_GET, "/users/{id}", 1, err, sizeof err) == 0, "%s", err);
    CHECK(ff_router_add(&r, FF_M_GET, "/users/me", 2, err, sizeof err) == 0, "%s", err);
    CHECK(ff_router_add(&r, FF_M_GET, "/users/{id}/posts/{post}", 3, err, sizeof err) == 0, "%s",
          err);
    CHECK(ff_router_add(&r, FF_M_POST, "/users", 4, err, sizeof err) == 0, "%s", err);
    CHECK(ff_router_add(&r, FF_M_GET, "/users/me/posts/{post}", 5, err, sizeof err) == 0, "%s",
          err);
    CHECK(ff_router_add(&r, FF_M_GET, "/", 6, err, sizeof err) == 0, "%s", err);
    CHECK(ff_router_add(&r, FF_M_GET, "/users/{id}", 7, err, sizeof err) < 0 && err[0],
          "a duplicate route is refused");

    int id = -1;
    ff_slice caps[FF_ROUTE_MAX_PARAMS];
    size_t n = 0;
    unsigned allow = 0;
    CHECK(match(&r, FF_M_GET, "/users/me", &id, caps, &n, &allow) == FF_ROUTE_FOUND && id == 2 &&
              n == 0, "literal wins: id=%d", id);
    CHECK(match(&r, FF_M_GET, "/users/42", &id, caps, &n, &allow) == FF_ROUTE_FOUND && id == 1 &&
              n == 1 && caps[0].n == 2 && memcmp(caps[0].p, "42", 2) == 0, "capture");
    CHECK(match(&r, FF_M_GET, "/users/me/posts/7", &id, caps, &n, &allow) == FF_ROUTE_FOUND &&
              id == 5, "literal path with a capture after it: id=%d", id);
    /* backtracking: "me" is literal, but /users/me/posts/x/... has no literal
     * continuation for this shape, so {id} takes "me" where it must */
    CHECK(match(&r, FF_M_GET, "/users/a%20b/posts/9", &id, caps, &n, &allow) == FF_ROUTE_FOUND &&
              id == 3 && n == 2 && caps[0].n == 5 && memcmp(caps[0].p, "a%20b", 5) == 0 &&
              caps[1].n == 1 && caps[1].p[0] == '9', "two captures, still encoded");
    CHECK(match(&r, FF_M_GET, "/", &id, caps, &n, &allow) == FF_ROUTE_FOUND && id == 6, "root");
    CHECK(match(&r, FF_M_GET, "/nope", &id, caps, &n, &allow) == FF_ROUTE_NOT_FOUND, "404");
    CHECK(match(&r, FF_M_GET, "/users/1/posts", &id, caps, &n, &allow) == FF_ROUTE_NOT_FOUND,
          "a prefix of a route is not a route");
    CHECK(match(&r, FF_M_DELETE, "/users", &id, caps, &n, &allow) == FF_ROUTE_BAD_METHOD &&
              allow == (1u << FF_M_POST), "405 with Allow: POST (allow=%u)", allow);
    CHECK(ff_router_add(&r, FF_M_GET, "users", 8, err, sizeof err) < 0, "no leading slash");

    /* methods */
    CHECK(ff_method_from("PATCH", 5) == FF_M_PATCH && ff_method_from("BREW", 4) == FF_M_OTHER &&
              ff_method_from("get", 3) == FF_M_OTHER, "methods are case-sensitive tokens");
    CHECK(strcmp(ff_method_name(FF_M_OPTIONS), "OPTIONS") == 0, "method name");

    /* percent decoding, in place */
    char buf[32];
    strcpy(buf, "a%20b%2Fc%e2%82%ac");
    long dn = ff_percent_decode(buf, buf, strlen(buf));
    CHECK(dn == 8 && memcmp(buf, "a b/c\xe2\x82\xac", 8) == 0, "decoded %ld", dn);
    CHECK(ff_percent_decode(buf, "%zz", 3) < 0 && ff_percent_decode(buf, "%2", 2) < 0,
          "malformed escapes");
    ff_router_free(&r);
    return th_summary("test_router");
}
