/* tests/c/http/test_forwarded.c — unit tests of http/forwarded.c: trusted
 * proxy lists (gunicorn's spelling, plus networks), the client from
 * X-Forwarded-For and the scheme from X-Forwarded-Proto. */
#include "harness.h"

#include "http/forwarded.h"

#define S(x) x, strlen(x)

static void test_parse(void)
{
    ff_trust t;
    char err[128];
    CHECK(ff_trust_parse(&t, "127.0.0.1, ::1,10.0.0.0/8", err, sizeof err) == 0, "%s", err);
    CHECK_EQ_LL(t.n, 3, "entries");
    CHECK(ff_trust_has(&t, S("127.0.0.1")), "exact v4");
    CHECK(!ff_trust_has(&t, S("127.0.0.2")), "other v4");
    CHECK(ff_trust_has(&t, S("::1")), "v6");
    CHECK(ff_trust_has(&t, S("::ffff:127.0.0.1")), "v4-mapped");
    CHECK(ff_trust_has(&t, S("10.200.3.4")), "in network");
    CHECK(!ff_trust_has(&t, S("11.0.0.1")), "outside network");
    CHECK(!ff_trust_has(&t, S("not-an-ip")), "garbage");
    CHECK(!ff_trust_has(&t, S("")), "empty");
    CHECK(ff_trust_parse(&t, "*", err, sizeof err) == 0 && t.any, "star");
    CHECK(ff_trust_has(&t, S("8.8.8.8")), "star trusts all");
    CHECK(ff_trust_parse(&t, "10.0.0.0/33", err, sizeof err) < 0, "prefix too long");
    CHECK(ff_trust_parse(&t, "10.0.0.0/", err, sizeof err) < 0, "empty prefix");
    CHECK(ff_trust_parse(&t, "example.com", err, sizeof err) < 0, "a name");
    CHECK(ff_trust_parse(&t, "fe80::/10", err, sizeof err) == 0, "v6 net");
    CHECK(ff_trust_has(&t, S("fe80::1")) && !ff_trust_has(&t, S("fec0::1")), "v6 prefix /10");
    CHECK(ff_trust_parse(&t, "", err, sizeof err) == 0 && t.n == 0 && !t.any, "empty list");
}

static void test_client(void)
{
    ff_trust t;
    char err[128], host[64];
    ff_trust_parse(&t, "127.0.0.1,10.0.0.0/8", err, sizeof err);
    size_t n = ff_forwarded_client(&t, S("203.0.113.7"), host, sizeof host);
    CHECK(n == 11 && strcmp(host, "203.0.113.7") == 0, "one hop: %s", host);
    n = ff_forwarded_client(&t, S("1.1.1.1, 203.0.113.7, 10.0.0.5"), host, sizeof host);
    CHECK(n && strcmp(host, "203.0.113.7") == 0, "rightmost untrusted: %s", host);
    n = ff_forwarded_client(&t, S("10.0.0.9, 10.0.0.5"), host, sizeof host);
    CHECK(n && strcmp(host, "10.0.0.9") == 0, "all trusted: leftmost: %s", host);
    n = ff_forwarded_client(&t, S("[2001:db8::1]:443"), host, sizeof host);
    CHECK(n && strcmp(host, "2001:db8::1") == 0, "bracketed v6 with port: %s", host);
    n = ff_forwarded_client(&t, S("198.51.100.2:5555"), host, sizeof host);
    CHECK(n && strcmp(host, "198.51.100.2") == 0, "v4 with port: %s", host);
    n = ff_forwarded_client(&t, S("2001:db8::2"), host, sizeof host);
    CHECK(n && strcmp(host, "2001:db8::2") == 0, "bare v6: %s", host);
    CHECK(ff_forwarded_client(&t, S(" , "), host, sizeof host) == 0, "no address");
    CHECK(ff_forwarded_client(&t, S(""), host, sizeof host) == 0, "empty");
    CHECK(ff_forwarded_client(&t, S("a\"b"), host, sizeof host) == 0, "quote refused");
    CHECK(ff_forwarded_client(&t, S("1.2.3.4"), host, 4) == 0, "does not fit");
}

static void test_proto(void)
{
    char s[8];
    CHECK(ff_forwarded_proto(S("https"), s, sizeof s) == 5 && strcmp(s, "https") == 0, "https");
    CHECK(ff_forwarded_proto(S("HTTP"), s, sizeof s) == 4 && strcmp(s, "http") == 0, "lower");
    CHECK(ff_forwarded_proto(S("http, https "), s, sizeof s) == 5, "last item");
    CHECK(ff_forwarded_proto(S("ftp"), s, sizeof s) == 0, "other scheme");
    CHECK(ff_forwarded_proto(S(""), s, sizeof s) == 0, "empty");
    CHECK(ff_forwarded_proto(S("https"), s, 3) == 0, "does not fit");
}

int main(void)
{
    test_parse();
    test_client();
    test_proto();
    return th_summary("http/forwarded");
}
