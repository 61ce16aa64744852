/* util/hex.h — one hex digit's value, or -1 (percent-escapes, \u escapes). */
#ifndef FF_UTIL_HEX_H
#define FF_UTIL_HEX_H

static inline int ff_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
