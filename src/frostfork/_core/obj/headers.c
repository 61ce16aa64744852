/* obj/headers.c — appending handler-supplied response headers safely. */
#include "obj/headers.h"

#include <strings.h>

static int header_ok(const char *s, Py_ssize_t n, int is_name)
{
    if (n == 0 && is_name)
        return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r' || c == '\n' || c == '\0' || (is_name && (c <= ' ' || c == ':' || c >= 0x7f)))
            return 0;
    }
    return 1;
}

static int ieq(const char *a, Py_ssize_t n, const char *b)
{
    return (size_t)n == strlen(b) && strncasecmp(a, b, (size_t)n) == 0;
}

static int put_header(ff_buf *out, PyObject *k, PyObject *v, ff_headers_seen *seen)
{
    if (!PyUnicode_Check(k) || !PyUnicode_Check(v)) {
        PyErr_SetString(PyExc_TypeError, "response header names and values must be str");
        return -1;
    }
    /* ISO-8859-1 on the wire (RFC 9110 5.5, PEP 3333): other characters are
     * refused rather than silently sent as UTF-8. A str whose characters all
     * fit in one byte is stored one byte per character, NUL-terminated. */
    if (PyUnicode_MAX_CHAR_VALUE(k) > 0xff || PyUnicode_MAX_CHAR_VALUE(v) > 0xff) {
        PyErr_Format(PyExc_ValueError, "response header %R has characters outside ISO-8859-1",
                     k);
        return -1;
    }
    Py_ssize_t kn = PyUnicode_GET_LENGTH(k), vn = PyUnicode_GET_LENGTH(v);
    const char *ks = (const char *)PyUnicode_1BYTE_DATA(k);
    const char *vs = (const char *)PyUnicode_1BYTE_DATA(v);
    if (!header_ok(ks, kn, 1) || !header_ok(vs, vn, 0)) {
        PyErr_Format(PyExc_ValueError, "invalid response header %R", k);
        return -1;
    }
    if (ieq(ks, kn, "content-length")) {
        char *end;
        long long cl = strtoll(vs, &end, 10);
        seen->content_length = (end != vs && *end == '\0' && cl >= 0) ? cl : -1;
        return 0;
    }
    if (ieq(ks, kn, "transfer-encoding") || ieq(ks, kn, "connection"))
        return 0;
    if (ieq(ks, kn, "content-type"))
        seen->content_type = 1;
    if (ieq(ks, kn, "content-encoding"))
        seen->content_encoding = 1;
    if (ff_buf_reserve(out, (size_t)(kn + vn) + 4) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    ff_buf_append(out, ks, (size_t)kn);
    ff_buf_append(out, ": ", 2);
    ff_buf_append(out, vs, (size_t)vn);
    ff_buf_append(out, "\r\n", 2);
    return 0;
}

int ff_put_headers(ff_buf *out, PyObject *headers, ff_headers_seen *seen)
{
    if (headers == Py_None)
        return 0;
    if (PyDict_Check(headers)) {
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(headers, &pos, &k, &v))
            if (put_header(out, k, v, seen) < 0)
                return -1;
        return 0;
    }
    PyObject *seq;
    if (PyList_Check(headers) || PyTuple_Check(headers)) {
        seq = Py_NewRef(headers);
    } else { /* frostfork's MutableHeaders keeps its pairs in .raw */
        PyObject *raw = PyObject_GetAttrString(headers, "raw");
        if (!raw)
            PyErr_Clear();
        seq = PySequence_Fast(raw ? raw : headers, "headers must be a dict or a list of pairs");
        Py_XDECREF(raw);
    }
    if (!seq)
        return -1;
    int rc = 0;
    for (Py_ssize_t i = 0; rc == 0 && i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "each header must be a (name, value) tuple");
            rc = -1;
        } else {
            rc = put_header(out, PyTuple_GET_ITEM(pair, 0), PyTuple_GET_ITEM(pair, 1), seen);
        }
    }
    Py_DECREF(seq);
    return rc;
}
