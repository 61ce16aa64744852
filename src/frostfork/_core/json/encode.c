/* json/encode.c — a direct JSON encoder into an ff_buf.
 *
 * No intermediate str objects: ASCII strings are escaped straight from the
 * object's storage, others from their cached UTF-8. */
#include "json/encode.h"
#include "json/scan.h"

#include <float.h>
#include <structmember.h>
#include <math.h>


/* 0: copy as is, 1: short escape (\" \\ \n ...), 2: \u00XX */
static const unsigned char escape_kind[256] = {
    2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 1, 1, 2, 2, /* \b \t \n \f \r */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* '"' */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* '\\' */
};

static int oom(void)
{
    PyErr_NoMemory();
    return -1;
}

static int put(ff_buf *out, const char *s, size_t n)
{
    return ff_buf_append(out, s, n) < 0 ? oom() : 0;
}

static int put_char(ff_buf *out, char c)
{
    if (out->cap == out->len && ff_buf_reserve(out, 1) < 0)
        return oom();
    out->data[out->len++] = c;
    return 0;
}

/* Copies n bytes; the short strings most keys and values are get two
 * fixed-size word moves or a byte loop instead of a call to memcpy. */
static inline void copy_small(char *dst, const unsigned char *src, size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t a, b;
        memcpy(&a, src, 8);
        memcpy(&b, src + n - 8, 8);
        memcpy(dst, &a, 8);
        memcpy(dst + n - 8, &b, 8);
    } else if (n < 8) {
        for (size_t i = 0; i < n; i++)
            dst[i] = (char)src[i];
    } else {
        memcpy(dst, src, n);
    }
}

/* The decimal digits of v, written at p (at least 20 bytes of room);
 * returns how many. */
static size_t write_u64(char *p, unsigned long long v)
{
    size_t n = 1;
    for (unsigned long long t = v; t >= 10; t /= 10)
        n++;
    for (size_t i = n; i-- > 0; v /= 10)
        p[i] = (char)('0' + v % 10);
    return n;
}

/* Escapes one run of UTF-8 (or ASCII) bytes. Bytes >= 0x80 pass through:
 * the output is UTF-8, which RFC 8259 requires anyway. Most strings need
 * no escape at all: they are found so a word at a time and copied whole. */
static int put_string_bytes(ff_buf *out, const unsigned char *s, size_t n)
{
    size_t clean = 0;
    while (n - clean >= 8) {
        uint64_t w;
        memcpy(&w, s + clean, 8);
        if (ff_json_special_bytes(w))
            break;
        clean += 8;
    }
    if (n - clean < 8 && n >= 8) { /* a short tail after clean words: the overlapping last word */
        uint64_t w;
        memcpy(&w, s + n - 8, 8);
        if (!ff_json_special_bytes(w))
            clean = n;
    }
    while (clean < n && !(s[clean] < 0x60 && escape_kind[s[clean]]))
        clean++;
    if (ff_buf_reserve(out, n + 2) < 0)
        return oom();
    out->data[out->len++] = '"';
    if (clean == n) {
        copy_small(out->data + out->len, s, n);
        out->len += n;
        out->data[out->len++] = '"';
        return 0;
    }
    size_t run = 0;
    for (size_t i = clean; i < n; i++) {
        unsigned char ch = s[i];
        unsigned char kind = ch < 0x60 ? escape_kind[ch] : 0;
        if (!kind)
            continue;
        if (put(out, (const char *)s + run, i - run) < 0)
            return -1;
        char esc[8];
        size_t elen = 2;
        esc[0] = '\\';
        switch (ch) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default: {
            static const char hex[] = "0123456789abcdef";
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 15];
            elen = 6;
        }
        }
        if (put(out, esc, elen) < 0)
            return -1;
        run = i + 1;
    }
    if (put(out, (const char *)s + run, n - run) < 0 || put_char(out, '"') < 0)
        return -1;
    return 0;
}

static int put_str(ff_buf *out, PyObject *s)
{
    if (PyUnicode_IS_ASCII(s))
        return put_string_bytes(out, PyUnicode_1BYTE_DATA(s), (size_t)PyUnicode_GET_LENGTH(s));
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(s, &n);
    if (!u)
        return -1;
    return put_string_bytes(out, (const unsigned char *)u, (size_t)n);
}

static int put_long(ff_buf *out, PyObject *o)
{
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (!overflow) {
        if (ff_buf_reserve(out, 24) < 0)
            return oom();
        char *p = out->data + out->len;
        size_t n = 0;
        if (v < 0)
            p[n++] = '-';
        n += write_u64(p + n, v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v);
        out->len += n;
        return 0;
    }
    PyObject *s = PyLong_Type.tp_repr(o); /* exact digits, ignoring subclass reprs */
    if (!s)
        return -1;
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(s, &n);
    int rc = u ? put(out, u, (size_t)n) : -1;
    Py_DECREF(s);
    return rc;
}

/* Writes what repr() would for the common float that is a short decimal,
 * without dtoa's bignum arithmetic; returns the length, or 0 to leave it to
 * repr. For |d| in [1e-4, 1e15) repr is plain notation with the fewest
 * digits that read back as d. This looks for the fewest decimals k such that
 * some integer m < 1e15 has m / 10^k == d: that division of two exact
 * doubles rounds once, so it is exactly what reading "m*10^-k" yields, and
 * below 1e15 two values of m cannot both land on d (their spacing is four
 * times an ulp), so the digits are the ones repr picks. m is d * 10^k
 * rounded, off by at most one, so its neighbours are tried too. */
static size_t short_float(char buf[40], double d)
{
    static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    double a = fabs(d);
    size_t n = 0;
    if (a == 0) {
        if (signbit(d))
            buf[n++] = '-';
        memcpy(buf + n, "0.0", 3);
        return n + 3;
    }
    if (!(a >= 1e-4 && a < 1e15))
        return 0;
    for (int k = 0; k < 16; k++) {
        double scaled = a * pow10[k];
        if (scaled >= 1e15)
            return 0;
        double m0 = nearbyint(scaled);
        for (int delta = -1; delta <= 1; delta++) {
            double m = m0 + delta;
            if (m < 0 || m / pow10[k] != a)
                continue;
            unsigned long long mi = (unsigned long long)m, p = (unsigned long long)pow10[k];
            if (d < 0)
                buf[n++] = '-';
            n += write_u64(buf + n, mi / p);
            buf[n++] = '.';
            if (k == 0) {
                buf[n++] = '0';
            } else {
                unsigned long long frac = mi % p;
                for (int i = k - 1; i >= 0; i--, frac /= 10)
                    buf[n + (size_t)i] = (char)('0' + frac % 10);
                n += (size_t)k;
            }
            return n;
        }
    }
    return 0;
}

static int put_float(ff_buf *out, PyObject *o)
{
    double d = PyFloat_AS_DOUBLE(o);
    if (!isfinite(d)) {
        PyErr_SetString(PyExc_ValueError, "Out of range float values are not JSON compliant");
        return -1;
    }
#if FLT_EVAL_METHOD == 0
    if (ff_buf_reserve(out, 40) < 0)
        return oom();
    size_t fn = short_float(out->data + out->len, d);
    if (fn) {
        out->len += fn;
        return 0;
    }
#endif
    char *s = PyOS_double_to_string(d, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (!s)
        return -1;
    int rc = put(out, s, strlen(s));
    PyMem_Free(s);
    return rc;
}

typedef struct {
    ff_state *st;
    int flags;
} enc;

static int encode(ff_buf *out, PyObject *o, int depth, enc *e);

static int put_seq(ff_buf *out, PyObject *o, int depth, enc *e)
{
    PyObject **items = PySequence_Fast_ITEMS(o);
    Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
    if (put_char(out, '[') < 0)
        return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        if ((i && put_char(out, ',') < 0) || encode(out, items[i], depth + 1, e) < 0)
            return -1;
    }
    return put_char(out, ']');
}

static int put_dict(ff_buf *out, PyObject *o, int depth, enc *e)
{
    Py_ssize_t pos = 0, i = 0;
    PyObject *k, *v;
    if (put_char(out, '{') < 0)
        return -1;
    while (PyDict_Next(o, &pos, &k, &v)) {
        if (!PyUnicode_Check(k)) {
            PyErr_Format(PyExc_TypeError, "JSON object keys must be str, not %.100s",
                         Py_TYPE(k)->tp_name);
            return -1;
        }
        if (i++ && put_char(out, ',') < 0)
            return -1;
        /* v is borrowed from a dict a __str__/__repr__-free encoder cannot
         * mutate, so no extra reference is needed. */
        if (put_str(out, k) < 0 || put_char(out, ':') < 0 || encode(out, v, depth + 1, e) < 0)
            return -1;
    }
    return put_char(out, '}');
}

/* The slot offset of attribute `name` when reading the slot is exactly what
 * getattr would do (a plain object slot reached through the generic
 * getattr), else -1. */
static Py_ssize_t slot_offset(PyTypeObject *tp, PyObject *name)
{
    if (tp->tp_getattro != PyObject_GenericGetAttr)
        return -1;
    PyObject *descr = PyObject_GetAttr((PyObject *)tp, name);
    if (!descr) {
        PyErr_Clear(); /* no class attribute: an instance-dict field */
        return -1;
    }
    Py_ssize_t off = -1;
    if (Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
        PyMemberDef *m = ((PyMemberDescrObject *)descr)->d_member;
        if (m->type == T_OBJECT_EX && !(m->flags & PY_AUDIT_READ))
            off = m->offset;
    }
    Py_DECREF(descr);
    return off;
}

/* `"name":` as bytes, written once per class instead of once per object. */
static PyObject *key_text(PyObject *name)
{
    ff_buf b = {0};
    PyObject *r = NULL;
    if (put_str(&b, name) == 0 && put_char(&b, ':') == 0)
        r = PyBytes_FromStringAndSize(b.data, (Py_ssize_t)b.len);
    ff_buf_free(&b);
    return r;
}

/* The (name, sensitive, slot offset or -1, `"name":`) fields of a model class, or None
 * for other classes; the names are asked of frostfork.json once per class,
 * the offsets found here, and the result cached. Slots are then read
 * directly instead of through getattr. */
static PyObject *fields_of(enc *e, PyTypeObject *tp)
{
    ff_state *st = e->st;
    PyObject *known = PyDict_GetItemWithError(st->enc_fields, (PyObject *)tp);
    if (known || PyErr_Occurred())
        return known;
    if (!st->fields_for && !(st->fields_for = ff_import_attr("frostfork.json", "_fields_for")))
        return NULL;
    PyObject *fields = PyObject_CallOneArg(st->fields_for, (PyObject *)tp);
    if (!fields)
        return NULL;
    if (fields != Py_None) {
        Py_ssize_t n = PyTuple_GET_SIZE(fields);
        PyObject *withoff = PyTuple_New(n);
        for (Py_ssize_t i = 0; withoff && i < n; i++) {
            PyObject *f = PyTuple_GET_ITEM(fields, i);
            PyObject *name = PyTuple_GET_ITEM(f, 0);
            PyObject *off = PyLong_FromSsize_t(slot_offset(tp, name));
            PyObject *key = off ? key_text(name) : NULL;
            PyObject *item = key ? PyTuple_Pack(4, name, PyTuple_GET_ITEM(f, 1), off, key) : NULL;
            Py_XDECREF(off);
            Py_XDECREF(key);
            if (!item)
                Py_CLEAR(withoff);
            else
                PyTuple_SET_ITEM(withoff, i, item);
        }
        Py_SETREF(fields, withoff);
        if (!fields)
            return NULL;
    }
    int rc = PyDict_SetItem(st->enc_fields, (PyObject *)tp, fields);
    Py_DECREF(fields);
    return rc < 0 ? NULL : fields; /* borrowed from the cache */
}

static int put_model(ff_buf *out, PyObject *o, PyObject *fields, int depth, enc *e)
{
    int first = 1;
    if (put_char(out, '{') < 0)
        return -1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(fields); i++) {
        PyObject *f = PyTuple_GET_ITEM(fields, i);
        PyObject *name = PyTuple_GET_ITEM(f, 0);
        if (PyTuple_GET_ITEM(f, 1) == Py_True && !(e->flags & FF_ENC_SENSITIVE))
            continue; /* write-only */
        Py_ssize_t off = PyLong_AsSsize_t(PyTuple_GET_ITEM(f, 2));
        PyObject *v;
        if (off >= 0) {
            v = Py_XNewRef(*(PyObject **)((char *)o + off));
            if (!v)
                continue; /* an unset slot */
        } else if (!(v = PyObject_GetAttr(o, name))) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError))
                return -1;
            PyErr_Clear(); /* an unset slot */
            continue;
        }
        PyObject *key = PyTuple_GET_ITEM(f, 3);
        int rc = (!first && put_char(out, ',') < 0) ||
                 put(out, PyBytes_AS_STRING(key), (size_t)PyBytes_GET_SIZE(key)) < 0 ||
                 encode(out, v, depth + 1, e) < 0;
        Py_DECREF(v);
        if (rc)
            return -1;
        first = 0;
    }
    return put_char(out, '}');
}

/* Types that go out as a JSON string made by a method (isoformat, str). */
static int put_text_of(ff_buf *out, PyObject *o, const char *method)
{
    PyObject *s = method ? PyObject_CallMethod(o, method, NULL) : PyObject_Str(o);
    if (!s)
        return -1;
    int rc = PyUnicode_Check(s) ? put_str(out, s) : -1;
    if (rc < 0 && !PyErr_Occurred())
        PyErr_SetString(PyExc_TypeError, "expected a str");
    Py_DECREF(s);
    return rc;
}

/* Everything past the JSON-native types, checked in rough order of how
 * often handlers return them. */
static int encode_other(ff_buf *out, PyObject *o, int depth, enc *e)
{
    ff_state *st = e->st;
    if (PyAnySet_Check(o)) {
        PyObject *list = PySequence_List(o);
        int rc = list ? put_seq(out, list, depth, e) : -1;
        Py_XDECREF(list);
        return rc;
    }
    PyObject *fields = fields_of(e, Py_TYPE(o));
    if (!fields)
        return -1;
    if (fields != Py_None)
        return put_model(out, o, fields, depth, e);
    int is;
    if ((is = PyObject_IsInstance(o, st->Enum)) != 0) {
        if (is < 0)
            return -1;
        PyObject *v = PyObject_GetAttrString(o, "value");
        int rc = v ? encode(out, v, depth + 1, e) : -1;
        Py_XDECREF(v);
        return rc;
    }
    PyObject *textual[] = {st->date_type, st->time_type};
    for (size_t i = 0; i < 2; i++)
        if ((is = PyObject_IsInstance(o, textual[i])) != 0)
            return is < 0 ? -1 : put_text_of(out, o, "isoformat");
    if ((is = PyObject_IsInstance(o, st->UUID)) != 0 ||
        (is = PyObject_IsInstance(o, st->Decimal)) != 0)
        return is < 0 ? -1 : put_text_of(out, o, NULL);
    if (PyBytes_Check(o) || PyByteArray_Check(o)) {
        PyObject *b64 = PyObject_CallOneArg(st->b64encode, o);
        if (!b64)
            return -1;
        int rc = put_string_bytes(out, (const unsigned char *)PyBytes_AS_STRING(b64),
                                  (size_t)PyBytes_GET_SIZE(b64));
        Py_DECREF(b64);
        return rc;
    }
    PyErr_Format(PyExc_TypeError, "Object of type %.100s is not JSON serializable",
                 Py_TYPE(o)->tp_name);
    return -1;
}

static int encode(ff_buf *out, PyObject *o, int depth, enc *e)
{
    if (depth > FF_JSON_ENCODE_MAX_DEPTH) {
        PyErr_Format(PyExc_ValueError, "JSON nesting deeper than %d levels",
                     FF_JSON_ENCODE_MAX_DEPTH);
        return -1;
    }
    if (PyUnicode_Check(o))
        return put_str(out, o);
    if (o == Py_None)
        return put(out, "null", 4);
    if (o == Py_True)
        return put(out, "true", 4);
    if (o == Py_False)
        return put(out, "false", 5);
    if (PyLong_Check(o))
        return put_long(out, o);
    if (PyFloat_CheckExact(o))
        return put_float(out, o);
    if (PyDict_Check(o))
        return put_dict(out, o, depth, e);
    if (PyList_Check(o) || PyTuple_Check(o))
        return put_seq(out, o, depth, e);
    if (PyFloat_Check(o)) /* a float subclass: a subtype walk, so after the flag checks */
        return put_float(out, o);
    return encode_other(out, o, depth, e);
}

int ff_json_encode(ff_buf *out, PyObject *obj, ff_state *st, int flags)
{
    enc e = {st, flags};
    return encode(out, obj, 0, &e);
}

/* json_encode(obj, include_sensitive=False) -> bytes */
PyObject *ff_py_json_encode(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"obj", "include_sensitive", NULL};
    PyObject *obj;
    int sensitive = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|$p:json_encode", kwlist, &obj, &sensitive))
        return NULL;
    ff_buf b = {0};
    PyObject *res = NULL;
    if (ff_json_encode(&b, obj, ff_get_state(module), sensitive ? FF_ENC_SENSITIVE : 0) == 0)
        res = PyBytes_FromStringAndSize(b.data ? b.data : "", (Py_ssize_t)b.len);
    ff_buf_free(&b);
    return res;
}
