/* tests/c/util/test_buf.c — unit tests of util/buf.h and util/hex.h: growth,
 * consuming and compaction keep the unread bytes intact; number formatting
 * covers the edges of a 64-bit value; hex digits of both cases. */
#include "harness.h"

#include "util/buf.h"
#include "util/hex.h"

int main(void)
{
    ff_buf b = {0};
    CHECK(ff_buf_used(&b) == 0, "empty");
    /* grow across many reallocations, then read it all back */
    for (int i = 0; i < 10000; i++) {
        char c = (char)('a' + i % 26);
        CHECK(ff_buf_append(&b, &c, 1) == 0, "append %d", i);
    }
    CHECK_EQ_LL(ff_buf_used(&b), 10000, "length");
    int ok = 1;
    for (int i = 0; i < 10000; i++)
        ok &= b.data[b.off + i] == (char)('a' + i % 26);
    CHECK(ok, "content after growth");

    /* consume part: the rest stays readable, and appending after it keeps order */
    ff_buf_consume(&b, 9990);
    CHECK_EQ_LL(ff_buf_used(&b), 10, "after consume");
    CHECK(ff_buf_puts(&b, "XYZ") == 0, "puts");
    CHECK(ff_buf_used(&b) == 13 && memcmp(b.data + b.off + 10, "XYZ", 3) == 0, "order kept");
    CHECK(memcmp(b.data + b.off, "ghijklmnop", 10) == 0, "the unread bytes: %.10s",
          b.data + b.off);
    /* reserve compacts or grows, never loses the unread bytes */
    CHECK(ff_buf_reserve(&b, 1 << 20) == 0 && b.cap - b.len >= (1 << 20), "reserve");
    CHECK(memcmp(b.data + b.off, "ghijklmnopXYZ", 13) == 0, "after reserve");
    ff_buf_consume(&b, ff_buf_used(&b));
    CHECK(ff_buf_used(&b) == 0, "all consumed");

    /* numbers */
    char tmp[21];
    struct { unsigned long long v; const char *s; } nums[] = {
        {0, "0"}, {9, "9"}, {10, "10"}, {4294967296ull, "4294967296"},
        {18446744073709551615ull, "18446744073709551615"},
    };
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
        size_t n = ff_fmt_u64(tmp, nums[i].v);
        CHECK(n == strlen(nums[i].s) && memcmp(tmp, nums[i].s, n) == 0, "fmt %s", nums[i].s);
    }
    b.off = b.len = 0;
    CHECK(ff_buf_put_u64(&b, 1234567) == 0 && ff_buf_used(&b) == 7 &&
              memcmp(b.data, "1234567", 7) == 0, "put_u64");
    ff_buf_free(&b);
    CHECK(b.data == NULL && b.len == 0 && b.cap == 0, "freed");

    /* hex digits */
    const char *digits = "0123456789abcdefABCDEF";
    for (int i = 0; digits[i]; i++)
        CHECK(ff_hexval(digits[i]) == (i < 16 ? i : i - 6), "hex %c", digits[i]);
    CHECK(ff_hexval('g') == -1 && ff_hexval('/') == -1 && ff_hexval(':') == -1 &&
              ff_hexval('@') == -1 && ff_hexval('G') == -1 && ff_hexval('\0') == -1,
          "not hex");
    return th_summary("test_buf");
}
