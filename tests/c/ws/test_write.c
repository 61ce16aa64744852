/* tests/c/ws/test_write.c — unit tests of the writer (ws/write.c and the
 * deflating side of ws/deflate.c): frame heads and minimal lengths, control
 * and close frames, and deflated messages read back by a zlib inflater of
 * the test's own, with and without context takeover, and through the reader
 * after masking them as a client would. */
#include "wsclient.h"

/* One server frame parsed from b at *at: opcode, rsv1, payload. */
typedef struct {
    int fin, rsv1, op;
    const unsigned char *data;
    size_t len, head;
} sframe;

static int parse_frame(const ff_buf *b, size_t *at, sframe *f)
{
    const unsigned char *p = (const unsigned char *)b->data + b->off + *at;
    size_t avail = b->len - b->off - *at, hn = 2;
    uint64_t len;

    if (avail < 2 || (p[1] & 0x80))
        return -1;
    f->fin = p[0] >> 7;
    f->rsv1 = (p[0] >> 6) & 1;
    f->op = p[0] & 15;
    len = p[1] & 0x7F;
    if (len == 126) {
        len = (uint64_t)p[2] << 8 | p[3];
        hn = 4;
        if (len < 126)
            return -1; /* not minimal */
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | p[2 + i];
        hn = 10;
        if (len <= 0xFFFF)
            return -1;
    }
    if (avail < hn + len)
        return -1;
    f->data = p + hn;
    f->len = (size_t)len;
    f->head = hn;
    *at += hn + (size_t)len;
    return 0;
}

static void test_heads(void)
{
    static char data[70000];
    static const size_t lens[] = {0, 1, 125, 126, 65535, 65536, 70000};
    static const size_t heads[] = {2, 2, 2, 4, 4, 10, 10};
    ff_ws_config cfg = {.max_message = 1 << 20};
    ff_ws *ws = ff_ws_new(&cfg);
    ff_buf out = {0};

    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)i;
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        sframe f;
        size_t at = 0;
        out.len = out.off = 0;
        CHECK(ff_ws_write_message(ws, &out, FF_WS_OP_BINARY, data, lens[i]) == 0, "write");
        CHECK(parse_frame(&out, &at, &f) == 0 && at == out.len && f.fin && !f.rsv1 &&
                  f.op == FF_WS_OP_BINARY && f.len == lens[i] && f.head == heads[i] &&
                  memcmp(f.data, data, lens[i]) == 0,
              "len %zu", lens[i]);
    }
    /* control frames: cut to 125 */
    out.len = 0;
    CHECK(ff_ws_write_control(&out, FF_WS_OP_PING, data, 300) == 0, "ping");
    CHECK(ff_ws_write_control(&out, FF_WS_OP_PONG, "x", 1) == 0, "pong");
    sframe f;
    size_t at = 0;
    CHECK(parse_frame(&out, &at, &f) == 0 && f.op == FF_WS_OP_PING && f.len == 125, "ping 125");
    CHECK(parse_frame(&out, &at, &f) == 0 && f.op == FF_WS_OP_PONG && f.len == 1 &&
              f.data[0] == 'x' && at == out.len, "pong");
    /* close frames */
    out.len = 0;
    CHECK(ff_ws_write_close(&out, 0, "ignored", 7) == 0, "close, no code");
    CHECK(ff_ws_write_close(&out, 1000, NULL, 0) == 0, "close 1000");
    CHECK(ff_ws_write_close(&out, 4001, "bye", 3) == 0, "close with reason");
    char longr[200];
    memset(longr, 'r', sizeof longr);
    CHECK(ff_ws_write_close(&out, 1001, longr, sizeof longr) == 0, "long reason");
    /* a 2-byte character across the 123-byte cut */
    memcpy(longr + 122, "\xc3\xa9", 2);
    CHECK(ff_ws_write_close(&out, 1011, longr, sizeof longr) == 0, "cut at a character");
    at = 0;
    CHECK(parse_frame(&out, &at, &f) == 0 && f.op == FF_WS_OP_CLOSE && f.len == 0, "empty close");
    CHECK(parse_frame(&out, &at, &f) == 0 && f.len == 2 && f.data[0] == 0x03 && f.data[1] == 0xe8,
          "1000");
    CHECK(parse_frame(&out, &at, &f) == 0 && f.len == 5 && f.data[0] == 0x0f &&
              f.data[1] == 0xa1 && memcmp(f.data + 2, "bye", 3) == 0, "4001 bye");
    CHECK(parse_frame(&out, &at, &f) == 0 && f.len == 125, "reason cut to 123");
    CHECK(parse_frame(&out, &at, &f) == 0 && f.len == 124 && f.data[123] == 'r',
          "cut before the character (%zu)", f.len);
    /* output goes after what is there, consumed bytes included */
    ff_buf_free(&out);
    ff_buf_puts(&out, "0123456789");
    ff_buf_consume(&out, 4);
    CHECK(ff_ws_write_control(&out, FF_WS_OP_PING, "z", 1) == 0 && ff_buf_used(&out) == 9 &&
              memcmp(out.data + out.off, "456789\x89\x01z", 9) == 0, "appended");
    ff_buf_free(&out);
    ff_ws_free(ws);
}

static void test_deflate_roundtrip(void)
{
    static char text[300000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (i / 7) % 5 ? "lorem ipsum dolor sit amet "[i % 27] : (char)('A' + i % 23);
    static const size_t sizes[] = {0, 1, 10, 99, 100, 1000, 65536, 300000};

    for (int mode = 0; mode < 4; mode++) {
        /* 0: takeover, 1: server_no_context_takeover, 2: window 9, 3: window 10 no takeover */
        ff_ws_config cfg = {.max_message = 1 << 20, .deflate = {1, mode & 1, 0,
                            mode == 2 ? 9 : mode == 3 ? 10 : 15, 15}, .deflate_min = 100};
        ff_ws *ws = ff_ws_new(&cfg);
        ff_buf out = {0};
        z_stream z = {0};
        bytes back = {0};
        int bits = cfg.deflate.server_max_window_bits;
        CHECK(inflateInit2(&z, -bits) == Z_OK, "inflateInit2");
        CHECK(ws->deflater == NULL, "no deflater before the first message");
        for (int round = 0; round < 2; round++) {
            for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
                size_t n = sizes[k];
                sframe f;
                size_t at = 0;
                out.len = out.off = 0;
                CHECK(ff_ws_write_message(ws, &out, FF_WS_OP_TEXT, text, n) == 0, "write %zu", n);
                CHECK(parse_frame(&out, &at, &f) == 0 && at == out.len && f.fin &&
                          f.op == FF_WS_OP_TEXT, "frame of %zu (mode %d)", n, mode);
                CHECK(f.rsv1 == (n >= 100), "RSV1 iff compressed (%zu)", n);
                if (!f.rsv1) {
                    CHECK(f.len == n && memcmp(f.data, text, n) == 0, "plain %zu", n);
                    continue;
                }
                if (cfg.deflate.server_no_context_takeover) {
                    /* the server reset: a fresh inflater must read it */
                    inflateEnd(&z);
                    inflateInit2(&z, -bits);
                    CHECK(ws->deflater == NULL, "deflater dropped after the message");
                }
                CHECK(inflate_msg(&z, f.data, f.len, &back) == 0 && back.n == n &&
                          memcmp(back.p, text, n) == 0,
                      "round trip %zu (mode %d round %d)", n, mode, round);
            }
        }
        /* the same message twice: with takeover the second is a back-reference */
        size_t first = 0;
        for (int twice = 0; twice < 2; twice++) {
            sframe f;
            size_t at = 0;
            out.len = out.off = 0;
            ff_ws_write_message(ws, &out, FF_WS_OP_TEXT, text, 1000);
            parse_frame(&out, &at, &f);
            if (cfg.deflate.server_no_context_takeover) {
                inflateEnd(&z);
                inflateInit2(&z, -bits);
            }
            CHECK(inflate_msg(&z, f.data, f.len, &back) == 0 && back.n == 1000 &&
                      memcmp(back.p, text, 1000) == 0, "twice (mode %d)", mode);
            if (twice == 0)
                first = f.len;
            else if (cfg.deflate.server_no_context_takeover)
                CHECK(f.len == first, "no takeover: same size again (%zu, %zu)", f.len, first);
            else if (bits >= 10) /* the window holds the whole first one */
                CHECK(f.len < 20 && f.len < first, "takeover: the repeat is small (%zu)", f.len);
        }
        inflateEnd(&z);
        free(back.p);
        ff_buf_free(&out);
        ff_ws_free(ws);
    }
}

/* The writer's frames, masked as a client would send them, read back by the
 * reader with the same parameters: the two ends agree. */
static void test_through_reader(void)
{
    ff_ws_config cfg = {.max_message = 1 << 20, .deflate = {1, 0, 0, 15, 15}};
    ff_ws *w = ff_ws_new(&cfg), *r = ff_ws_new(&cfg);
    ff_buf out = {0};
    static const char *const msgs[] = {"", "a", "h\xc3\xa9llo h\xc3\xa9llo h\xc3\xa9llo",
                                       "hello hello hello"};
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < 4; i++) {
            sframe f;
            size_t at = 0, used;
            bytes s = {0};
            ff_ws_event ev;
            out.len = out.off = 0;
            ff_ws_write_message(w, &out, FF_WS_OP_TEXT, msgs[i], strlen(msgs[i]));
            parse_frame(&out, &at, &f);
            frame_ex(&s, 1, f.rsv1 ? 4 : 0, f.op, f.data, f.len, 0, 1);
            CHECK(ff_ws_read(r, (char *)s.p, s.n, &used, &ev) == 1 && ev.kind == FF_WS_EV_TEXT &&
                      ev.len == strlen(msgs[i]) && memcmp(ev.data, msgs[i], ev.len) == 0,
                  "read back %zu round %d", i, round);
            free(s.p);
        }
    ff_buf_free(&out);
    ff_ws_free(w);
    ff_ws_free(r);
}

int main(void)
{
    test_heads();
    test_deflate_roundtrip();
    test_through_reader();
    return th_summary("ws/write");
}
