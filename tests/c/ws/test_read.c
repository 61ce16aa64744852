/* tests/c/ws/test_read.c — unit tests of the reader (ws/read.c, and the
 * inflating side of ws/deflate.c). Every stream is fed whole, one byte at a
 * time, and in random splits, and must give the same transcript each way. */
#include "wsclient.h"

static const ff_ws_config PLAIN = {.max_message = 1 << 20};
static const ff_ws_config DEFL = {.max_message = 1 << 20, .deflate = {1, 0, 0, 15, 15}};
static const ff_ws_config DEFL_NCT = {.max_message = 1 << 20, .deflate = {1, 0, 1, 15, 15}};

static uint64_t seed = 0x5eed;

typedef struct {
    const ff_ws_config *cfg;
    const bytes *stream;
    const char *want;
    size_t want_len;
    const char *name;
} expect_ctx;

static void expect_one(const void *vctx, const size_t *cuts, size_t k, const char *mode)
{
    const expect_ctx *c = vctx;
    bytes got = {0};
    transcript(c->cfg, c->stream->p, c->stream->n, cuts, k, &got);
    CHECK(got.n == c->want_len && memcmp(got.p, c->want, got.n) == 0,
          "%s (%s): got %zu \"%.*s\" want %zu \"%.*s\"", c->name, mode, got.n, got.n > 200 ? 200 : (int)got.n,
          (const char *)got.p, c->want_len, c->want_len > 200 ? 200 : (int)c->want_len, c->want);
    free(got.p);
}

/* The stream's transcript must be `want` however it is split. */
static void expect_n(const ff_ws_config *cfg, const bytes *stream, const char *want,
                     size_t want_len, const char *name)
{
    size_t *cuts = calloc(stream->n + 1, sizeof *cuts);
    expect_ctx c = {cfg, stream, want, want_len, name};
    th_each_split(stream->n, &seed, cuts, 8, expect_one, &c);
    free(cuts);
}

static void expect(const ff_ws_config *cfg, const bytes *stream, const char *want,
                   const char *name)
{
    expect_n(cfg, stream, want, strlen(want), name);
}

static void test_messages(void)
{
    bytes s = {0};
    frame(&s, 1, FF_WS_OP_TEXT, "Hello", 5);
    frame(&s, 1, FF_WS_OP_BINARY, "\0\1\2", 3);
    frame(&s, 1, FF_WS_OP_TEXT, "", 0);
    frame(&s, 1, FF_WS_OP_PING, "pi", 2);
    frame(&s, 1, FF_WS_OP_PONG, "", 0);
    expect_n(&PLAIN, &s, "T5:Hello;B3:\0\1\2;T0:;P2:pi;O0:;", 30, "simple messages");

    /* fragments with control frames between them */
    s.n = 0;
    frame(&s, 0, FF_WS_OP_TEXT, "Hel", 3);
    frame(&s, 1, FF_WS_OP_PING, "p", 1);
    frame(&s, 0, FF_WS_OP_CONT, "", 0);
    frame(&s, 0, FF_WS_OP_CONT, "lo", 2);
    frame(&s, 1, FF_WS_OP_PONG, "q", 1);
    frame(&s, 1, FF_WS_OP_CONT, " w", 2);
    frame(&s, 1, FF_WS_OP_BINARY, "x", 1);
    expect(&PLAIN, &s, "P1:p;O1:q;T7:Hello w;B1:x;", "fragments and pings");

    /* lengths: 16- and 64-bit encodings, and non-minimal ones */
    static char big[70000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    s.n = 0;
    frame(&s, 1, FF_WS_OP_BINARY, big, 200);
    frame(&s, 1, FF_WS_OP_BINARY, big, 65535);
    frame(&s, 1, FF_WS_OP_BINARY, big, 65536);
    frame(&s, 1, FF_WS_OP_BINARY, big, sizeof big);
    frame_ex(&s, 1, 0, FF_WS_OP_TEXT, "ab", 2, 16, 1);
    frame_ex(&s, 1, 0, FF_WS_OP_TEXT, "cd", 2, 64, 1);
    frame_ex(&s, 1, 0, FF_WS_OP_PING, "ef", 2, 16, 1);
    bytes want = {0};
    char tmp[32];
    size_t lens[] = {200, 65535, 65536, sizeof big};
    for (int i = 0; i < 4; i++) {
        snprintf(tmp, sizeof tmp, "B%zu:", lens[i]);
        bputs(&want, tmp);
        bput(&want, big, lens[i]);
        bputs(&want, ";");
    }
    bputs(&want, "T2:ab;T2:cd;E1002;"); /* a control frame may not use the 16-bit form */
    /* the bytewise feed of 200 KB is slow under valgrind but bounded */
    expect_n(&PLAIN, &s, (const char *)want.p, want.n, "16/64-bit lengths");
    free(want.p);
    free(s.p);
}

static void test_protocol_errors(void)
{
    static const struct {
        int fin, rsv, op, masked, len;
        const char *want;
        const ff_ws_config *cfg;
    } v[] = {
        {1, 0, FF_WS_OP_TEXT, 0, 3, "E1002;", &PLAIN},          /* unmasked */
        {1, 0, FF_WS_OP_PING, 0, 0, "E1002;", &PLAIN},
        {1, 2, FF_WS_OP_TEXT, 1, 3, "E1002;", &PLAIN},          /* RSV2 */
        {1, 1, FF_WS_OP_TEXT, 1, 3, "E1002;", &PLAIN},          /* RSV3 */
        {1, 4, FF_WS_OP_TEXT, 1, 3, "E1002;", &PLAIN},          /* RSV1 without deflate */
        {1, 4, FF_WS_OP_PING, 1, 3, "E1002;", &DEFL},           /* RSV1 on control */
        {1, 2, FF_WS_OP_TEXT, 1, 3, "E1002;", &DEFL},
        {1, 0, 3, 1, 0, "E1002;", &PLAIN},
        {1, 0, 4, 1, 0, "E1002;", &PLAIN},
        {1, 0, 5, 1, 0, "E1002;", &PLAIN},
        {1, 0, 6, 1, 0, "E1002;", &PLAIN},
        {1, 0, 7, 1, 0, "E1002;", &PLAIN},
        {1, 0, 0xB, 1, 0, "E1002;", &PLAIN},
        {1, 0, 0xC, 1, 0, "E1002;", &PLAIN},
        {1, 0, 0xF, 1, 0, "E1002;", &PLAIN},
        {0, 0, FF_WS_OP_PING, 1, 1, "E1002;", &PLAIN},          /* fragmented control */
        {0, 0, FF_WS_OP_CLOSE, 1, 2, "E1002;", &PLAIN},
        {1, 0, FF_WS_OP_PING, 1, 126, "E1002;", &PLAIN},        /* control over 125 */
        {1, 0, FF_WS_OP_PING, 1, 125, "P125:", &PLAIN},         /* 125 is fine */
        {1, 0, FF_WS_OP_CONT, 1, 1, "E1002;", &PLAIN},          /* nothing to continue */
        {0, 0, FF_WS_OP_CONT, 1, 1, "E1002;", &PLAIN},
    };
    static const char pay[200] = {0};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        bytes s = {0};
        char name[32];
        frame_ex(&s, v[i].fin, v[i].rsv, v[i].op, pay, (size_t)v[i].len, 0, v[i].masked);
        snprintf(name, sizeof name, "error case %zu", i);
        if (v[i].want[0] == 'P') {
            bytes w = {0};
            bputs(&w, v[i].want);
            bput(&w, pay, 125);
            bputs(&w, ";");
            expect_n(v[i].cfg, &s, (const char *)w.p, w.n, name);
            free(w.p);
        } else {
            expect(v[i].cfg, &s, v[i].want, name);
        }
        free(s.p);
    }

    bytes s = {0};
    frame(&s, 0, FF_WS_OP_TEXT, "a", 1);
    frame(&s, 1, FF_WS_OP_TEXT, "b", 1);
    expect(&PLAIN, &s, "E1002;", "new message inside a fragmented one");
    s.n = 0;
    frame(&s, 0, FF_WS_OP_BINARY, "a", 1);
    frame(&s, 1, FF_WS_OP_BINARY, "b", 1);
    expect(&PLAIN, &s, "E1002;", "new binary inside a fragmented one");
    s.n = 0;
    frame(&s, 0, FF_WS_OP_TEXT, "a", 1);
    frame_ex(&s, 1, 4, FF_WS_OP_CONT, "b", 1, 0, 1);
    expect(&DEFL, &s, "E1002;", "RSV1 on a continuation");

    /* a 64-bit length with the top bit set */
    s.n = 0;
    unsigned char h[14] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4};
    bput(&s, h, sizeof h);
    expect(&PLAIN, &s, "E1002;", "64-bit length top bit");

    /* errors stick; a close ends the reader too */
    ff_ws *ws = ff_ws_new(&PLAIN);
    ff_ws_event ev;
    size_t used;
    s.n = 0;
    frame_ex(&s, 1, 0, FF_WS_OP_TEXT, "x", 1, 0, 0);
    CHECK(ff_ws_read(ws, (char *)s.p, s.n, &used, &ev) == 1 && ev.kind == FF_WS_EV_ERROR &&
              ev.code == 1002 && ev.reason_len > 0, "unmasked");
    CHECK(ff_ws_read(ws, "abc", 3, &used, &ev) == 1 && ev.kind == FF_WS_EV_ERROR &&
              ev.code == 1002 && used == 3, "error sticks");
    CHECK(ff_ws_read(ws, "", 0, &used, &ev) == 0 && used == 0, "no input: nothing to refuse");
    ff_ws_free(ws);
    ws = ff_ws_new(&PLAIN);
    s.n = 0;
    frame(&s, 1, FF_WS_OP_CLOSE, "\x03\xe8", 2);
    frame(&s, 1, FF_WS_OP_TEXT, "late", 4);
    CHECK(ff_ws_read(ws, (char *)s.p, s.n, &used, &ev) == 1 && ev.kind == FF_WS_EV_CLOSE &&
              ev.code == 1000 && used == 8, "close, used %zu", used);
    CHECK(ff_ws_read(ws, (char *)s.p + used, s.n - used, &used, &ev) == 1 &&
              ev.kind == FF_WS_EV_ERROR && ev.code == 1002, "data after close");
    ff_ws_free(ws);
    free(s.p);
}

static void test_close(void)
{
    static const int valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012,
                                1013, 1014, 3000, 3999, 4000, 4999};
    static const int invalid[] = {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999,
                                  5000, 65535};
    bytes s = {0};
    char want[64], pay[2];

    for (size_t i = 0; i < sizeof valid / sizeof *valid; i++) {
        CHECK(ff_ws_close_code_valid(valid[i]), "valid %d", valid[i]);
        s.n = 0;
        pay[0] = (char)(valid[i] >> 8);
        pay[1] = (char)valid[i];
        frame(&s, 1, FF_WS_OP_CLOSE, pay, 2);
        snprintf(want, sizeof want, "C%d:;", valid[i]);
        expect(&PLAIN, &s, want, "valid close code");
    }
    for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++) {
        CHECK(!ff_ws_close_code_valid(invalid[i]), "invalid %d", invalid[i]);
        s.n = 0;
        pay[0] = (char)(invalid[i] >> 8);
        pay[1] = (char)invalid[i];
        frame(&s, 1, FF_WS_OP_CLOSE, pay, 2);
        expect(&PLAIN, &s, "E1002;", "invalid close code");
    }
    s.n = 0;
    frame(&s, 1, FF_WS_OP_CLOSE, "", 0);
    expect(&PLAIN, &s, "C1005:;", "close without a code");
    s.n = 0;
    frame(&s, 1, FF_WS_OP_CLOSE, "\x03", 1);
    expect(&PLAIN, &s, "E1002;", "1-byte close");
    s.n = 0;
    frame(&s, 1, FF_WS_OP_CLOSE, "\x03\xe8" "bye \xc3\xa9", 8);
    expect(&PLAIN, &s, "C1000:bye \xc3\xa9;", "reason");
    s.n = 0;
    frame(&s, 1, FF_WS_OP_CLOSE, "\x03\xe8" "bye \xc3", 7);
    expect(&PLAIN, &s, "E1007;", "reason cut inside a character");
    s.n = 0;
    frame(&s, 1, FF_WS_OP_CLOSE, "\x0f\xa0\xff", 3);
    expect(&PLAIN, &s, "E1007;", "reason not UTF-8");
    /* a close inside a fragmented message is fine */
    s.n = 0;
    frame(&s, 0, FF_WS_OP_TEXT, "a", 1);
    frame(&s, 1, FF_WS_OP_CLOSE, "\x03\xe9", 2);
    expect(&PLAIN, &s, "C1001:;", "close between fragments");
    free(s.p);
}

static void test_utf8(void)
{
    /* valid: every kind of sequence, split into two fragments at every byte */
    static const char ok[] = "a\xc2\xa9\xe2\x82\xac\xed\x9f\xbf\xee\x80\x80\xf0\x90\x80\x80"
                             "\xf4\x8f\xbf\xbf" "z\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80";
    size_t n = sizeof ok - 1;
    bytes s = {0}, w = {0};
    char tmp[32];
    snprintf(tmp, sizeof tmp, "T%zu:", n);
    bputs(&w, tmp);
    bput(&w, ok, n);
    bputs(&w, ";");
    for (size_t cut = 0; cut <= n; cut++) {
        s.n = 0;
        frame(&s, 0, FF_WS_OP_TEXT, ok, cut);
        frame(&s, 1, FF_WS_OP_CONT, ok + cut, n - cut);
        expect_n(&PLAIN, &s, (const char *)w.p, w.n, "valid UTF-8 in two fragments");
        /* three fragments: one byte in the middle */
        if (cut < n) {
            s.n = 0;
            frame(&s, 0, FF_WS_OP_TEXT, ok, cut);
            frame(&s, 0, FF_WS_OP_CONT, ok + cut, 1);
            frame(&s, 1, FF_WS_OP_CONT, ok + cut + 1, n - cut - 1);
            expect_n(&PLAIN, &s, (const char *)w.p, w.n, "valid UTF-8 in three fragments");
        }
    }
    /* invalid sequences, whole and split at every byte */
    static const char *const bad[] = {
        "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf", "\xf0\x80\x80\x80",
        "\xf0\x8f\xbf\xbf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xf4\x90\x80\x80",
        "\xf5\x80\x80\x80", "\xff", "\xfe", "\x80", "\xbf", "\xc2\x41", "\xe2\x82\x41",
        "\xc2", "\xe2\x82", "\xf0\x9f\x98", "ok\xc3",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t bn = strlen(bad[i]);
        for (size_t cut = 0; cut <= bn; cut++) {
            char name[48];
            snprintf(name, sizeof name, "invalid UTF-8 %zu cut %zu", i, cut);
            s.n = 0;
            frame(&s, 0, FF_WS_OP_TEXT, bad[i], cut);
            frame(&s, 1, FF_WS_OP_CONT, bad[i] + cut, bn - cut);
            expect(&PLAIN, &s, "E1007;", name);
        }
        /* as binary it is fine */
        s.n = 0;
        frame(&s, 1, FF_WS_OP_BINARY, bad[i], bn);
        w.n = 0;
        snprintf(tmp, sizeof tmp, "B%zu:", bn);
        bputs(&w, tmp);
        bput(&w, bad[i], bn);
        bputs(&w, ";");
        expect_n(&PLAIN, &s, (const char *)w.p, w.n, "binary is not checked");
    }
    /* an invalid byte is refused as soon as its fragment arrives */
    ff_ws *ws = ff_ws_new(&PLAIN);
    ff_ws_event ev;
    size_t used;
    s.n = 0;
    frame(&s, 0, FF_WS_OP_TEXT, "\xff", 1);
    CHECK(ff_ws_read(ws, (char *)s.p, s.n, &used, &ev) == 1 && ev.kind == FF_WS_EV_ERROR &&
              ev.code == 1007, "early 1007");
    ff_ws_free(ws);
    free(s.p);
    free(w.p);
}

static void test_max_message(void)
{
    ff_ws_config cfg = {.max_message = 10};
    bytes s = {0};
    frame(&s, 1, FF_WS_OP_BINARY, "0123456789", 10);
    expect(&cfg, &s, "B10:0123456789;", "exactly max");
    s.n = 0;
    frame(&s, 1, FF_WS_OP_BINARY, "0123456789a", 11);
    expect(&cfg, &s, "E1009;", "max + 1");
    s.n = 0;
    frame(&s, 0, FF_WS_OP_TEXT, "012345", 6);
    frame(&s, 1, FF_WS_OP_CONT, "6789", 4);
    frame(&s, 0, FF_WS_OP_TEXT, "012345", 6);
    frame(&s, 1, FF_WS_OP_CONT, "6789a", 5);
    expect(&cfg, &s, "T10:0123456789;E1009;", "over fragments");
    /* refused at the header, before any payload arrives */
    s.n = 0;
    unsigned char h[14] = {0x82, 0xFF, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4};
    bput(&s, h, sizeof h);
    expect(&cfg, &s, "E1009;", "announced length over max");
    /* control frames do not count */
    s.n = 0;
    frame(&s, 1, FF_WS_OP_PING, "0123456789abc", 13);
    expect(&cfg, &s, "P13:0123456789abc;", "ping over max_message");
    free(s.p);
}

static void test_deflate(void)
{
    static char text[20000];
    cdeflate c;
    bytes s = {0}, z = {0}, w = {0};
    char tmp[32];

    for (size_t i = 0; i < sizeof text; i++)
        text[i] = "the quick brown fox \xc3\xa9 jumps "[i % 29];
    text[sizeof text - 1] = 'x'; /* cut at a character boundary */
    if ((unsigned char)text[sizeof text - 2] == 0xc3)
        text[sizeof text - 2] = 'y';

    /* with context takeover: the second message refers back to the first */
    for (int reset = 0; reset < 2; reset++) {
        const ff_ws_config *cfg = reset ? &DEFL_NCT : &DEFL;
        cdeflate_init(&c, 15);
        s.n = 0;
        w.n = 0;
        for (int m = 0; m < 3; m++) {
            compress_msg(&c, text, sizeof text, reset, &z);
            frame_ex(&s, 1, 4, FF_WS_OP_TEXT, z.p, z.n, 0, 1);
            snprintf(tmp, sizeof tmp, "T%zu:", sizeof text);
            bputs(&w, tmp);
            bput(&w, text, sizeof text);
            bputs(&w, ";");
            if (m == 1)
                CHECK(reset || z.n < 200, "takeover: the repeat is tiny (%zu)", z.n);
            frame(&s, 1, FF_WS_OP_BINARY, "u", 1); /* uncompressed between */
            bputs(&w, "B1:u;");
        }
        expect_n(cfg, &s, (const char *)w.p, w.n, reset ? "deflate, no takeover" : "deflate, takeover");
        cdeflate_end(&c);
    }

    /* a compressed message in fragments, pings between */
    cdeflate_init(&c, 15);
    compress_msg(&c, "Hello, compressed world", 23, 0, &z);
    s.n = 0;
    frame_ex(&s, 0, 4, FF_WS_OP_TEXT, z.p, 5, 0, 1);
    frame(&s, 1, FF_WS_OP_PING, "", 0);
    frame(&s, 0, FF_WS_OP_CONT, z.p + 5, 3);
    frame(&s, 1, FF_WS_OP_CONT, z.p + 8, z.n - 8);
    expect(&DEFL, &s, "P0:;T23:Hello, compressed world;", "fragmented compressed");
    cdeflate_end(&c);

    /* a stream ended with BFINAL (Z_FINISH) is read too */
    {
        z_stream d = {0};
        unsigned char out[256];
        deflateInit2(&d, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
        d.next_in = (Bytef *)"finished";
        d.avail_in = 8;
        d.next_out = out;
        d.avail_out = sizeof out;
        deflate(&d, Z_FINISH);
        s.n = 0;
        frame_ex(&s, 1, 4, FF_WS_OP_BINARY, out, sizeof out - d.avail_out, 0, 1);
        frame_ex(&s, 1, 4, FF_WS_OP_BINARY, out, sizeof out - d.avail_out, 0, 1);
        deflateEnd(&d);
        expect(&DEFL, &s, "B8:finished;B8:finished;", "BFINAL streams");
    }

    /* an empty compressed message: just the 00 the RFC suggests, or nothing */
    s.n = 0;
    frame_ex(&s, 1, 4, FF_WS_OP_TEXT, "\0", 1, 0, 1);
    frame_ex(&s, 1, 4, FF_WS_OP_TEXT, "", 0, 0, 1);
    expect(&DEFL, &s, "T0:;T0:;", "empty compressed");

    /* compressed text that is not UTF-8 once inflated */
    cdeflate_init(&c, 15);
    compress_msg(&c, "ab\xed\xa0\x80", 5, 0, &z);
    s.n = 0;
    frame_ex(&s, 1, 4, FF_WS_OP_TEXT, z.p, z.n, 0, 1);
    expect(&DEFL, &s, "E1007;", "compressed, not UTF-8");
    compress_msg(&c, "ab\xe2\x82", 4, 1, &z);
    s.n = 0;
    frame_ex(&s, 1, 4, FF_WS_OP_TEXT, z.p, z.n, 0, 1);
    expect(&DEFL, &s, "E1007;", "compressed, cut inside a character");
    cdeflate_end(&c);

    /* corrupt data */
    s.n = 0;
    frame_ex(&s, 1, 4, FF_WS_OP_BINARY, "\xff\xff\xff\xff", 4, 0, 1);
    expect(&DEFL, &s, "E1007;", "corrupt deflate data");

    /* max_message after inflating: a small wire size that inflates past it */
    {
        static char zeros[100000];
        ff_ws_config small = DEFL;
        small.max_message = 50000;
        cdeflate_init(&c, 15);
        compress_msg(&c, zeros, 50000, 1, &z);
        s.n = 0;
        frame_ex(&s, 1, 4, FF_WS_OP_BINARY, z.p, z.n, 0, 1);
        w.n = 0;
        bputs(&w, "B50000:");
        bput(&w, zeros, 50000);
        bputs(&w, ";");
        expect_n(&small, &s, (const char *)w.p, w.n, "inflates to exactly max");
        compress_msg(&c, zeros, 50001, 1, &z);
        CHECK(z.n < 200, "bomb is small on the wire (%zu)", z.n);
        s.n = 0;
        frame_ex(&s, 1, 4, FF_WS_OP_BINARY, z.p, z.n, 0, 1);
        expect(&small, &s, "E1009;", "inflates past max");
        compress_msg(&c, zeros, sizeof zeros, 1, &z);
        s.n = 0;
        frame_ex(&s, 0, 4, FF_WS_OP_BINARY, z.p, z.n / 2, 0, 1);
        frame_ex(&s, 1, 0, FF_WS_OP_CONT, z.p + z.n / 2, z.n - z.n / 2, 0, 1);
        expect(&small, &s, "E1009;", "inflates past max, fragmented");
        /* a text bomb: the UTF-8 verdict of what fits comes first, same in every split */
        compress_msg(&c, zeros, sizeof zeros, 1, &z);
        s.n = 0;
        frame_ex(&s, 1, 4, FF_WS_OP_TEXT, z.p, z.n, 0, 1);
        expect(&small, &s, "E1009;", "text bomb");
        cdeflate_end(&c);
        /* the wire size itself over max_message (plus slack) */
        ff_ws_config tiny = DEFL;
        tiny.max_message = 100;
        s.n = 0;
        frame_ex(&s, 1, 4, FF_WS_OP_BINARY, zeros, 2000, 0, 1);
        expect(&tiny, &s, "E1009;", "compressed wire size over the limit");
    }
    free(s.p);
    free(z.p);
    free(w.p);
}

/* What an idle connection holds: no zlib stream before the first compressed
 * message or after one whose context the client resets; a big message's
 * buffer freed once it was delivered. */
static void test_memory(void)
{
    ff_ws *ws = ff_ws_new(&DEFL);
    ff_ws_event ev;
    size_t used;
    bytes s = {0}, z = {0};
    static char big[100000];
    cdeflate c;

    CHECK(sizeof(ff_ws) <= 400, "ff_ws is %zu bytes", sizeof(ff_ws));
    CHECK(ws->inflater == NULL && ws->deflater == NULL && ws->msg == NULL, "lazy");
    frame(&s, 1, FF_WS_OP_BINARY, big, sizeof big);
    CHECK(ff_ws_read(ws, (char *)s.p, s.n, &used, &ev) == 1 && ev.len == sizeof big, "big");
    CHECK(ws->inflater == NULL, "no inflater for an uncompressed message");
    CHECK(ff_ws_read(ws, "", 0, &used, &ev) == 0 && ws->msg == NULL, "big buffer freed");
    s.n = 0;
    frame(&s, 1, FF_WS_OP_TEXT, "small", 5);
    CHECK(ff_ws_read(ws, (char *)s.p, s.n, &used, &ev) == 1 && ev.len == 5, "small");
    CHECK(ff_ws_read(ws, "", 0, &used, &ev) == 0 && ws->msg_cap <= FF_WS_KEEP_BUFFER,
          "a small buffer is kept (%zu)", ws->msg_cap);
    s.n = 0;
    cdeflate_init(&c, 15);
    compress_msg(&c, "abc", 3, 0, &z);
    frame_ex(&s, 1, 4, FF_WS_OP_BINARY, z.p, z.n, 0, 1);
    CHECK(ff_ws_read(ws, (char *)s.p, s.n, &used, &ev) == 1 && ev.len == 3, "compressed");
    CHECK(ws->inflater != NULL, "takeover keeps the inflater");
    ff_ws_free(ws);

    ws = ff_ws_new(&DEFL_NCT);
    CHECK(ff_ws_read(ws, (char *)s.p, s.n, &used, &ev) == 1 && ev.len == 3, "compressed");
    CHECK(ws->inflater == NULL, "no takeover: inflater dropped after the message");
    ff_ws_free(ws);
    cdeflate_end(&c);
    free(s.p);
    free(z.p);
}

int main(void)
{
    test_messages();
    test_protocol_errors();
    test_close();
    test_utf8();
    test_max_message();
    test_deflate();
    test_memory();
    return th_summary("ws/read");
}
