/* http/forwarded.c — trusted proxies and what they forward. */
#include "http/forwarded.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* An address in text to (family, bytes); IPv4-mapped IPv6 becomes IPv4. */
static int parse_ip(const char *s, size_t n, int *family, uint8_t addr[16])
{
    char tmp[64];
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (inet_pton(AF_INET, tmp, addr) == 1) {
        *family = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, tmp, addr) != 1)
        return -1;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(addr, mapped, 12) == 0) {
        memmove(addr, addr + 12, 4);
        *family = 4;
    } else {
        *family = 6;
    }
    return 0;
}

int ff_trust_parse(ff_trust *t, const char *spec, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    const char *p = spec;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *item = p;
        while (*p && *p != ',')
            p++;
        size_t len = (size_t)(p - item);
        while (len && item[len - 1] == ' ')
            len--;
        if (!len)
            continue;
        if (len == 1 && *item == '*') {
            t->any = 1;
            continue;
        }
        if (t->n == FF_TRUST_MAX) {
            snprintf(err, errlen, "more than %d forwarded-allow-ips entries", FF_TRUST_MAX);
            return -1;
        }
        const char *slash = memchr(item, '/', len);
        size_t alen = slash ? (size_t)(slash - item) : len;
        int family;
        uint8_t addr[16] = {0};
        if (parse_ip(item, alen, &family, addr) < 0) {
            snprintf(err, errlen, "forwarded-allow-ips: %.*s is not an IP address or network",
                     (int)(len > 60 ? 60 : len), item);
            return -1;
        }
        int max = family == 4 ? 32 : 128, prefix = max;
        if (slash) {
            char *end;
            char num[8] = {0};
            size_t nl = len - alen - 1;
            memcpy(num, slash + 1, nl < sizeof num - 1 ? nl : sizeof num - 1);
            long v = strtol(num, &end, 10);
            if (nl == 0 || nl >= sizeof num || *end || v < 0 || v > max) {
                snprintf(err, errlen, "forwarded-allow-ips: bad prefix length in %.*s",
                         (int)(len > 60 ? 60 : len), item);
                return -1;
            }
            prefix = (int)v;
        }
        t->nets[t->n].family = family;
        memcpy(t->nets[t->n].addr, addr, 16);
        t->nets[t->n].prefix = prefix;
        t->n++;
    }
    return 0;
}

static int in_net(const uint8_t *a, const uint8_t *net, int prefix)
{
    int full = prefix / 8, rest = prefix % 8;
    if (memcmp(a, net, (size_t)full) != 0)
        return 0;
    if (!rest)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[full] & mask) == (net[full] & mask);
}

int ff_trust_has(const ff_trust *t, const char *ip, size_t n)
{
    if (t->any)
        return 1;
    int family;
    uint8_t addr[16] = {0};
    if (parse_ip(ip, n, &family, addr) < 0)
        return 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->nets[i].family == family && in_net(addr, t->nets[i].addr, t->nets[i].prefix))
            return 1;
    return 0;
}

/* One X-Forwarded-For item without surrounding blanks; IPv6 brackets and an
 * IPv4 ":port" suffix are dropped, so "[::1]:80" and "1.2.3.4:5" name hosts. */
static void host_of(const char **s, size_t *n)
{
    const char *p = *s;
    size_t len = *n;
    while (len && (*p == ' ' || *p == '\t'))
        p++, len--;
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    if (len && *p == '[') {
        const char *close = memchr(p, ']', len);
        if (close) {
            len = (size_t)(close - p - 1);
            p++;
        }
    } else {
        const char *colon = memchr(p, ':', len);
        if (colon && !memchr(colon + 1, ':', len - (size_t)(colon - p) - 1))
            len = (size_t)(colon - p); /* one colon: IPv4 with a port */
    }
    *s = p;
    *n = len;
}

size_t ff_forwarded_client(const ff_trust *t, const char *v, size_t n, char *host, size_t cap)
{
    const char *first = NULL;
    size_t first_n = 0;
    size_t end = n;
    while (end > 0) {
        size_t start = end;
        while (start > 0 && v[start - 1] != ',')
            start--;
        const char *item = v + start;
        size_t len = end - start;
        host_of(&item, &len);
        if (len) {
            first = item;
            first_n = len;
            if (!ff_trust_has(t, item, len))
                break;
        }
        end = start ? start - 1 : 0;
    }
    if (!first || first_n >= cap)
        return 0;
    for (size_t i = 0; i < first_n; i++) /* an address has no control bytes or quotes */
        if (!(isalnum((unsigned char)first[i]) || first[i] == '.' || first[i] == ':' ||
              first[i] == '-' || first[i] == '_'))
            return 0;
    memcpy(host, first, first_n);
    host[first_n] = '\0';
    return first_n;
}

size_t ff_forwarded_proto(const char *v, size_t n, char *scheme, size_t cap)
{
    size_t start = n;
    while (start > 0 && v[start - 1] != ',')
        start--;
    const char *p = v + start;
    size_t len = n - start;
    while (len && (*p == ' ' || *p == '\t'))
        p++, len--;
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    static const char *const OK[] = {"http", "https", "ws", "wss"};
    for (size_t i = 0; i < 4; i++)
        if (strlen(OK[i]) == len && strncasecmp(OK[i], p, len) == 0 && len < cap) {
            memcpy(scheme, OK[i], len + 1);
            return len;
        }
    return 0;
}
