/* util/copy.h — copying the short byte runs JSON strings and keys mostly are.
 * Pure C. */
#ifndef FF_UTIL_COPY_H
#define FF_UTIL_COPY_H

#include <stdint.h>
#include <string.h>

/* Copies n bytes; the short strings most keys and values are get two
 * overlapping fixed-size moves instead of a call to memcpy or a byte loop. */
static inline void ff_copy_small(char *dst, const void *from, size_t n)
{
    const unsigned char *src = from;
    if (n >= 8 && n <= 16) {
        uint64_t a, b;
        memcpy(&a, src, 8);
        memcpy(&b, src + n - 8, 8);
        memcpy(dst, &a, 8);
        memcpy(dst + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        memcpy(&a, src, 4);
        memcpy(&b, src + n - 4, 4);
        memcpy(dst, &a, 4);
        memcpy(dst + n - 4, &b, 4);
    } else if (n >= 2 && n < 4) {
        uint16_t a, b;
        memcpy(&a, src, 2);
        memcpy(&b, src + n - 2, 2);
        memcpy(dst, &a, 2);
        memcpy(dst + n - 2, &b, 2);
    } else if (n == 1) {
        *dst = (char)*src;
    } else if (n > 16) {
        memcpy(dst, src, n);
    }
}

#endif
