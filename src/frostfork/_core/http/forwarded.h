/* http/forwarded.h — the client and scheme behind a trusted proxy
 * (X-Forwarded-For, X-Forwarded-Proto), for --forwarded-allow-ips.
 *
 * Pure C. The peer's address decides whether the headers are believed at
 * all; the client is then the rightmost X-Forwarded-For entry that is not
 * itself a trusted proxy (so a client cannot forge its address by sending
 * the header itself: the proxy appends the address it saw). */
#ifndef FF_HTTP_FORWARDED_H
#define FF_HTTP_FORWARDED_H

#include <stddef.h>
#include <stdint.h>

#define FF_TRUST_MAX 32

typedef struct {
    int any;              /* "*": every peer is a trusted proxy */
    size_t n;
    struct {
        int family;       /* 4 or 6 */
        uint8_t addr[16];
        int prefix;       /* bits that must match */
    } nets[FF_TRUST_MAX];
} ff_trust;

/* Parses gunicorn's spelling: a comma-separated list of addresses and
 * networks ("127.0.0.1,10.0.0.0/8,::1"), or "*". Returns 0, or -1 with err set. */
int ff_trust_parse(ff_trust *t, const char *spec, char *err, size_t errlen);

/* Whether a textual IPv4/IPv6 address (IPv4-mapped IPv6 compared as IPv4) is trusted. */
int ff_trust_has(const ff_trust *t, const char *ip, size_t n);

/* The client address from an X-Forwarded-For value seen from a trusted
 * peer: the rightmost entry that is not trusted, else the leftmost. Writes
 * it NUL-terminated into host; returns its length, or 0 when the value names
 * no address (the peer stays the client). */
size_t ff_forwarded_client(const ff_trust *t, const char *v, size_t n, char *host, size_t cap);

/* The scheme from an X-Forwarded-Proto value: "http", "https", "ws" or
 * "wss" (the last item of a list, lower-cased); 0 for anything else. */
size_t ff_forwarded_proto(const char *v, size_t n, char *scheme, size_t cap);

#endif
