/* dispatch/strcache.h — a small per-worker cache of latin-1 str objects.
 *
 * WSGI environ keys (HTTP_HOST, ...) and short repeated values (methods,
 * protocol, peer address) are the same few strings request after request;
 * reusing the objects saves an allocation and a hash each time. Bounded: once
 * full, misses are simply created. */
#ifndef FF_DISPATCH_STRCACHE_H
#define FF_DISPATCH_STRCACHE_H

#include "module.h"

#define FF_STRCACHE_SIZE 64
#define FF_STRCACHE_MAXLEN 48

typedef struct {
    unsigned char len;
    char bytes[FF_STRCACHE_MAXLEN];
    PyObject *str;
} ff_strcache_entry;

typedef struct {
    int n;
    ff_strcache_entry e[FF_STRCACHE_SIZE];
} ff_strcache;

/* New reference to the str for s[0..len), from the cache when possible. */
static inline PyObject *ff_strcache_get(ff_strcache *c, const char *s, size_t len)
{
    if (len >= FF_STRCACHE_MAXLEN)
        return PyUnicode_DecodeLatin1(s, (Py_ssize_t)len, NULL);
    for (int i = 0; i < c->n; i++)
        if (c->e[i].len == len && memcmp(c->e[i].bytes, s, len) == 0)
            return Py_NewRef(c->e[i].str);
    PyObject *str = PyUnicode_DecodeLatin1(s, (Py_ssize_t)len, NULL);
    if (str && c->n < FF_STRCACHE_SIZE) {
        ff_strcache_entry *e = &c->e[c->n++];
        e->len = (unsigned char)len;
        memcpy(e->bytes, s, len);
        PyUnicode_InternInPlace(&str);
        e->str = Py_NewRef(str);
    }
    return str;
}

static inline void ff_strcache_clear(ff_strcache *c)
{
    for (int i = 0; i < c->n; i++)
        Py_CLEAR(c->e[i].str);
    c->n = 0;
}

#endif
