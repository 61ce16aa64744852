/* json/encode.c — a direct JSON encoder into an ff_buf.
 *
 * No intermediate str objects: ASCII strings are escaped straight from the
 * object's storage, others from their cached UTF-8. */
#include "json/encode.h"
#include "schema/type.h"
#include "util/copy.h"
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

/* json.encode writes straight into the bytes object it returns instead of
 * into a malloc'd buffer copied into one at the end (a copy of the whole
 * output: about 6% of encoding a list of models). Such a buffer is marked by
 * off == BYTES_OUT (an offset no real buffer reaches); its data is the
 * bytes object's ob_sval, and it grows by _PyBytes_Resize. Every other
 * buffer (a worker's output, a log line) grows as ff_buf always does. */
#define BYTES_OUT SIZE_MAX

static PyObject *bytes_of(const ff_buf *out)
{
    return (PyObject *)(out->data - offsetof(PyBytesObject, ob_sval));
}

static int grow(ff_buf *out, size_t extra)
{
    if (out->off != BYTES_OUT)
        return ff_buf_reserve(out, extra);
    size_t cap = out->cap * 2, need = out->len + extra;
    if (cap < need)
        cap = need;
    if (cap > (size_t)PY_SSIZE_T_MAX)
        return -1;
    PyObject *b = bytes_of(out);
    if (_PyBytes_Resize(&b, (Py_ssize_t)cap) < 0) { /* b is gone */
        PyErr_Clear(); /* the caller reports MemoryError */
        out->data = NULL;
        out->len = out->cap = 0;
        return -1;
    }
    out->data = PyBytes_AS_STRING(b);
    out->cap = cap;
    return 0;
}

/* Room for `extra` more bytes: the hot check inline, growing out of line. */
static inline int reserve(ff_buf *out, size_t extra)
{
    return out->cap - out->len >= extra ? 0 : grow(out, extra);
}

static int put(ff_buf *out, const char *s, size_t n)
{
    if (n == 0)
        return 0;
    if (reserve(out, n) < 0)
        return oom();
    memcpy(out->data + out->len, s, n);
    out->len += n;
    return 0;
}

static int put_char(ff_buf *out, char c)
{
    if (out->cap == out->len && grow(out, 1) < 0)
        return oom();
    out->data[out->len++] = c;
    return 0;
}

/* The bytes of a string of 1 to 8 bytes as one word, some read twice and
 * the rest filled with 'a', so ff_json_special_bytes looks at all of them at
 * once without reading past the string. */
static inline uint64_t small_word(const unsigned char *s, size_t n)
{
    const uint64_t fill = FF_JSON_ONES * 'a';
    if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        return a | (uint64_t)b << 32;
    }
    if (n >= 2) {
        uint16_t a, b;
        memcpy(&a, s, 2);
        memcpy(&b, s + n - 2, 2);
        return a | (uint64_t)b << 16 | (fill << 32);
    }
    return *s | (fill << 8);
}

/* "00".."99": integers are written two digits per division. */
static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* The decimal digits of v, written at p (at least 20 bytes of room);
 * returns how many. The length is counted by comparisons, then the digits
 * are filled from the right, two at a time. */
static size_t write_u64(char *p, unsigned long long v)
{
    size_t n = 1;
    for (unsigned long long t = 10; n < 20 && v >= t; t *= 10)
        n++;
    size_t i = n;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        i -= 2;
        memcpy(p + i, digit_pairs + 2 * r, 2);
    }
    if (v >= 10) {
        i -= 2;
        memcpy(p + i, digit_pairs + 2 * v, 2);
    } else {
        p[--i] = (char)('0' + v);
    }
    return n;
}

#if defined(__GNUC__)
#define ENC_HOT static inline __attribute__((always_inline))
#define ENC_COLD static __attribute__((noinline, cold))
#else
#define ENC_HOT static inline
#define ENC_COLD static
#endif

/* The rest of a string that needs escapes, from its first `clean` bytes on
 * (the opening quote already written), then the closing quote and `tail`.
 * Out of line: most strings never get here, and its loop and switch would
 * otherwise cost every string's call their register saves. */
ENC_COLD int put_escaped(ff_buf *out, const unsigned char *s, size_t n, size_t clean, char tail)
{
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
    return tail ? put_char(out, tail) : 0;
}

/* Escapes one run of UTF-8 (or ASCII) bytes, then writes `tail` (':' after
 * a key) unless it is 0. Bytes >= 0x80 pass through: the output is UTF-8,
 * which RFC 8259 requires anyway. Most strings need no escape at all: they
 * are checked a word at a time (a short one as one word) and copied whole,
 * inline in the caller; the others go on in put_escaped. */
ENC_HOT int put_string_bytes(ff_buf *out, const unsigned char *s, size_t n, char tail)
{
    size_t clean = 0;
    if (n <= 8) {
        if (n == 0 || !ff_json_special_bytes(small_word(s, n)))
            clean = n;
    } else {
        while (n - clean >= 8) {
            uint64_t w;
            memcpy(&w, s + clean, 8);
            if (ff_json_special_bytes(w))
                break;
            clean += 8;
        }
        if (n - clean < 8) { /* a short tail after clean words: the overlapping last word */
            uint64_t w;
            memcpy(&w, s + n - 8, 8);
            if (!ff_json_special_bytes(w))
                clean = n;
        }
    }
    if (reserve(out, n + 3) < 0)
        return oom();
    out->data[out->len++] = '"';
    if (clean == n) {
        char *d = out->data + out->len;
        ff_copy_small(d, s, n);
        d[n] = '"';
        d[n + 1] = tail;
        out->len += n + 1 + (tail != 0);
        return 0;
    }
    return put_escaped(out, s, n, clean, tail);
}

/* A str as a JSON string, followed by `tail` unless it is 0. */
static int put_str_then(ff_buf *out, PyObject *s, char tail)
{
    if (PyUnicode_IS_ASCII(s))
        return put_string_bytes(out, PyUnicode_1BYTE_DATA(s), (size_t)PyUnicode_GET_LENGTH(s),
                                tail);
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(s, &n);
    if (!u)
        return -1;
    return put_string_bytes(out, (const unsigned char *)u, (size_t)n, tail);
}

static int put_str(ff_buf *out, PyObject *s) { return put_str_then(out, s, 0); }

static int put_long(ff_buf *out, PyObject *o)
{
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (!overflow) {
        if (reserve(out, 24) < 0)
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
 * times an ulp), so the digits are the ones repr picks. When such an m
 * exists it is d * 10^k rounded to the nearest integer: d is within half
 * an ulp of m / 10^k and the product rounds once more, so d * 10^k is
 * within m * 2^-52 < 0.25 of m (m < 1e15 < 2^50); no neighbour of it can
 * be the one. */
/* nearbyint(x) for 0 <= x < 2^52, without the libm call (which also saves
 * and restores the floating-point environment): once 2^52 is added no
 * fraction bits are left, so the addition itself rounds x to an integer in
 * the current mode (round to nearest, ties to even, the one nearbyint would
 * use too), and subtracting 2^52 again is exact. Needs FLT_EVAL_METHOD == 0
 * (double arithmetic in double), which the one caller's #if checks. */
static inline double round_below_2p52(double x)
{
    return (x + 0x1p52) - 0x1p52;
}

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
        double m = round_below_2p52(scaled); /* scaled < 1e15 < 2^52 */
        if (m / pow10[k] != a)
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
    if (reserve(out, 40) < 0)
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

/* A model class's fields as the encoder walks them, built once per class
 * (fields_of) and kept in a capsule in st->enc_fields. */
typedef struct {
    PyObject *name;
    Py_ssize_t offset;
    int vix;             /* dataclass: index in the instance's values (dc_keys) */
    int sensitive;
    const char *key;     /* `"name":` */
    size_t key_len;
} enc_field;

typedef struct {
    Py_ssize_t n;
    char *keys;          /* every field's `"name":`, back to back */
    /* The fields without a slot may be read from the instance __dict__ in
     * order, instead of by getattr each: set when no field name is a data
     * descriptor on the class (getattr would ask it first) and the class
     * uses the generic getattr; valid while the class keeps `version`. */
    int from_dict;
    unsigned int version;
    /* With from_dict, the class's shared key table when every field is in it
     * (vix): the fields are then read straight from the instance's inline
     * values, or from its __dict__ while that still shares this table,
     * without a dict walk (and without making a __dict__ object at all) */
    void *dc_keys;
    enc_field f[];
} enc_fields;

#define ENC_FIELDS_CAPSULE "frostfork.json.enc_fields"
#define ENC_CACHE 4

#define KEY_SLOTS 64  /* a power of two */
#define KEY_TEXT_MAX 30

/* One dict key met in this call and its JSON text `"key":`. The entry holds
 * a reference, so the str cannot be freed and its address reused by
 * another key while the entry stands. */
typedef struct {
    PyObject *key;
    unsigned char len;
    char text[32]; /* read as two 16-byte halves */
} key_entry;

typedef struct {
    ff_state *st;
    int flags;
    /* the last classes met in this call: most documents hold few types */
    PyTypeObject *tp[ENC_CACHE];
    const enc_fields *fields[ENC_CACHE]; /* NULL: not a model class */
    unsigned next;
    /* dict keys by address: lists of dicts repeat the same key objects */
    uint64_t key_used; /* bit i: keys[i] is set */
    key_entry keys[KEY_SLOTS];
} enc;

/* Lets go of the keys this call remembered: only the slots set, one bit at a
 * time (a small document sets few of the 64). */
static void enc_release(enc *e)
{
    for (uint64_t used = e->key_used; used; used &= used - 1)
        Py_DECREF(e->keys[__builtin_ctzll(used)].key);
    e->key_used = 0;
}

static int encode(ff_buf *out, PyObject *o, int depth, enc *e);

/* An item of a list or dict at `depth`: an exact str, int or float within
 * the depth limit is written here, without the call into encode; anything
 * else (and a scalar past the limit, which encode refuses) goes there. */
static inline int put_item(ff_buf *out, PyObject *v, int depth, enc *e)
{
    PyTypeObject *tp = Py_TYPE(v);
    if (depth <= FF_JSON_ENCODE_MAX_DEPTH) {
        if (tp == &PyUnicode_Type)
            return put_str(out, v);
        if (tp == &PyLong_Type)
            return put_long(out, v);
        if (tp == &PyFloat_Type)
            return put_float(out, v);
    }
    return encode(out, v, depth, e);
}

static int put_seq(ff_buf *out, PyObject *o, int depth, enc *e)
{
    PyObject **items = PySequence_Fast_ITEMS(o);
    Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
    if (put_char(out, '[') < 0)
        return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        if ((i && put_char(out, ',') < 0) || put_item(out, items[i], depth + 1, e) < 0)
            return -1;
    }
    return put_char(out, ']');
}

/* A dict key and its ':'. A key met before in this call is copied from the
 * text written then (no scan for escapes); the first time, it is written
 * as any string and its text remembered if short. */
static int put_key(ff_buf *out, PyObject *k, int comma, enc *e)
{
    unsigned slot = (unsigned)((uintptr_t)k >> 4) & (KEY_SLOTS - 1);
    key_entry *ke = &e->keys[slot];
    if ((e->key_used >> slot & 1) && ke->key == k) {
        if (reserve(out, 33) < 0)
            return oom();
        char *d = out->data + out->len;
        *d = ',';
        d += comma;
        memcpy(d, ke->text, 16); /* both halves: the text is at most 31 */
        memcpy(d + 16, ke->text + 16, 16);
        out->len += (size_t)comma + ke->len;
        return 0;
    }
    if (comma && put_char(out, ',') < 0)
        return -1;
    size_t at = out->len;
    if (put_str_then(out, k, ':') < 0)
        return -1;
    size_t n = out->len - at;
    if (n <= KEY_TEXT_MAX) {
        if (e->key_used >> slot & 1)
            Py_DECREF(ke->key);
        ke->key = Py_NewRef(k);
        ke->len = (unsigned char)n;
        memcpy(ke->text, out->data + at, n);
        e->key_used |= 1ULL << slot;
    }
    return 0;
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
        if (put_key(out, k, i++ > 0, e) < 0)
            return -1;
        /* v is borrowed from a dict a __str__/__repr__-free encoder cannot
         * mutate, so no extra reference is needed. */
        if (put_item(out, v, depth + 1, e) < 0)
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

static void enc_fields_free(PyObject *capsule)
{
    enc_fields *fs = PyCapsule_GetPointer(capsule, ENC_FIELDS_CAPSULE);
    if (!fs)
        return;
    for (Py_ssize_t i = 0; i < fs->n; i++)
        Py_XDECREF(fs->f[i].name);
    PyMem_Free(fs->keys);
    PyMem_Free(fs);
}

/* The compiled field table for the ((name, sensitive), ...) tuple that
 * frostfork.json._fields_for gave: each field's slot offset and its
 * `"name":` text, so an object is written without a lookup per field. */
static PyObject *compile_fields(PyTypeObject *tp, PyObject *spec)
{
    Py_ssize_t n = PyTuple_GET_SIZE(spec);
    enc_fields *fs = PyMem_Calloc(1, sizeof *fs + (size_t)n * sizeof(enc_field));
    if (!fs)
        return PyErr_NoMemory();
    ff_buf keys = {0};
    size_t *at = PyMem_Calloc((size_t)n + 1, sizeof *at);
    PyObject *capsule = NULL;
    if (!at) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *f = PyTuple_GET_ITEM(spec, i);
        PyObject *name = PyTuple_GET_ITEM(f, 0);
        at[i] = keys.len;
        if (put_str_then(&keys, name, ':') < 0)
            goto done;
        fs->f[i].name = Py_NewRef(name);
        fs->f[i].sensitive = PyTuple_GET_ITEM(f, 1) == Py_True;
        fs->f[i].offset = slot_offset(tp, name);
        fs->n = i + 1;
    }
    at[n] = keys.len;
    if (n <= FF_VALUE_INDEX_MAX) {
        PyObject *names[FF_VALUE_INDEX_MAX];
        int ix[FF_VALUE_INDEX_MAX];
        int all_dict = tp->tp_getattro == PyObject_GenericGetAttr;
        for (Py_ssize_t i = 0; i < n; i++) {
            names[i] = fs->f[i].name;
            all_dict &= fs->f[i].offset < 0;
        }
        fs->dc_keys = all_dict ? ff_value_index(tp, names, n, ix) : NULL;
        for (Py_ssize_t i = 0; fs->dc_keys && i < n; i++)
            fs->f[i].vix = ix[i];
    }
    fs->from_dict = tp->tp_getattro == PyObject_GenericGetAttr && tp->tp_dictoffset != 0;
    for (Py_ssize_t i = 0; fs->from_dict && i < n; i++) {
        if (fs->f[i].offset >= 0)
            continue;
        PyObject *descr = PyObject_GetAttr((PyObject *)tp, fs->f[i].name);
        if (!descr)
            PyErr_Clear();
        else if (Py_TYPE(descr)->tp_descr_set)
            fs->from_dict = 0;
        Py_XDECREF(descr);
    }
    /* the tag the lookups above leave (0: none, then no dict reads) */
    fs->version = ff_type_version(tp);
    fs->from_dict &= fs->version != 0;
    fs->keys = PyMem_Malloc(keys.len ? keys.len : 1);
    if (!fs->keys) {
        PyErr_NoMemory();
        goto done;
    }
    if (keys.len)
        memcpy(fs->keys, keys.data, keys.len);
    for (Py_ssize_t i = 0; i < n; i++) {
        fs->f[i].key = fs->keys + at[i];
        fs->f[i].key_len = at[i + 1] - at[i];
    }
    capsule = PyCapsule_New(fs, ENC_FIELDS_CAPSULE, enc_fields_free);
done:
    ff_buf_free(&keys);
    PyMem_Free(at);
    if (!capsule) {
        for (Py_ssize_t i = 0; i < fs->n; i++)
            Py_XDECREF(fs->f[i].name);
        PyMem_Free(fs->keys);
        PyMem_Free(fs);
    }
    return capsule;
}

/* The field table of a model class (dataclass or frostfork.Model), or NULL
 * with *is_model 0 for other classes; the field names are asked of
 * frostfork.json once per class and the compiled table cached in module
 * state, and the last few classes of this call are remembered in `e` so a
 * list of models costs no dict lookup per object. */
static int fields_of(enc *e, PyTypeObject *tp, const enc_fields **out)
{
    for (unsigned i = 0; i < ENC_CACHE; i++)
        if (e->tp[i] == tp) {
            *out = e->fields[i];
            return 0;
        }
    ff_state *st = e->st;
    PyObject *known = PyDict_GetItemWithError(st->enc_fields, (PyObject *)tp);
    if (!known && PyErr_Occurred())
        return -1;
    if (!known) {
        if (!st->fields_for && !(st->fields_for = ff_import_attr("frostfork.json", "_fields_for")))
            return -1;
        PyObject *spec = PyObject_CallOneArg(st->fields_for, (PyObject *)tp);
        if (!spec)
            return -1;
        PyObject *entry = spec == Py_None ? Py_NewRef(Py_None) : compile_fields(tp, spec);
        Py_DECREF(spec);
        if (!entry)
            return -1;
        int rc = PyDict_SetItem(st->enc_fields, (PyObject *)tp, entry);
        Py_DECREF(entry);
        if (rc < 0)
            return -1;
        known = entry; /* borrowed from the cache, which keeps tp alive too */
    }
    *out = known == Py_None ? NULL : PyCapsule_GetPointer(known, ENC_FIELDS_CAPSULE);
    if (known != Py_None && !*out)
        return -1;
    unsigned slot = e->next++ % ENC_CACHE;
    e->tp[slot] = tp;
    e->fields[slot] = *out;
    return 0;
}

/* The value of a field without a slot from the instance dict: the entry at
 * *pos when it is that field (instances usually hold their fields in
 * declaration order), else looked up. NULL without an error when the
 * instance does not hold it (getattr then decides: a class default). */
static PyObject *dict_field(PyObject *dict, Py_ssize_t *pos, PyObject *name)
{
    PyObject *k, *v;
    Py_ssize_t at = *pos;
    if (PyDict_Next(dict, &at, &k, &v) && k == name) {
        *pos = at;
        return Py_NewRef(v);
    }
    return Py_XNewRef(PyDict_GetItemWithError(dict, name));
}

/* The array o's fields are read from at their vix, found again for every
 * field: writing the field before may have run Python code (a subclass's
 * method, an Enum's value) that changed o, and a __dict__ that stops sharing
 * the class's key table frees the array it had. NULL: read them otherwise.
 * With dict NULL, the instance's inline values (no __dict__ object made). */
static PyObject **values_now(PyObject *o, PyObject *dict, const enc_fields *fs)
{
    PyTypeObject *tp = Py_TYPE(o);
    if (!fs->from_dict || !fs->dc_keys || ff_shared_keys(tp) != fs->dc_keys ||
        ff_type_version(tp) != fs->version)
        return NULL;
    if (dict)
        return ff_split_dict_values(dict, fs->dc_keys);
    void *iv = ff_inline_values(o, 0);
    return iv ? ff_values_array(iv) : NULL;
}

static int put_model(ff_buf *out, PyObject *o, const enc_fields *fs, int depth, enc *e)
{
    int first = 1, all = (e->flags & FF_ENC_SENSITIVE) != 0;
    PyObject *dict = NULL, **vals;
    Py_ssize_t pos = 0;
    if (fs->from_dict && ff_type_version(Py_TYPE(o)) == fs->version && !values_now(o, NULL, fs) &&
        !(dict = PyObject_GenericGetDict(o, NULL)))
        return -1;
    int rc = -1;
    if (put_char(out, '{') < 0)
        goto done;
    for (Py_ssize_t i = 0; i < fs->n; i++) {
        const enc_field *f = &fs->f[i];
        if (f->sensitive && !all)
            continue; /* write-only */
        PyObject *v = NULL;
        if (f->offset >= 0) {
            v = Py_XNewRef(*(PyObject **)((char *)o + f->offset));
            if (!v)
                continue; /* an unset slot */
        } else if ((vals = values_now(o, dict, fs))) {
            v = Py_XNewRef(vals[f->vix]); /* NULL (not set): getattr decides */
        } else if (dict && !(v = dict_field(dict, &pos, f->name)) && PyErr_Occurred()) {
            goto done;
        }
        if (!v && f->offset < 0 && !(v = PyObject_GetAttr(o, f->name))) {
            if (!PyErr_ExceptionMatches(PyExc_AttributeError))
                goto done;
            PyErr_Clear(); /* an unset slot */
            continue;
        }
        if (reserve(out, f->key_len + 1) < 0) {
            Py_DECREF(v);
            oom();
            goto done;
        }
        if (!first)
            out->data[out->len++] = ',';
        ff_copy_small(out->data + out->len, (const unsigned char *)f->key, f->key_len);
        out->len += f->key_len;
        int bad = put_item(out, v, depth + 1, e) < 0;
        Py_DECREF(v);
        if (bad)
            goto done;
        first = 0;
    }
    rc = put_char(out, '}');
done:
    Py_XDECREF(dict);
    return rc;
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
    const enc_fields *fields;
    if (fields_of(e, Py_TYPE(o), &fields) < 0)
        return -1;
    if (fields)
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
                                  (size_t)PyBytes_GET_SIZE(b64), 0);
        Py_DECREF(b64);
        return rc;
    }
    if (PyMapping_Check(o) && PyObject_HasAttrString(o, "keys")) {
        /* any other mapping (request.headers, a MappingProxy, a user's Mapping)
         * is written as the object dict(o) would be */
        PyObject *d = PyDict_New();
        int rc = d && PyDict_Merge(d, o, 1) == 0 ? encode(out, d, depth, e) : -1;
        Py_XDECREF(d);
        return rc;
    }
    PyErr_Format(PyExc_TypeError, "Object of type %.100s is not JSON serializable",
                 Py_TYPE(o)->tp_name);
    return -1;
}

static int too_deep(void)
{
    PyErr_Format(PyExc_ValueError, "JSON nesting deeper than %d levels", FF_JSON_ENCODE_MAX_DEPTH);
    return -1;
}

/* The exact built-in types come first, each by one pointer compare (a
 * subclass check such as PyFloat_Check walks the type's bases for every
 * object that is not one); then the classes this call met before; then
 * the general checks, which take subclasses too. */
static int encode(ff_buf *out, PyObject *o, int depth, enc *e)
{
    PyTypeObject *tp = Py_TYPE(o);
    if (depth > FF_JSON_ENCODE_MAX_DEPTH) /* a scalar counts as a level too, as it always did */
        return too_deep();
    if (tp == &PyUnicode_Type)
        return put_str(out, o);
    if (tp == &PyLong_Type)
        return put_long(out, o);
    if (tp == &PyFloat_Type)
        return put_float(out, o);
    if (tp == &PyDict_Type)
        return put_dict(out, o, depth, e);
    if (tp == &PyList_Type)
        return put_seq(out, o, depth, e);
    if (o == Py_None)
        return put(out, "null", 4);
    if (o == Py_True)
        return put(out, "true", 4);
    if (o == Py_False)
        return put(out, "false", 5);
    for (unsigned i = 0; i < ENC_CACHE; i++)
        if (e->tp[i] == tp && e->fields[i])
            return put_model(out, o, e->fields[i], depth, e);
    if (PyUnicode_Check(o))
        return put_str(out, o);
    if (PyLong_Check(o))
        return put_long(out, o);
    if (PyDict_Check(o))
        return put_dict(out, o, depth, e);
    if (PyList_Check(o) || PyTuple_Check(o))
        return put_seq(out, o, depth, e);
    if (PyFloat_Check(o))
        return put_float(out, o);
    return encode_other(out, o, depth, e);
}

int ff_json_encode(ff_buf *out, PyObject *obj, ff_state *st, int flags)
{
    enc e;
    e.st = st;
    e.flags = flags;
    memset(e.tp, 0, sizeof e.tp);
    e.next = 0;
    e.key_used = 0; /* e.keys is read only where a bit says it was written */
    int rc = encode(out, obj, 0, &e);
    enc_release(&e);
    return rc;
}

/* obj's JSON text as a bytes object (frostfork.json.encode). The text is
 * written straight into the bytes object's storage, sized where the last
 * call's result ended (a worker's output buffer keeps its size from one
 * response to the next; this entry point has no such buffer), so a run of
 * similar documents grows no buffer and copies nothing. */
PyObject *ff_encode_bytes(ff_state *st, PyObject *obj, int flags)
{
    size_t cap = st->enc_size_hint > 64 ? st->enc_size_hint : 64;
    PyObject *res = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)cap);
    if (!res)
        return NULL;
    ff_buf b = {PyBytes_AS_STRING(res), BYTES_OUT, 0, cap};
    int rc = ff_json_encode(&b, obj, st, flags);
    res = b.data ? bytes_of(&b) : NULL; /* NULL: a failed grow already freed it */
    if (rc < 0) {
        Py_XDECREF(res);
        return NULL;
    }
    /* just over the last size: a block of the size glibc last freed comes back
     * from its heap (a freed mmap raises its mmap threshold to that size), a
     * larger one would be mapped, and its pages faulted in, on every call */
    st->enc_size_hint = b.len < ((size_t)1 << 20) ? b.len + 64 : (size_t)1 << 20;
    if (b.cap > 512 && b.len < b.cap / 2) {
        /* Much smaller than a large room taken (a small result after a large
         * one): copied out, so the result does not keep the large block
         * (shrinking a block that malloc mapped keeps whole pages). The copy
         * is at most half the room. Small blocks are pymalloc's: resized. */
        PyObject *small = PyBytes_FromStringAndSize(b.data, (Py_ssize_t)b.len);
        Py_DECREF(res);
        return small;
    }
    if (_PyBytes_Resize(&res, (Py_ssize_t)b.len) < 0)
        return NULL;
    return res;
}
