/* tests/c/ws/test_handshake.c — unit tests of ws/handshake.c and ws/sha1.c:
 * SHA-1 and base64 against known vectors, the RFC's accept example, the
 * accept/refuse matrix of an upgrade request, permessage-deflate offer
 * negotiation, and the 101 answer. Requests go through the real HTTP parser. */
#define _GNU_SOURCE /* memmem */
#include "harness.h"

#include "http/parse.h"
#include "ws/sha1.h"
#include "ws/ws.h"

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="

static const ff_http_limits LIM = {8192, 16384, 64, 1000000, 1024};

typedef struct {
    char raw[4096];
    ff_http_header headers[64];
    ff_http_request req;
} parsed;

/* Parses a request head built from `head` (lines separated by \n); exits
 * when the parser refuses it, since the tests are about the handshake. */
static void parse(parsed *p, const char *head)
{
    size_t n = 0;
    enum ff_http_error err;
    for (const char *s = head; *s; s++) {
        if (*s == '\n')
            p->raw[n++] = '\r';
        p->raw[n++] = *s;
    }
    memcpy(p->raw + n, "\r\n", 2);
    n += 2;
    if (ff_http_parse_request(p->raw, n, 0, &LIM, &p->req, p->headers, &err) <= 0) {
        fprintf(stderr, "test request does not parse: %s\n", head);
        exit(2);
    }
}

static int check(const char *head, int allow_deflate, ff_ws_handshake *hs)
{
    static parsed p;
    memset(hs, 0, sizeof *hs);
    hs->allow_deflate = allow_deflate;
    parse(&p, head);
    return ff_ws_check_request(&p.req, hs);
}

static void test_sha1(void)
{
    static const struct {
        const char *in;
        const char *hex;
    } v[] = {
        {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
        {"The quick brown fox jumps over the lazy dog",
         "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        /* whole, and fed one byte at a time */
        for (int bytewise = 0; bytewise < 2; bytewise++) {
            ff_sha1 s;
            unsigned char d[20];
            char hex[41];
            size_t n = strlen(v[i].in);
            ff_sha1_init(&s);
            if (bytewise)
                for (size_t j = 0; j < n; j++)
                    ff_sha1_update(&s, v[i].in + j, 1);
            else
                ff_sha1_update(&s, v[i].in, n);
            ff_sha1_final(&s, d);
            for (int j = 0; j < 20; j++)
                snprintf(hex + 2 * j, 3, "%02x", d[j]);
            CHECK(strcmp(hex, v[i].hex) == 0, "sha1(%s) = %s", v[i].in, hex);
        }
    }
    /* a million 'a's: many blocks */
    ff_sha1 s;
    unsigned char d[20], a[1000];
    char hex[41];
    memset(a, 'a', sizeof a);
    ff_sha1_init(&s);
    for (int i = 0; i < 1000; i++)
        ff_sha1_update(&s, a, sizeof a);
    ff_sha1_final(&s, d);
    for (int j = 0; j < 20; j++)
        snprintf(hex + 2 * j, 3, "%02x", d[j]);
    CHECK(strcmp(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f") == 0, "million a: %s", hex);
    /* every padding length around the block boundary against a second feed */
    for (size_t n = 50; n < 70; n++) {
        ff_sha1 x, y;
        unsigned char dx[20], dy[20];
        ff_sha1_init(&x);
        ff_sha1_init(&y);
        ff_sha1_update(&x, a, n);
        ff_sha1_update(&y, a, n / 2);
        ff_sha1_update(&y, a, n - n / 2);
        ff_sha1_final(&x, dx);
        ff_sha1_final(&y, dy);
        CHECK(memcmp(dx, dy, 20) == 0, "split feed %zu", n);
    }
}

static void test_base64(void)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                      "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char out[16];
        unsigned char back[16];
        ff_base64_encode((const unsigned char *)plain[i], strlen(plain[i]), out);
        CHECK(strcmp(out, enc[i]) == 0, "encode %s -> %s", plain[i], out);
        long n = ff_base64_decode(enc[i], strlen(enc[i]), back);
        CHECK(n == (long)strlen(plain[i]) && memcmp(back, plain[i], (size_t)n) == 0,
              "decode %s", enc[i]);
    }
    unsigned char b[16];
    CHECK(ff_base64_decode("Zm9", 3, b) == -1, "length not a multiple of 4");
    CHECK(ff_base64_decode("Zm=v", 4, b) == -1, "data after =");
    CHECK(ff_base64_decode("Z===", 4, b) == -1, "three =");
    CHECK(ff_base64_decode("Zg==Zg==", 8, b) == -1, "= in the middle");
    CHECK(ff_base64_decode("Zm9*", 4, b) == -1, "bad character");
}

static void test_accept_value(void)
{
    char out[29];
    ff_ws_accept_value(KEY, strlen(KEY), out);
    CHECK(strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0, "RFC 6455 example: %s", out);
}

#define GOOD_HEAD "Host: x\nUpgrade: websocket\nConnection: Upgrade\n" \
                  "Sec-WebSocket-Key: " KEY "\nSec-WebSocket-Version: 13\n"

static void test_accept_refuse(void)
{
    static const struct {
        const char *head;
        int status; /* 0: accepted */
    } v[] = {
        {"GET /chat HTTP/1.1\n" GOOD_HEAD, 0},
        {"GET /chat HTTP/1.1\nHost: x\nUpgrade: WebSocket\nConnection: keep-alive, Upgrade\n"
         "Sec-WebSocket-Key: " KEY "\nSec-WebSocket-Version: 13\n", 0},
        {"GET /chat HTTP/1.1\nHost: x\nUpgrade: h2c, websocket\nConnection: x\n"
         "Connection: upgrade\nSec-WebSocket-Key: " KEY "\nSec-WebSocket-Version: 13\n", 0},
        {"GET /chat HTTP/1.1\nHost: x\nupgrade:websocket\nCONNECTION: UPGRADE\n"
         "sec-websocket-key: " KEY "\nsec-websocket-version: 13\n", 0},
        {"GET /chat HTTP/1.1\n" GOOD_HEAD "Content-Length: 0\n", 0},
        {"POST /chat HTTP/1.1\n" GOOD_HEAD, 400},
        {"get /chat HTTP/1.1\n" GOOD_HEAD, 400},
        {"GET /chat HTTP/1.0\n" GOOD_HEAD, 400},
        {"GET /chat HTTP/1.1\n" GOOD_HEAD "Content-Length: 5\n", 400},
        {"GET /chat HTTP/1.1\n" GOOD_HEAD "Transfer-Encoding: chunked\n", 400},
        {"GET /chat HTTP/1.1\nHost: x\nConnection: Upgrade\n"
         "Sec-WebSocket-Key: " KEY "\nSec-WebSocket-Version: 13\n", 400},
        {"GET /chat HTTP/1.1\nHost: x\nUpgrade: websockets\nConnection: Upgrade\n"
         "Sec-WebSocket-Key: " KEY "\nSec-WebSocket-Version: 13\n", 400},
        {"GET /chat HTTP/1.1\nHost: x\nUpgrade: websocket\n"
         "Sec-WebSocket-Key: " KEY "\nSec-WebSocket-Version: 13\n", 400},
        {"GET /chat HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: keep-alive\n"
         "Sec-WebSocket-Key: " KEY "\nSec-WebSocket-Version: 13\n", 400},
        {"GET /chat HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgraded\n"
         "Sec-WebSocket-Key: " KEY "\nSec-WebSocket-Version: 13\n", 400},
        /* the key */
        {"GET / HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\n"
         "Sec-WebSocket-Version: 13\n", 400},
        {"GET / HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\nSec-WebSocket-Version: 13\n", 400},
        {"GET / HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\nSec-WebSocket-Version: 13\n", 400},
        {"GET / HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQab\nSec-WebSocket-Version: 13\n", 400},
        {"GET / HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j*Q==\nSec-WebSocket-Version: 13\n", 400},
        {"GET / HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZXM=\nSec-WebSocket-Version: 13\n", 400},
        {"GET / HTTP/1.1\n" GOOD_HEAD "Sec-WebSocket-Key: " KEY "\n", 400},
        /* the version */
        {"GET / HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\n"
         "Sec-WebSocket-Key: " KEY "\n", 426},
        {"GET / HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\n"
         "Sec-WebSocket-Key: " KEY "\nSec-WebSocket-Version: 8\n", 426},
        {"GET / HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\n"
         "Sec-WebSocket-Key: " KEY "\nSec-WebSocket-Version: 13, 8\n", 426},
        {"GET / HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\n"
         "Sec-WebSocket-Key: " KEY "\nSec-WebSocket-Version: 130\n", 426},
        {"GET / HTTP/1.1\n" GOOD_HEAD "Sec-WebSocket-Version: 13\n", 426},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        ff_ws_handshake hs;
        int r = check(v[i].head, 0, &hs);
        if (v[i].status == 0) {
            CHECK(r == 0, "accepted: case %zu (%s)", i, hs.reason ? hs.reason : "");
            CHECK(hs.key_len == 24 && memcmp(hs.key, KEY, 24) == 0, "key, case %zu", i);
            CHECK(!hs.deflate.enabled, "no deflate, case %zu", i);
        } else {
            CHECK(r == -1 && hs.status == v[i].status && hs.reason,
                  "refused %d: case %zu, got r=%d status=%d", v[i].status, i, r, hs.status);
        }
    }
}

static void test_is_upgrade(void)
{
    static parsed p;
    parse(&p, "GET / HTTP/1.1\nHost: x\nUpgrade: foo, WebSocket\n");
    CHECK(ff_ws_is_upgrade(&p.req), "in a list");
    parse(&p, "GET / HTTP/1.1\nHost: x\nUpgrade: foo\nUpgrade: websocket\n");
    CHECK(ff_ws_is_upgrade(&p.req), "repeated header");
    parse(&p, "GET / HTTP/1.1\nHost: x\nUpgrade: h2c\n");
    CHECK(!ff_ws_is_upgrade(&p.req), "other protocol");
    parse(&p, "GET / HTTP/1.1\nHost: x\nX-Upgrade: websocket\n");
    CHECK(!ff_ws_is_upgrade(&p.req), "other header");
    parse(&p, "GET / HTTP/1.1\nHost: x\n");
    CHECK(!ff_ws_is_upgrade(&p.req), "none");
}

static void test_protocols(void)
{
    ff_ws_handshake hs;
    CHECK(check("GET / HTTP/1.1\n" GOOD_HEAD, 0, &hs) == 0 && hs.protocols == NULL &&
              hs.protocols_len == 0, "none");
    CHECK(check("GET / HTTP/1.1\n" GOOD_HEAD "Sec-WebSocket-Protocol: chat, superchat\n", 0,
                &hs) == 0 && hs.protocols_len == 15 &&
              memcmp(hs.protocols, "chat, superchat", 15) == 0, "one header");
    CHECK(check("GET / HTTP/1.1\n" GOOD_HEAD "Sec-WebSocket-Protocol: chat\n"
                "Sec-WebSocket-Protocol: v2.a, v3\n", 0, &hs) == 0 &&
              hs.protocols == hs.protocols_buf && hs.protocols_len == 14 &&
              memcmp(hs.protocols, "chat, v2.a, v3", 14) == 0, "joined");
    char head[2048] = "GET / HTTP/1.1\n" GOOD_HEAD;
    for (int i = 0; i < 6; i++) {
        strcat(head, "Sec-WebSocket-Protocol: ");
        for (int j = 0; j < 100; j++)
            strcat(head, "p");
        strcat(head, "\n");
    }
    CHECK(check(head, 0, &hs) == -1 && hs.status == 400, "joined list too long");
}

/* The negotiated parameters for an Extensions header (NULL: none); enabled
 * 0 when nothing was accepted. */
static ff_ws_deflate_params offer(const char *ext, int allow)
{
    char head[2048];
    ff_ws_handshake hs;
    snprintf(head, sizeof head, "GET / HTTP/1.1\n" GOOD_HEAD "%s", ext);
    if (check(head, allow, &hs) != 0)
        CHECK(0, "refused: %s", ext);
    return hs.deflate;
}

static void test_deflate_negotiation(void)
{
    static const struct {
        const char *ext;
        int enabled, snct, cnct, smwb, cmwb;
    } v[] = {
        {"", 0, 0, 0, 15, 15},
        {"Sec-WebSocket-Extensions: permessage-deflate\n", 1, 0, 0, 15, 15},
        {"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\n", 1, 0, 0, 15, 12},
        {"Sec-WebSocket-Extensions: permessage-deflate;client_max_window_bits=10\n", 1, 0, 0, 15, 10},
        {"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=\"8\"\n", 1, 0, 0, 15, 8},
        {"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12; "
         "server_no_context_takeover; client_no_context_takeover\n", 1, 1, 1, 12, 15},
        {"Sec-WebSocket-Extensions: PerMessage-Deflate ; Server_No_Context_Takeover\n", 1, 1, 0, 15, 15},
        /* declined offers, then an acceptable one */
        {"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=8, "
         "permessage-deflate; server_max_window_bits=9\n", 1, 0, 0, 9, 15},
        {"Sec-WebSocket-Extensions: permessage-deflate; foo, permessage-deflate\n", 1, 0, 0, 15, 15},
        {"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
         "server_no_context_takeover, permessage-deflate; client_no_context_takeover\n", 1, 0, 1, 15, 15},
        {"Sec-WebSocket-Extensions: x-webkit-deflate-frame, permessage-deflate\n", 1, 0, 0, 15, 15},
        {"Sec-WebSocket-Extensions: foo; a=\"x,y\", permessage-deflate\n", 1, 0, 0, 15, 15},
        {"Sec-WebSocket-Extensions: foo\nSec-WebSocket-Extensions: permessage-deflate; "
         "client_max_window_bits=9\n", 1, 0, 0, 15, 9},
        /* nothing acceptable */
        {"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits\n", 0, 0, 0, 15, 15},
        {"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=8\n", 0, 0, 0, 15, 15},
        {"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=16\n", 0, 0, 0, 15, 15},
        {"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=010\n", 0, 0, 0, 15, 15},
        {"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=7\n", 0, 0, 0, 15, 15},
        {"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=\"1\"5\n", 0, 0, 0, 15, 15},
        {"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover=1\n", 0, 0, 0, 15, 15},
        {"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits; "
         "client_max_window_bits=9\n", 0, 0, 0, 15, 15},
        {"Sec-WebSocket-Extensions: permessage-deflate; unknown\n", 0, 0, 0, 15, 15},
        {"Sec-WebSocket-Extensions: permessage-deflate;\n", 0, 0, 0, 15, 15},
        {"Sec-WebSocket-Extensions: permessage-deflate x\n", 0, 0, 0, 15, 15},
        {"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=\"9\n", 0, 0, 0, 15, 15},
        {"Sec-WebSocket-Extensions: deflate-frame\n", 0, 0, 0, 15, 15},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        ff_ws_deflate_params d = offer(v[i].ext, 1);
        CHECK(d.enabled == v[i].enabled && d.server_no_context_takeover == v[i].snct &&
                  d.client_no_context_takeover == v[i].cnct &&
                  d.server_max_window_bits == v[i].smwb && d.client_max_window_bits == v[i].cmwb,
              "case %zu (%s): got %d %d %d %d %d", i, v[i].ext, d.enabled,
              d.server_no_context_takeover, d.client_no_context_takeover,
              d.server_max_window_bits, d.client_max_window_bits);
        d = offer(v[i].ext, 0);
        CHECK(!d.enabled, "not allowed: case %zu", i);
    }
}

/* no_context_takeover imposes both resets on any accepted offer. */
static void test_no_context_takeover(void)
{
    static parsed p;
    ff_ws_handshake hs;
    ff_buf out = {0};

    memset(&hs, 0, sizeof hs);
    hs.allow_deflate = 1;
    hs.no_context_takeover = 1;
    parse(&p, "GET / HTTP/1.1\n" GOOD_HEAD "Sec-WebSocket-Extensions: permessage-deflate; "
              "client_max_window_bits\n");
    CHECK(ff_ws_check_request(&p.req, &hs) == 0 && hs.deflate.enabled &&
              hs.deflate.server_no_context_takeover && hs.deflate.client_no_context_takeover,
          "imposed");
    CHECK(hs.no_context_takeover == 1 && hs.allow_deflate == 1, "inputs kept");
    ff_ws_write_accept(&out, &hs, NULL, 0, NULL, 0);
    CHECK(memmem(out.data, out.len, "Sec-WebSocket-Extensions: permessage-deflate; "
                 "server_no_context_takeover; client_no_context_takeover; "
                 "client_max_window_bits=12\r\n", 129) != NULL,
          "answered: %.*s", (int)out.len, out.data);
    ff_buf_free(&out);
    parse(&p, "GET / HTTP/1.1\n" GOOD_HEAD);
    CHECK(ff_ws_check_request(&p.req, &hs) == 0 && !hs.deflate.enabled &&
              !hs.deflate.server_no_context_takeover, "nothing offered: nothing imposed");
}

static void test_write_accept(void)
{
    ff_ws_handshake hs;
    ff_buf out = {0};
    const char *want;

    check("GET / HTTP/1.1\n" GOOD_HEAD, 0, &hs);
    CHECK(ff_ws_write_accept(&out, &hs, NULL, 0, NULL, 0) == 0, "plain");
    want = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    CHECK(out.len == strlen(want) && memcmp(out.data, want, out.len) == 0, "plain: %.*s",
          (int)out.len, out.data);

    out.len = 0;
    check("GET / HTTP/1.1\n" GOOD_HEAD "Sec-WebSocket-Extensions: permessage-deflate; "
          "client_max_window_bits; server_max_window_bits=10; client_no_context_takeover\n", 1, &hs);
    ff_buf_puts(&out, "prefix");
    CHECK(ff_ws_write_accept(&out, &hs, "chat", 4, "X-A: 1\r\n", 8) == 0, "full");
    want = "prefixHTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n"
           "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; "
           "server_max_window_bits=10; client_max_window_bits=12\r\nX-A: 1\r\n\r\n";
    CHECK(out.len == strlen(want) && memcmp(out.data, want, out.len) == 0, "full: %.*s",
          (int)out.len, out.data);

    out.len = 0; /* an offered server_max_window_bits is answered, 15 too (RFC 7692 7.1.2.1) */
    check("GET / HTTP/1.1\n" GOOD_HEAD "Sec-WebSocket-Extensions: permessage-deflate; "
          "server_max_window_bits=15\n", 1, &hs);
    CHECK(ff_ws_write_accept(&out, &hs, NULL, 0, NULL, 0) == 0, "smwb=15");
    want = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
           "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=15\r\n\r\n";
    CHECK(out.len == strlen(want) && memcmp(out.data, want, out.len) == 0, "full: %.*s",
          (int)out.len, out.data);
    ff_buf_free(&out);
}

int main(void)
{
    test_sha1();
    test_base64();
    test_accept_value();
    test_accept_refuse();
    test_is_upgrade();
    test_protocols();
    test_deflate_negotiation();
    test_no_context_takeover();
    test_write_accept();
    return th_summary("ws/handshake");
}
