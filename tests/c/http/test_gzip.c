/* tests/c/http/test_gzip.c — unit tests of http/gzip.c: Accept-Encoding
 * negotiation, and compressed bodies that zlib reads back byte for byte
 * (the deflate stream reused across bodies of many sizes). */
#include "harness.h"

#include "http/gzip.h"

#include <zlib.h>

#define S(x) x, strlen(x)

static void test_accepted(void)
{
    CHECK(ff_gzip_accepted(S("gzip")), "gzip");
    CHECK(ff_gzip_accepted(S("deflate, gzip;q=0.5, br")), "listed with q");
    CHECK(ff_gzip_accepted(S("GZIP")), "case");
    CHECK(ff_gzip_accepted(S("x-gzip")), "x-gzip");
    CHECK(!ff_gzip_accepted(S("gzip;q=0")), "q=0 refuses");
    CHECK(!ff_gzip_accepted(S("gzip; q=0.000")), "q=0.000 refuses");
    CHECK(ff_gzip_accepted(S("gzip;q=0.001")), "tiny q");
    CHECK(!ff_gzip_accepted(S("br, deflate")), "not listed");
    CHECK(!ff_gzip_accepted(S("identity")), "identity");
    CHECK(ff_gzip_accepted(S("*")), "star");
    CHECK(!ff_gzip_accepted(S("*, gzip;q=0")), "gzip refused beats star");
    CHECK(!ff_gzip_accepted(S("*;q=0")), "star refused");
    CHECK(!ff_gzip_accepted(S("gzipx")), "another token");
    CHECK(!ff_gzip_accepted(S("")), "empty");
    CHECK(!ff_gzip_accepted(S("gzip;q=x")), "malformed q");
}

static void test_roundtrip(void)
{
    ff_gzip g = {0};
    ff_buf out = {0};
    static char data[200000];
    unsigned seed = 7;
    for (size_t i = 0; i < sizeof data; i++) {
        seed = seed * 1103515245u + 12345u;
        data[i] = (seed >> 16) % 4 ? "{\"id\":1,\"name\":\"x\"}"[i % 20] : (char)(seed >> 8);
    }
    static const size_t sizes[] = {0, 1, 499, 500, 4096, 65537, sizeof data};
    static unsigned char back[sizeof data];
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t n = sizes[k];
        out.len = 0;
        ff_buf_append(&out, "abc", 3); /* the output goes after what is there */
        CHECK(ff_gzip_compress(&g, &out, data, n) == 0, "compress %zu", n);
        CHECK(memcmp(out.data, "abc", 3) == 0, "prefix kept");
        CHECK((unsigned char)out.data[3] == 0x1f && (unsigned char)out.data[4] == 0x8b,
              "gzip magic at %zu", n);
        z_stream z = {0};
        inflateInit2(&z, 15 + 16);
        z.next_in = (Bytef *)out.data + 3;
        z.avail_in = (uInt)(out.len - 3);
        z.next_out = back;
        z.avail_out = sizeof back;
        int rc = inflate(&z, Z_FINISH);
        CHECK(rc == Z_STREAM_END, "inflate %zu: %d", n, rc);
        CHECK(z.total_out == n && memcmp(back, data, n) == 0, "same bytes back for %zu", n);
        CHECK(z.avail_in == 0, "nothing after the member");
        inflateEnd(&z);
    }
    ff_buf_free(&out);
    ff_gzip_free(&g);
    ff_gzip_free(&g); /* twice is harmless */
}

int main(void)
{
    test_accepted();
    test_roundtrip();
    return th_summary("http/gzip");
}
