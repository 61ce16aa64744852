/* tests/c/ws/test_faults.c — ws/ under allocation failure (built with
 * FF_FAULT_INJECT and util/fault.c): every allocation the reader, the
 * writer and the handshake answer make is failed in turn. Each must report
 * -1 (or NULL), leave its output buffer as it was, leak nothing (the C core's
 * live count, zlib's allocations included, returns to zero), and the writer
 * must stay usable: a message written after a failed one is still readable
 * by a client whose inflater kept its context. */
#include "wsclient.h"

#include "util/fault.h"

static void reader_run(void)
{
    static char big[9000];
    ff_ws_config cfg = {.max_message = 1 << 20, .deflate = {1, 0, 0, 15, 15}};
    bytes s = {0}, z = {0};
    cdeflate c;

    memset(big, 'b', sizeof big);
    cdeflate_init(&c, 15);
    compress_msg(&c, "compressed text, compressed text", 32, 0, &z);
    frame_ex(&s, 1, 4, FF_WS_OP_TEXT, z.p, z.n, 0, 1);
    frame(&s, 1, FF_WS_OP_BINARY, big, sizeof big);
    frame(&s, 1, FF_WS_OP_PING, "p", 1);
    compress_msg(&c, big, sizeof big, 0, &z);
    frame_ex(&s, 1, 4, FF_WS_OP_BINARY, z.p, z.n, 0, 1);
    cdeflate_end(&c);

    for (long at = 1; at < 200; at++) {
        ff_fault_arm(at, 0);
        ff_ws *ws = ff_ws_new(&cfg);
        int events = 0, oom = 0;
        if (ws) {
            const char *p = (const char *)s.p;
            size_t left = s.n, used;
            ff_ws_event ev;
            for (;;) {
                int r = ff_ws_read(ws, p, left, &used, &ev);
                if (r < 0) {
                    oom = 1;
                    break;
                }
                p += used;
                left -= used;
                if (r == 0)
                    break;
                CHECK(ev.kind != FF_WS_EV_ERROR, "no protocol error from a failed allocation");
                events++;
            }
            ff_ws_free(ws);
        } else {
            oom = 1;
        }
        int fired = ff_fault.fired;
        ff_fault_disarm();
        CHECK(ff_fault.live_c == 0, "reader, fail at %ld: %ld blocks leaked", at, ff_fault.live_c);
        CHECK(fired == oom, "reader, fail at %ld: fired %d, oom %d", at, fired, oom);
        if (!fired) {
            CHECK(events == 4, "all events without failure (%d)", events);
            CHECK(at > 5, "the reader allocates several times (%ld)", at);
            break;
        }
    }
    free(s.p);
    free(z.p);
}

static void writer_run(void)
{
    static char text[30000];
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = "abcdefgh ijk lmnop "[i % 19] + (char)(i % 3);
    for (int nct = 0; nct < 2; nct++)
    for (long at = 1; at < 200; at++) {
        ff_ws_config cfg = {.max_message = 1 << 20, .deflate = {1, nct, 0, 15, 15}};
        ff_ws *ws;
        ff_buf out = {0};
        z_stream z = {0};
        bytes back = {0};
        int fired;

        ws = ff_ws_new(&cfg);
        inflateInit2(&z, -15);
        /* a first message with no failure: the client's context has it */
        ff_buf_puts(&out, "keep");
        CHECK(ff_ws_write_message(ws, &out, FF_WS_OP_TEXT, text, sizeof text) == 0, "first");
        size_t hn = (unsigned char)out.data[5] == 126 ? 4 : (unsigned char)out.data[5] == 127 ? 10 : 2;
        CHECK(inflate_msg(&z, (unsigned char *)out.data + 4 + hn, out.len - 4 - hn, &back) == 0 &&
                  back.n == sizeof text, "first read");
        /* a fresh small buffer, so the next message must grow it */
        ff_buf_free(&out);
        ff_buf_puts(&out, "keep");

        ff_fault_arm(at, 0);
        int r = ff_ws_write_message(ws, &out, FF_WS_OP_BINARY, text + 7, sizeof text - 7);
        int r2 = ff_ws_write_close(&out, 1000, "x", 1);
        fired = ff_fault.fired;
        ff_fault_disarm();
        CHECK((r < 0 || r2 < 0) == fired, "fail at %ld: r %d r2 %d fired %d", at, r, r2, fired);
        if (r < 0)
            CHECK(out.len == 4 + (r2 == 0 ? 5u : 0u) && memcmp(out.data, "keep", 4) == 0,
                  "fail at %ld: output as it was", at);
        if (r == 0) {
            /* the message went out: the client reads it with its context */
            hn = (unsigned char)out.data[5] == 126 ? 4 : (unsigned char)out.data[5] == 127 ? 10 : 2;
            size_t plen = (unsigned char)out.data[5] == 126
                              ? (size_t)((unsigned char)out.data[6] << 8 | (unsigned char)out.data[7])
                              : (unsigned char)out.data[5];
            CHECK(inflate_msg(&z, (unsigned char *)out.data + 4 + hn, plen, &back) == 0 &&
                      back.n == sizeof text - 7 && memcmp(back.p, text + 7, back.n) == 0,
                  "fail at %ld: second read", at);
        }
        /* after a failure the writer still works, and its output stays readable */
        out.len = 4;
        CHECK(ff_ws_write_message(ws, &out, FF_WS_OP_TEXT, text, 5000) == 0, "after");
        hn = (unsigned char)out.data[5] == 126 ? 4 : 2;
        CHECK(inflate_msg(&z, (unsigned char *)out.data + 4 + hn, out.len - 4 - hn, &back) == 0 &&
                  back.n == 5000 && memcmp(back.p, text, 5000) == 0,
              "fail at %ld: a message after the failure reads back", at);
        ff_ws_free(ws);
        ff_buf_free(&out);
        inflateEnd(&z);
        free(back.p);
        CHECK(ff_fault.live_c == 0, "writer, fail at %ld: %ld blocks leaked", at, ff_fault.live_c);
        if (!fired) {
            CHECK(at > (nct ? 3 : 1), "the writer allocates (%ld)", at);
            break;
        }
    }
}

static void accept_run(void)
{
    ff_ws_handshake hs;
    memset(&hs, 0, sizeof hs);
    hs.key = "dGhlIHNhbXBsZSBub25jZQ==";
    hs.key_len = 24;
    hs.deflate = (ff_ws_deflate_params){1, 1, 0, 10, 15};
    for (long at = 1; at < 50; at++) {
        ff_buf out = {0};
        ff_buf_puts(&out, "0123456789");
        ff_buf_consume(&out, 3);
        ff_fault_arm(at, 1);
        static char extra[2000];
        memset(extra, 'x', sizeof extra); /* bigger than the buffer: it must grow */
        int r = ff_ws_write_accept(&out, &hs, "chat", 4, extra, sizeof extra);
        int fired = ff_fault.fired;
        ff_fault_disarm();
        CHECK((r < 0) == fired, "accept, fail at %ld", at);
        if (r < 0)
            CHECK(ff_buf_used(&out) == 7 && memcmp(out.data + out.off, "3456789", 7) == 0,
                  "accept, fail at %ld: output as it was", at);
        ff_buf_free(&out);
        CHECK(ff_fault.live_c == 0, "accept: leak");
        if (!fired) {
            CHECK(at > 1, "the answer grows the buffer (%ld)", at);
            break;
        }
    }
}

int main(void)
{
    reader_run();
    writer_run();
    accept_run();
    return th_summary("ws/faults");
}
