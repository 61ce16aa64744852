/* ws_echo.c — a WebSocket echo load generator for bench/run-ws.
 *
 * N connections on one epoll loop; each sends one masked text frame of SIZE bytes
 * (default 100), waits for the echo, checks it, and sends the next, for DURATION
 * seconds; prints messages/s. No extension is offered, so no server compresses.
 *
 *   ws_echo HOST PORT PATH CONNS DURATION [SIZE]   the load; prints "messages/s N"
 *   ws_echo --check HOST PORT PATH                 one echo, exit 0 when it was right
 *
 * Built by bench/run-ws with cc -O2; plain POSIX + Linux epoll, no other library. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PAYLOAD 65535
#define RBUF (2 * (MAX_PAYLOAD + 16))

typedef struct {
    int fd;
    unsigned char out[MAX_PAYLOAD + 16]; /* the frame to send, prebuilt and masked */
    size_t out_len, out_off;             /* bytes of it still unsent: out_off..out_len */
    unsigned char in[RBUF];
    size_t in_len;
    uint64_t echoes;
    int dead;
} conn;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A blocking TCP connection and the opening handshake; the socket is left
 * non-blocking after the 101, or -1 (with a message) on any failure. Bytes the
 * server sent after its head (none expected) would be lost, so they are refused. */
static int open_ws(const char *host, int port, const char *path) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) { perror("socket"); return -1; }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) { fprintf(stderr, "bad host %s\n", host); close(fd); return -1; }
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); close(fd); return -1; }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     path, host, port);
    if (write(fd, req, (size_t)n) != n) { perror("write handshake"); close(fd); return -1; }
    char head[4096];
    size_t got = 0;
    while (got < sizeof head - 1) { /* byte by byte: never read past the head */
        ssize_t r = read(fd, head + got, 1);
        if (r <= 0) { fprintf(stderr, "handshake: connection closed\n"); close(fd); return -1; }
        got++;
        if (got >= 4 && memcmp(head + got - 4, "\r\n\r\n", 4) == 0) break;
    }
    head[got] = 0;
    if (strncmp(head, "HTTP/1.1 101", 12) != 0 ||
        !strstr(head, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")) { /* the RFC's example key's accept */
        fprintf(stderr, "handshake refused: %.200s\n", head);
        close(fd);
        return -1;
    }
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) { perror("nonblock"); close(fd); return -1; }
    return fd;
}

/* The frame a client sends: FIN + opcode, the mask bit and length, a mask key,
 * and the masked payload. Returns its length. */
static size_t build_frame(unsigned char *out, int opcode, const unsigned char *payload, size_t len,
                          uint32_t key_seed) {
    size_t at = 0;
    out[at++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        out[at++] = (unsigned char)(0x80 | len);
    } else {
        out[at++] = 0x80 | 126;
        out[at++] = (unsigned char)(len >> 8);
        out[at++] = (unsigned char)len;
    }
    unsigned char key[4] = {(unsigned char)(key_seed >> 24), (unsigned char)(key_seed >> 16),
                            (unsigned char)(key_seed >> 8), (unsigned char)key_seed};
    memcpy(out + at, key, 4);
    at += 4;
    for (size_t i = 0; i < len; i++) out[at + i] = payload[i] ^ key[i & 3];
    return at + len;
}

/* Writes what is left of c->out; 1 when all of it went, 0 when the socket is
 * full (the rest waits for EPOLLOUT), -1 on an error. */
static int flush_out(conn *c) {
    while (c->out_off < c->out_len) {
        ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (w < 0) return errno == EAGAIN ? 0 : -1;
        c->out_off += (size_t)w;
    }
    return 1;
}

/* Starts the next message: the whole prebuilt frame again. */
static int send_next(conn *c, size_t frame_len) {
    c->out_len = frame_len;
    c->out_off = 0;
    return flush_out(c);
}

/* Reads what the socket has and takes whole server frames off the buffer:
 * an echo of `payload` counts, a ping is answered with a pong (written
 * directly: it is tiny), a close or anything else marks the connection dead.
 * Returns the echoes completed now, or -1 when the connection failed. */
static int on_readable(conn *c, const unsigned char *payload, size_t len, uint32_t seed) {
    int done = 0;
    for (;;) {
        ssize_t r = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);
        if (r == 0) return -1;
        if (r < 0) {
            if (errno == EAGAIN) break;
            return -1;
        }
        c->in_len += (size_t)r;
        size_t at = 0;
        while (c->in_len - at >= 2) {
            unsigned char b0 = c->in[at], b1 = c->in[at + 1];
            size_t hl = 2, n = b1 & 0x7F;
            if (b1 & 0x80) return -1; /* servers never mask */
            if (n == 126) {
                if (c->in_len - at < 4) break;
                n = (size_t)c->in[at + 2] << 8 | c->in[at + 3];
                hl = 4;
            } else if (n == 127) {
                return -1; /* nothing this big is echoed here */
            }
            if (c->in_len - at < hl + n) break;
            const unsigned char *p = c->in + at + hl;
            int op = b0 & 0x0F;
            if (op == 0x9) { /* ping: pong with the same payload */
                if (n > 125) return -1;
                unsigned char pong[256];
                size_t pl = build_frame(pong, 0xA, p, n, seed);
                if (write(c->fd, pong, pl) != (ssize_t)pl) return -1;
            } else if (op == 0xA) {
                /* a pong: ignored */
            } else if (op == 0x1 && (b0 & 0x80) && n == len && memcmp(p, payload, len) == 0) {
                c->echoes++;
                done++;
            } else {
                fprintf(stderr, "unexpected frame: opcode %d, %zu bytes\n", op, n);
                return -1;
            }
            at += hl + n;
        }
        memmove(c->in, c->in + at, c->in_len - at);
        c->in_len -= at;
    }
    return done;
}

int main(int argc, char **argv) {
    int check = argc > 1 && strcmp(argv[1], "--check") == 0;
    if ((check && argc != 5) || (!check && argc != 6 && argc != 7)) {
        fprintf(stderr, "usage: ws_echo HOST PORT PATH CONNS DURATION [SIZE]\n"
                        "       ws_echo --check HOST PORT PATH\n");
        return 2;
    }
    char **a = argv + check;
    const char *host = a[1], *path = a[3];
    int port = atoi(a[2]);
    int nconns = check ? 1 : atoi(a[4]);
    double duration = check ? 5 : atof(a[5]);
    size_t size = (!check && argc == 7) ? (size_t)atol(a[6]) : 100;
    if (nconns < 1 || nconns > 100000 || duration <= 0 || size > MAX_PAYLOAD) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    unsigned char *payload = malloc(size);
    for (size_t i = 0; i < size; i++) payload[i] = (unsigned char)('a' + i % 26);
    conn *cs = calloc((size_t)nconns, sizeof *cs);
    int ep = epoll_create1(0);
    if (!payload || !cs || ep < 0) { perror("setup"); return 1; }
    size_t frame_len = 0;
    for (int i = 0; i < nconns; i++) {
        cs[i].fd = open_ws(host, port, path);
        if (cs[i].fd < 0) return 1;
        frame_len = build_frame(cs[i].out, 0x1, payload, size, 0x9e3779b9u * (uint32_t)(i + 1));
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ev) < 0) { perror("epoll_ctl"); return 1; }
    }
    double start = now(), end = start + duration;
    uint64_t total = 0;
    int alive = nconns, errors = 0;
    for (int i = 0; i < nconns; i++)
        if (send_next(&cs[i], frame_len) < 0) { cs[i].dead = 1; alive--; errors++; }
    struct epoll_event evs[512];
    while (alive > 0) {
        double t = now();
        if (t >= end || (check && total >= 1)) break;
        int n = epoll_wait(ep, evs, 512, (int)((end - t) * 1000) + 1);
        if (n < 0 && errno != EINTR) { perror("epoll_wait"); return 1; }
        for (int k = 0; k < n; k++) {
            conn *c = &cs[evs[k].data.u32];
            if (c->dead) continue;
            int bad = 0;
            if (evs[k].events & EPOLLOUT && flush_out(c) < 0) bad = 1;
            if (!bad && evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                int got = on_readable(c, payload, size, 0x12345678u);
                if (got < 0) bad = 1;
                for (int j = 0; j < got && !bad; j++) {
                    total++;
                    if (send_next(c, frame_len) < 0) bad = 1;
                }
            }
            if (bad) { c->dead = 1; alive--; errors++; close(c->fd); c->fd = -1; }
        }
    }
    double elapsed = now() - start;
    for (int i = 0; i < nconns; i++)
        if (cs[i].fd >= 0) close(cs[i].fd);
    free(cs);
    free(payload);
    close(ep);
    if (check) {
        if (total == 1 && errors == 0) { printf("ok\n"); return 0; }
        fprintf(stderr, "no correct echo within 5 s\n");
        return 1;
    }
    printf("connections %d\nseconds %.2f\nmessages %llu\nerrors %d\nmessages/s %.0f\n", nconns,
           elapsed, (unsigned long long)total, errors, total / elapsed);
    return errors ? 1 : 0;
}
