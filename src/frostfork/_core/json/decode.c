/* json/decode.c — the typed JSON decoder (see decode.h for the contract).
 *
 * Every typed decoder returns a new reference, or NULL. NULL is fatal when
 * d->in.err is set or a Python exception is pending; otherwise the value was
 * consumed and an error recorded, and the caller goes on to collect more. */
#include "json/decode.h"
#include "util/copy.h"

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdint.h>

#define FATAL(d) ((d)->in.err || PyErr_Occurred())

/* The per-token helpers below run for every string of a document: inlined
 * into the loops that call them rather than called. */
#if defined(__GNUC__)
#define HOT static inline __attribute__((always_inline))
#else
#define HOT static inline
#endif

void ff_dec_init(ff_dec *d, ff_state *st, const char *buf, size_t len, PyObject *prefix)
{
    memset(d, 0, offsetof(ff_dec, path));
    ff_json_scan_reset(&d->in, buf, len);
    d->st = st;
    d->prefix = prefix;
}

void ff_dec_reset_input(ff_dec *d, const char *buf, size_t len, PyObject *prefix)
{
    d->in.buf = d->in.p = buf; /* not ff_json_scan_reset: an error found so far stays */
    d->in.end = buf + len;
    d->prefix = prefix;
    d->depth = 0;
}

void ff_dec_free(ff_dec *d)
{
    for (int l = 0; l < FF_DEC_PRED_DEPTH; l++) {
        for (int j = 0; j < d->npred[l]; j++)
            Py_DECREF(d->pred[l][j]);
        d->npred[l] = 0;
    }
    Py_CLEAR(d->errors);
    ff_json_scan_free(&d->in);
}

/* ---- errors ---- */

int ff_dec_error(ff_dec *d, const char *type, PyObject *msg, PyObject *input, PyObject *extra)
{
    if (d->quiet) {
        Py_XDECREF(msg);
        return 0;
    }
    if (!msg)
        return -1;
    PyObject *loc = PyList_New(0), *err = NULL;
    int rc = loc ? 0 : -1;
    for (Py_ssize_t i = 0; rc == 0 && d->prefix && i < PyTuple_GET_SIZE(d->prefix); i++)
        rc = PyList_Append(loc, PyTuple_GET_ITEM(d->prefix, i));
    for (int i = 0; rc == 0 && i < d->depth; i++) {
        if (d->path[i].key) {
            rc = PyList_Append(loc, d->path[i].key);
        } else {
            PyObject *n = PyLong_FromSsize_t(d->path[i].index);
            rc = n ? PyList_Append(loc, n) : -1;
            Py_XDECREF(n);
        }
    }
    if (rc == 0 && extra)
        rc = PyList_Append(loc, extra);
    if (rc == 0) {
        err = input && !d->sensitive
                  ? Py_BuildValue("{s:s,s:O,s:O,s:O}", "type", type, "loc", loc, "msg", msg,
                                  "input", input)
                  : Py_BuildValue("{s:s,s:O,s:O}", "type", type, "loc", loc, "msg", msg);
        if (!d->errors && err)
            d->errors = PyList_New(0);
        rc = err && d->errors ? PyList_Append(d->errors, err) : -1;
    }
    Py_XDECREF(err);
    Py_XDECREF(loc);
    Py_DECREF(msg);
    return rc;
}

static PyObject *parse_any(ff_dec *d);

/* The token does not fit the type: consume it (it becomes the echoed input)
 * and record the error. */
static PyObject *mismatch(ff_dec *d, const char *type, const char *msg)
{
    PyObject *v = parse_any(d);
    if (!v)
        return NULL;
    ff_dec_error(d, type, PyUnicode_FromString(msg), v, NULL);
    Py_DECREF(v);
    return NULL;
}

static PyObject *reject(ff_dec *d, PyObject *v, const char *type, PyObject *msg)
{
    ff_dec_error(d, type, msg, v, NULL);
    Py_DECREF(v);
    return NULL;
}

/* ---- scalars ---- */

/* The lexer knows nothing of Python: a failed allocation becomes MemoryError
 * here (a 500), where a syntax error stays in d->in.err (a 400). */
HOT int lexed(ff_dec *d, int rc)
{
    if (rc < 0 && d->in.oom && !PyErr_Occurred())
        PyErr_NoMemory();
    return rc;
}

HOT int str_token(ff_dec *d, const char **s, size_t *n)
{
    return lexed(d, ff_json_string(&d->in, s, n, 0));
}

/* A string token's bytes as a str. When the lexer saw only ASCII the str
 * is filled with one memcpy, skipping the general UTF-8 decoder. */
HOT PyObject *str_object(ff_dec *d, const char *s, size_t n)
{
    if (d->in.ascii) {
        if (!n)
            return PyUnicode_New(0, 127); /* the shared empty str */
        PyObject *r = ff_ascii_new((Py_ssize_t)n);
        if (r)
            ff_copy_small((char *)PyUnicode_1BYTE_DATA(r), s, n);
        return r;
    }
    PyObject *r = PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "strict");
    if (!r && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
        ff_json_fail(&d->in, "invalid UTF-8 in string");
    }
    return r;
}

HOT PyObject *parse_str(ff_dec *d)
{
    const char *s;
    size_t n;
    if (str_token(d, &s, &n) < 0)
        return NULL;
    return str_object(d, s, n);
}

/* a[0..n) == b[0..n) for the short keys of documents: up to 16 bytes are
 * compared as two overlapping loads of each, not through a memcmp call. */
static inline int same_bytes(const char *a, const char *b, size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t a0, a1, b0, b1;
        memcpy(&a0, a, 8);
        memcpy(&b0, b, 8);
        memcpy(&a1, a + n - 8, 8);
        memcpy(&b1, b + n - 8, 8);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    if (n >= 4 && n < 8) {
        uint32_t a0, a1, b0, b1;
        memcpy(&a0, a, 4);
        memcpy(&b0, b, 4);
        memcpy(&a1, a + n - 4, 4);
        memcpy(&b1, b + n - 4, 4);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    if (n < 4) {
        for (size_t i = 0; i < n; i++)
            if (a[i] != b[i])
                return 0;
        return 1;
    }
    return memcmp(a, b, n) == 0;
}

/* A cheap mix of a key's bytes, only to pick a key-cache slot (a lookup
 * compares the whole key, so the mix need not be exact: it reads the first
 * and last eight bytes as words when the input has room, else each byte). */
HOT size_t key_slot(const char *s, size_t n, const char *end)
{
    uint64_t h;
    if (end - s >= 8) {
        uint64_t a, b = 0;
        memcpy(&a, s, 8);
        if (n < 8) /* only the key's own bytes (on a little-endian machine) */
            a = n ? a & (~0ULL >> (64 - 8 * n)) : 0;
        else
            memcpy(&b, s + n - 8, 8);
        h = (a ^ (b * 0x9E3779B97F4A7C15ULL) ^ n) * 0xFF51AFD7ED558CCDULL;
    } else {
        h = n;
        for (size_t i = 0; i < n; i++)
            h = (h ^ (unsigned char)s[i]) * 0x100000001B3ULL;
        h *= 0xFF51AFD7ED558CCDULL;
    }
    return (size_t)(h >> 40) & (FF_KEY_CACHE_SIZE - 1);
}

/* An object key. Documents repeat the same few keys, so short ASCII keys
 * come from a small cache in module state (one slot per hash, the newest
 * key wins): no new str and, because a cached str keeps its hash, no
 * rehash when it goes into a dict. Keys below a Sensitive type are not
 * kept. */
static PyObject *parse_key(ff_dec *d)
{
    const char *s;
    size_t n;
    if (str_token(d, &s, &n) < 0)
        return NULL;
    if (!d->in.ascii || n > FF_KEY_CACHE_MAXLEN || d->sensitive)
        return str_object(d, s, n);
    PyObject **slot = &d->st->key_cache[key_slot(s, n, d->in.end)];
    PyObject *k = *slot;
    if (k && (size_t)PyUnicode_GET_LENGTH(k) == n && same_bytes((const char *)PyUnicode_1BYTE_DATA(k), s, n))
        return Py_NewRef(k);
    if (!(k = str_object(d, s, n)))
        return NULL;
    if (PyObject_Hash(k) == -1) {
        Py_DECREF(k);
        return NULL;
    }
    Py_XSETREF(*slot, Py_NewRef(k));
    return k;
}

/* The j-th key of an untyped object at level lvl. Records in an array
 * usually spell the same keys in the same order: when the input at s->p is
 * exactly the j-th key of the previous object at this level, quoted, that
 * key is taken without scanning or hashing (such a key was stored only when
 * its text had no escape, so no other spelling can be meant). Otherwise the
 * key is read as usual and stored for the next object. */
HOT PyObject *object_key(ff_dec *d, int lvl, unsigned j)
{
    int predict = lvl < FF_DEC_PRED_DEPTH && j < FF_DEC_PRED_KEYS && !d->sensitive;
    ff_json_scan *s = &d->in;
    if (predict && j < d->npred[lvl]) {
        PyObject *k = d->pred[lvl][j];
        size_t n = (size_t)PyUnicode_GET_LENGTH(k);
        if ((size_t)(s->end - s->p) >= n + 2 && s->p[n + 1] == '"' &&
            same_bytes(s->p + 1, (const char *)PyUnicode_1BYTE_DATA(k), n)) {
            s->p += n + 2;
            return Py_NewRef(k);
        }
    }
    const char *at = s->p;
    PyObject *k = parse_key(d);
    if (k && predict && j <= d->npred[lvl] && PyUnicode_IS_COMPACT_ASCII(k) &&
        (size_t)(s->p - at) == (size_t)PyUnicode_GET_LENGTH(k) + 2) { /* no escape in its text */
        if (j < d->npred[lvl]) {
            Py_SETREF(d->pred[lvl][j], Py_NewRef(k));
        } else {
            d->pred[lvl][j] = Py_NewRef(k);
            d->npred[lvl]++;
        }
    }
    return k;
}

/* Integers of up to 18 digits fit an int64 as they are read. */
static PyObject *small_int(const char *s, size_t n)
{
    int neg = *s == '-';
    long long v = 0;
    for (size_t i = (size_t)neg; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return PyLong_FromLongLong(neg ? -v : v);
}

/* Decimal numbers with at most 15 significant digits and a power of ten
 * within 1e22 convert exactly with one IEEE multiply or divide: both
 * operands are exact doubles and the operation rounds correctly once.
 * Returns 0 and *out, or -1 when the number needs the full algorithm. The
 * token was already checked by the lexer. */
static int exact_double(const char *s, size_t n, double *out)
{
#if FLT_EVAL_METHOD == 0
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    const char *p = s, *e = s + n;
    int neg = *p == '-';
    p += neg;
    uint64_t m = 0;
    int digits = 0, scale = 0;
    for (; p < e && *p >= '0' && *p <= '9'; p++, digits++)
        m = m * 10 + (uint64_t)(*p - '0');
    if (p < e && *p == '.')
        for (p++; p < e && *p >= '0' && *p <= '9'; p++, digits++, scale--)
            m = m * 10 + (uint64_t)(*p - '0');
    if (digits > 15)
        return -1;
    if (p < e) { /* exponent */
        int eneg = 0, ev = 0, edig = 0;
        p++;
        if (*p == '+' || *p == '-')
            eneg = *p++ == '-';
        for (; p < e; p++)
            if (++edig > 3)
                return -1;
            else
                ev = ev * 10 + (*p - '0');
        scale += eneg ? -ev : ev;
    }
    if (scale < -22 || scale > 22)
        return -1;
    double v = (double)m;
    v = scale < 0 ? v / pow10[-scale] : v * pow10[scale];
    *out = neg ? -v : v;
    return 0;
#else
    (void)s;
    (void)n;
    (void)out;
    return -1;
#endif
}

#define INT_SIZE_MSG "Unable to parse input string as an integer, exceeded maximum size"
#define INT_DIGITS_MSG "integer with more digits than sys.get_int_max_str_digits() allows"

/* A JSON number as int or float. CPython refuses to make an int of more
 * digits than sys.get_int_max_str_digits() (4300 unless the app changes it)
 * with ValueError: that is the input's fault, never a 500. A typed int field
 * records pydantic's int_parsing_size (422); elsewhere (Any, echoing a
 * rejected value) the body is refused as a 400 that names the limit. */
static PyObject *number_object(ff_dec *d, const char *s, size_t n, int is_int, int typed)
{
    if (is_int && n <= 18)
        return small_int(s, n);
    double fast;
    if (!is_int && exact_double(s, n, &fast) == 0)
        return PyFloat_FromDouble(fast);
    char stack[64];
    char *tmp = n < sizeof stack ? stack : PyMem_Malloc(n + 1);
    if (!tmp)
        return PyErr_NoMemory();
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    PyObject *r;
    if (is_int) {
        r = PyLong_FromString(tmp, NULL, 10);
        if (!r && PyErr_ExceptionMatches(PyExc_ValueError)) {
            PyErr_Clear();
            if (typed)
                ff_dec_error(d, "int_parsing_size", PyUnicode_FromString(INT_SIZE_MSG), NULL, NULL);
            else
                ff_json_fail(&d->in, INT_DIGITS_MSG);
        }
    } else {
        double v = PyOS_string_to_double(tmp, NULL, NULL);
        r = (v == -1.0 && PyErr_Occurred()) ? NULL : PyFloat_FromDouble(v);
    }
    if (tmp != stack)
        PyMem_Free(tmp);
    return r;
}

/* The usual number, an integer of up to 18 digits, read in the same pass
 * that finds its end. Returns the int, or NULL with s->p unmoved and no
 * error when the token is anything else (a fraction, an exponent, more
 * digits, a malformed number): the general path then reads it. */
static inline PyObject *quick_int(ff_json_scan *s)
{
    const char *p = s->p, *e = s->end;
    int neg = p < e && *p == '-';
    p += neg;
    const char *digits = p;
    unsigned long long v = 0; /* 19 digits are read to see there are more than 18: no overflow */
    while (p < e && *p >= '0' && *p <= '9' && p - digits < 19)
        v = v * 10 + (unsigned)(*p++ - '0');
    size_t nd = (size_t)(p - digits);
    if (nd == 0 || nd > 18 || (nd > 1 && *digits == '0'))
        return NULL;
    if (p < e && (*p == '.' || *p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9')))
        return NULL;
    s->p = p;
    return PyLong_FromLongLong(neg ? -(long long)v : (long long)v);
}

static int enter(ff_dec *d)
{
    if (d->depth >= FF_JSON_MAX_DEPTH) {
        ff_json_fail(&d->in, FF_JSON_DEPTH_MSG);
        return -1;
    }
    return 0;
}

/* Any JSON value as plain Python objects (dict, list, str, int, float,
 * bool, None): for `Any`, for echoing rejected input and for skipping. */
static PyObject *parse_any(ff_dec *d)
{
    ff_json_ws(&d->in);
    if (d->in.p >= d->in.end) {
        ff_json_fail(&d->in, "unexpected end of input");
        return NULL;
    }
    switch (*d->in.p) {
    case '"':
        return parse_str(d);
    case 't':
        return ff_json_literal(&d->in, "true", 4) < 0 ? NULL : Py_NewRef(Py_True);
    case 'f':
        return ff_json_literal(&d->in, "false", 5) < 0 ? NULL : Py_NewRef(Py_False);
    case 'n':
        return ff_json_literal(&d->in, "null", 4) < 0 ? NULL : Py_NewRef(Py_None);
    case '[': {
        if (enter(d) < 0)
            return NULL;
        d->path[d->depth++] = (ff_loc){NULL, 0};
        PyObject *list = PyList_New(0);
        int more = ff_json_open(&d->in, ']');
        while (list && more == 1) {
            PyObject *v = parse_any(d);
            if (!v || PyList_Append(list, v) < 0)
                Py_CLEAR(list);
            Py_XDECREF(v);
            if (list && (more = ff_json_next_item(&d->in, ']')) < 0)
                Py_CLEAR(list);
        }
        d->depth--;
        return list;
    }
    case '{': {
        if (enter(d) < 0)
            return NULL;
        int lvl = d->depth;
        unsigned j = 0;
        d->path[d->depth++] = (ff_loc){NULL, 0};
        PyObject *dict = PyDict_New();
        int more = ff_json_open(&d->in, '}');
        while (dict && more == 1) {
            ff_json_ws(&d->in);
            if (d->in.p >= d->in.end || *d->in.p != '"') {
                ff_json_fail(&d->in, "expected a string key");
                Py_CLEAR(dict);
                break;
            }
            PyObject *k = object_key(d, lvl, j++);
            PyObject *v = k && ff_json_expect(&d->in, ':', "expected ':'") == 0 ? parse_any(d) : NULL;
            if (!v || PyDict_SetItem(dict, k, v) < 0)
                Py_CLEAR(dict);
            Py_XDECREF(k);
            Py_XDECREF(v);
            if (dict && (more = ff_json_next_item(&d->in, '}')) < 0)
                Py_CLEAR(dict);
        }
        d->depth--;
        return dict;
    }
    default: {
        PyObject *q = quick_int(&d->in);
        if (q)
            return q;
        if (PyErr_Occurred())
            return NULL;
        const char *s;
        size_t n;
        int is_int;
        if (ff_json_number(&d->in, &s, &n, &is_int) < 0)
            return NULL;
        return number_object(d, s, n, is_int, 0);
    }
    }
}

/* ---- constraints ---- */

static PyObject *check_num(ff_dec *d, const ff_type *t, PyObject *v)
{
    unsigned c = t->cons;
    if (!(c & (FF_C_GT | FF_C_GE | FF_C_LT | FF_C_LE | FF_C_MULT)))
        return v;
    struct { unsigned bit; PyObject *bound; int op; const char *type, *msg; } rules[] = {
        {FF_C_GT, t->gt, Py_GT, "greater_than", "Input should be greater than %S"},
        {FF_C_GE, t->ge, Py_GE, "greater_than_equal", "Input should be greater than or equal to %S"},
        {FF_C_LT, t->lt, Py_LT, "less_than", "Input should be less than %S"},
        {FF_C_LE, t->le, Py_LE, "less_than_equal", "Input should be less than or equal to %S"},
    };
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
        if (!(c & rules[i].bit))
            continue;
        int ok = PyObject_RichCompareBool(v, rules[i].bound, rules[i].op);
        if (ok < 0) {
            Py_DECREF(v);
            return NULL;
        }
        if (!ok)
            return reject(d, v, rules[i].type, PyUnicode_FromFormat(rules[i].msg, rules[i].bound));
    }
    if (c & FF_C_MULT) {
        int ok;
        if (PyFloat_Check(v)) {
            double q = PyFloat_AS_DOUBLE(v) / t->fmult;
            ok = fabs(q - nearbyint(q)) < 1e-9;
        } else {
            PyObject *rem = PyNumber_Remainder(v, t->mult);
            ok = rem ? PyObject_Not(rem) : -1;
            Py_XDECREF(rem);
        }
        if (ok < 0) {
            Py_DECREF(v);
            return NULL;
        }
        if (!ok)
            return reject(d, v, "multiple_of",
                          PyUnicode_FromFormat("Input should be a multiple of %S", t->mult));
    }
    return v;
}

/* NaN and infinities are not numbers a client can mean (and comparing them
 * with a bound raises): a 422 like any other bad decimal. */
static PyObject *check_decimal(ff_dec *d, const ff_type *t, PyObject *v)
{
    PyObject *finite = PyObject_CallMethod(v, "is_finite", NULL);
    int ok = finite ? PyObject_IsTrue(finite) : -1;
    Py_XDECREF(finite);
    if (ok < 0) {
        Py_DECREF(v);
        return NULL;
    }
    if (!ok)
        return reject(d, v, "decimal_parsing",
                      PyUnicode_FromString("Input should be a finite decimal"));
    return check_num(d, t, v);
}

/* Length bounds for str (characters), bytes, and containers (items). */
static PyObject *check_len(ff_dec *d, const ff_type *t, PyObject *v, Py_ssize_t n,
                           const char *what, const char *unit, const char *short_type,
                           const char *long_type)
{
    if ((t->cons & FF_C_MINLEN) && n < t->min_len)
        return reject(d, v, short_type,
                      PyUnicode_FromFormat("%s should have at least %zd %s%s", what, t->min_len,
                                           unit, t->min_len == 1 ? "" : "s"));
    if ((t->cons & FF_C_MAXLEN) && n > t->max_len)
        return reject(d, v, long_type,
                      PyUnicode_FromFormat("%s should have at most %zd %s%s", what, t->max_len,
                                           unit, t->max_len == 1 ? "" : "s"));
    return v;
}

static PyObject *check_str(ff_dec *d, const ff_type *t, PyObject *v)
{
    if (!(t->cons & (FF_C_MINLEN | FF_C_MAXLEN | FF_C_PATTERN)))
        return v;
    if (!(v = check_len(d, t, v, PyUnicode_GET_LENGTH(v), "String", "character",
                        "string_too_short", "string_too_long")))
        return NULL;
    if (t->cons & FF_C_PATTERN) {
        PyObject *m = PyObject_CallOneArg(t->pattern_search, v);
        if (!m) {
            Py_DECREF(v);
            return NULL;
        }
        int matched = m != Py_None;
        Py_DECREF(m);
        if (!matched)
            return reject(d, v, "string_pattern_mismatch",
                          PyUnicode_FromFormat("String should match pattern '%U'", t->pattern_src));
    }
    return v;
}

/* Calls a parser (UUID, Decimal, base64) on a string; a
 * ValueError/TypeError from it is the client's fault and becomes `type`. */
static PyObject *parse_with(ff_dec *d, PyObject *fn, PyObject *s, const char *type,
                            const char *msg)
{
    PyObject *r = PyObject_CallOneArg(fn, s);
    if (!r && (PyErr_ExceptionMatches(PyExc_ValueError) ||
               PyErr_ExceptionMatches(PyExc_TypeError) ||
               PyErr_ExceptionMatches(PyExc_ArithmeticError))) { /* decimal.InvalidOperation */
        PyErr_Clear();
        ff_dec_error(d, type, PyUnicode_FromString(msg), s, NULL);
    }
    return r;
}

/* The UUID spellings pydantic takes: 32 hex digits, the 8-4-4-4-12 form, that
 * form in braces or after "urn:uuid:". uuid.UUID alone is laxer: it drops
 * every '-', '{', '}' and "urn:"/"uuid:" wherever they are. */
static int uuid_form_ok(const char *s, size_t n)
{
    if (n == 45 && memcmp(s, "urn:uuid:", 9) == 0) {
        s += 9;
        n -= 9;
    } else if (n == 38 && s[0] == '{' && s[37] == '}') {
        s++;
        n -= 2;
    }
    if (n != 32 && n != 36)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int dash = n == 36 && (i == 8 || i == 13 || i == 18 || i == 23);
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return 0;
    }
    return 1;
}

/* 1 when RFC 3339 text that ff_parse_datetime accepted is also read the same
 * by every datetime.fromisoformat since 3.11: upper-case T and Z, '.' for
 * the fraction, at most 6 fraction digits (the usual spelling). */
static int iso_plain(const char *s, size_t n)
{
    int in_frac = 0, digits = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            if (in_frac && ++digits > 6)
                return 0;
        } else if (c == '.') {
            in_frac = 1;
        } else if (c == '-' || c == ':' || c == '+' || c == 'T' || c == 'Z') {
            in_frac = 0;
        } else {
            return 0;
        }
    }
    return 1;
}

/* A datetime, date or time from RFC 3339 text (json/scan.h has the
 * grammar). The text is checked in C and, in its usual spelling, handed to
 * fromisoformat (the fast constructor) as it is; any other spelling ("t",
 * "z", "_", ",", U+2212, a long fraction) is first rewritten from its fields
 * as YYYY-MM-DDTHH:MM:SS.ffffff+HH:MM, which fromisoformat always reads. */
static PyObject *datetime_from_text(ff_dec *d, const ff_type *t, PyObject *s)
{
    ff_state *st = d->st;
    static const struct {
        enum ff_datetime_kind kind;
        const char *type, *msg;
    } kinds[] = {
        {FF_DT_DATETIME, "datetime_parsing", "Input should be a valid datetime"},
        {FF_DT_DATE, "date_parsing", "Input should be a valid date"},
        {FF_DT_TIME, "time_parsing", "Input should be a valid time"},
    };
    int k = t->kind == FF_T_DATETIME ? 0 : t->kind == FF_T_DATE ? 1 : 2;
    Py_ssize_t n;
    const char *text = PyUnicode_AsUTF8AndSize(s, &n);
    ff_datetime v;
    if (!text && !PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
        return NULL;
    PyErr_Clear(); /* a lone surrogate (from URL text) is not a date either */
    if (!text || ff_parse_datetime(text, (size_t)n, kinds[k].kind, &v) < 0) {
        ff_dec_error(d, kinds[k].type, PyUnicode_FromString(kinds[k].msg), s, NULL);
        return NULL;
    }
    PyObject *fromiso = kinds[k].kind == FF_DT_DATE   ? st->date_fromiso
                        : kinds[k].kind == FF_DT_TIME ? st->time_fromiso
                                                      : st->datetime_fromiso;
    if (kinds[k].kind == FF_DT_DATE || iso_plain(text, (size_t)n)) /* a date always is */
        return PyObject_CallOneArg(fromiso, s);
    char buf[FF_DATETIME_TEXT_MAX];
    size_t len = ff_format_datetime(&v, kinds[k].kind, buf);
    PyObject *canon = PyUnicode_FromStringAndSize(buf, (Py_ssize_t)len);
    PyObject *r = canon ? PyObject_CallOneArg(fromiso, canon) : NULL;
    Py_XDECREF(canon);
    return r;
}

/* Values from strings: the shared tail of JSON strings and URL/header text. */
static PyObject *from_text(ff_dec *d, const ff_type *t, PyObject *s)
{
    ff_state *st = d->st;
    switch (t->kind) {
    case FF_T_DATETIME:
    case FF_T_DATE:
    case FF_T_TIME:
        return datetime_from_text(d, t, s);
    case FF_T_UUID: {
        Py_ssize_t n;
        const char *text = PyUnicode_AsUTF8AndSize(s, &n);
        if (!text && !PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
            return NULL;
        PyErr_Clear();
        if (!text || !uuid_form_ok(text, (size_t)n)) {
            ff_dec_error(d, "uuid_parsing", PyUnicode_FromString("Input should be a valid UUID"),
                         s, NULL);
            return NULL;
        }
        return parse_with(d, st->UUID, s, "uuid_parsing", "Input should be a valid UUID");
    }
    case FF_T_BYTES: {
        PyObject *b = parse_with(d, st->b64decode, s, "bytes_invalid_encoding",
                                 "Input should be valid base64");
        return b ? check_len(d, t, b, PyBytes_GET_SIZE(b), "Data", "byte", "bytes_too_short",
                             "bytes_too_long")
                 : NULL;
    }
    case FF_T_DECIMAL: {
        PyObject *v = parse_with(d, st->Decimal, s, "decimal_parsing",
                                 "Input should be a valid decimal");
        return v ? check_decimal(d, t, v) : NULL;
    }
    default:
        return check_str(d, t, Py_NewRef(s));
    }
}

static int same_literal(PyObject *a, PyObject *b)
{
    if (Py_TYPE(a) != Py_TYPE(b)) /* 1 is not True, "1" is not 1 */
        return 0;
    return PyObject_RichCompareBool(a, b, Py_EQ);
}

static PyObject *choices_msg(const ff_type *t)
{
    PyObject *items = t->kind == FF_T_LITERAL ? Py_NewRef(t->values) : PyDict_Keys(t->values);
    if (!items)
        return NULL;
    PyObject *parts = PyList_New(0);
    Py_ssize_t n = PySequence_Size(items);
    for (Py_ssize_t i = 0; parts && i < n; i++) {
        PyObject *r = PyObject_Repr(PySequence_Fast_GET_ITEM(items, i));
        if (!r || PyList_Append(parts, r) < 0)
            Py_CLEAR(parts);
        Py_XDECREF(r);
    }
    Py_DECREF(items);
    if (!parts)
        return NULL;
    PyObject *msg = NULL;
    if (n <= 1) {
        msg = PyUnicode_FromFormat("Input should be %S", n ? PyList_GET_ITEM(parts, 0) : Py_None);
    } else {
        PyObject *last = PyList_GET_ITEM(parts, n - 1);
        Py_INCREF(last);
        PyObject *sep = PyUnicode_FromString(", ");
        PyObject *head = sep && PyList_SetSlice(parts, n - 1, n, NULL) == 0
                             ? PyUnicode_Join(sep, parts)
                             : NULL;
        if (head)
            msg = PyUnicode_FromFormat("Input should be %U or %U", head, last);
        Py_XDECREF(head);
        Py_XDECREF(sep);
        Py_DECREF(last);
    }
    Py_DECREF(parts);
    return msg;
}

static PyObject *check_choice(ff_dec *d, const ff_type *t, PyObject *v)
{
    if (t->kind == FF_T_LITERAL) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(t->values); i++) {
            int eq = same_literal(v, PyTuple_GET_ITEM(t->values, i));
            if (eq < 0) {
                Py_DECREF(v);
                return NULL;
            }
            if (eq) {
                Py_DECREF(v);
                return Py_NewRef(PyTuple_GET_ITEM(t->values, i));
            }
        }
        return reject(d, v, "literal_error", choices_msg(t));
    }
    PyObject *member = PyDict_GetItemWithError(t->values, v);
    if (member) {
        PyObject *val = PyObject_GetAttrString(member, "value");
        int same = val ? Py_TYPE(val) == Py_TYPE(v) : -1;
        Py_XDECREF(val);
        if (same > 0) {
            Py_DECREF(v);
            return Py_NewRef(member);
        }
    }
    if (PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_TypeError)) { /* unhashable input */
            Py_DECREF(v);
            return NULL;
        }
        PyErr_Clear();
    }
    return reject(d, v, "enum", choices_msg(t));
}

/* ---- containers and models ---- */

static PyObject *dec(ff_dec *d, const ff_type *t);

/* A plain str (no constraint, not Sensitive) whose string starts right at
 * the cursor: the commonest field and list item, read inline by the
 * container's loop instead of through dec() and dec_value() (two calls and
 * their register saves per string). Anything else goes the general way. */
HOT int plain_str_here(const ff_dec *d, const ff_type *t)
{
    return t->kind == FF_T_STR && !t->cons && d->in.p < d->in.end && *d->in.p == '"';
}

static PyObject *dec_array(ff_dec *d, const ff_type *t)
{
    if (enter(d) < 0)
        return NULL;
    PyObject *list = PyList_New(0);
    if (!list)
        return NULL;
    int bad = 0;
    Py_ssize_t i = 0;
    int more = ff_json_open(&d->in, ']');
    while (more == 1) {
        const ff_type *it = t->kind == FF_T_TUPLE ? (i < t->nargs ? t->args[i] : NULL) : t->args[0];
        d->path[d->depth++] = (ff_loc){NULL, i};
        PyObject *v = !it ? parse_any(d) : plain_str_here(d, it) ? parse_str(d) : dec(d, it);
        d->depth--;
        if (!v && FATAL(d))
            goto fail;
        /* surplus tuple items (no `it`) are only counted */
        int failed = v && it && PyList_Append(list, v) < 0;
        bad |= v == NULL;
        Py_XDECREF(v);
        if (failed)
            goto fail;
        i++;
        more = ff_json_next_item(&d->in, ']');
    }
    if (more < 0)
        goto fail;
    if (t->kind == FF_T_TUPLE && i != t->nargs) {
        PyObject *msg = PyUnicode_FromFormat("Tuple should have %zd item%s, not %zd", t->nargs,
                                             t->nargs == 1 ? "" : "s", i);
        ff_dec_error(d, i < t->nargs ? "too_short" : "too_long", msg, NULL, NULL);
        bad = 1;
    }
    if (bad)
        goto fail;
    PyObject *res = list;
    switch (t->kind) {
    case FF_T_SET: res = PySet_New(list); break;
    case FF_T_FROZENSET: res = PyFrozenSet_New(list); break;
    case FF_T_VARTUPLE:
    case FF_T_TUPLE: res = PyList_AsTuple(list); break;
    default: Py_INCREF(res); break;
    }
    Py_DECREF(list);
    if (!res || t->kind == FF_T_TUPLE)
        return res;
    return check_len(d, t, res, PyObject_Length(res), "List", "item", "too_short", "too_long");
fail:
    Py_DECREF(list);
    return NULL;
}

static PyObject *dec_dict(ff_dec *d, const ff_type *t)
{
    if (enter(d) < 0)
        return NULL;
    PyObject *dict = PyDict_New();
    if (!dict)
        return NULL;
    int bad = 0;
    int more = ff_json_open(&d->in, '}');
    while (more == 1) {
        ff_json_ws(&d->in);
        if (d->in.p >= d->in.end || *d->in.p != '"') {
            ff_json_fail(&d->in, "expected a string key");
            goto fail;
        }
        PyObject *k = parse_key(d);
        if (!k || ff_json_expect(&d->in, ':', "expected ':'") < 0) {
            Py_XDECREF(k);
            goto fail;
        }
        d->path[d->depth++] = (ff_loc){k, 0};
        PyObject *v = dec(d, t->args[0]);
        d->depth--;
        if (v && PyDict_SetItem(dict, k, v) < 0) {
            Py_DECREF(v);
            Py_DECREF(k);
            goto fail;
        }
        Py_DECREF(k);
        if (!v && FATAL(d))
            goto fail;
        Py_XDECREF(v);
        bad |= v == NULL;
        more = ff_json_next_item(&d->in, '}');
    }
    if (more < 0 || bad)
        goto fail;
    return check_len(d, t, dict, PyDict_GET_SIZE(dict), "Dictionary", "item", "too_short",
                     "too_long");
fail:
    Py_DECREF(dict);
    return NULL;
}

/* Whether a dataclass's fields may still be stored straight into its
 * instances' inline values: the class has the key table schema/compile.c
 * probed and no data descriptor (a property, a slot) answers to a field name,
 * so generic setattr would do exactly those stores. Free while the class's
 * version tag is the one seen then; after a change to the class (another
 * library caching something on it does that) the names are looked up again,
 * once per call and new tag. */
static int dc_plain(ff_dec *d, const ff_type *t, PyTypeObject *tp)
{
    if (ff_shared_keys(tp) != t->dc_keys)
        return 0;
    unsigned int version = ff_type_version(tp);
    if (version && version == t->dc_version)
        return 1;
    for (unsigned k = 0; version && k < FF_DEC_DC_SEEN; k++)
        if (d->dc_type[k] == tp && d->dc_version[k] == version)
            return 1;
    for (Py_ssize_t i = 0; i < t->nfields; i++) {
        PyObject *descr = _PyType_Lookup(tp, t->fields[i].name); /* borrowed; no exception */
        if (descr && Py_TYPE(descr)->tp_descr_set)
            return 0;
    }
    if (!(version = ff_type_version(tp)))
        return 1; /* no tag to remember this by (the lookups above gave none) */
    unsigned k = d->dc_next++ % FF_DEC_DC_SEEN;
    d->dc_type[k] = tp;
    d->dc_version[k] = version;
    return 1;
}

/* The rest of what a dataclass's __init__ does: the init=False fields it
 * sets (a factory's value; a plain default only on a slots class, as the
 * class attribute holds it otherwise) are set, after the others, then
 * __post_init__ runs. A ValueError or
 * AssertionError from __post_init__ is the input's fault, reported like any
 * failed constraint (422 over HTTP, at the object's loc); anything else it
 * raises goes on as an error. Takes obj; returns it, or NULL. */
static PyObject *finish_dataclass(ff_dec *d, const ff_type *t, PyObject *obj)
{
    for (Py_ssize_t i = 0; i < t->nlate; i++) {
        const ff_field *f = &t->late[i];
        if (!f->default_factory && !f->default_value)
            continue; /* __init__ leaves it unset too */
        PyObject *v = f->default_factory ? PyObject_CallNoArgs(f->default_factory)
                                         : Py_NewRef(f->default_value);
        int rc = v ? PyObject_GenericSetAttr(obj, f->name, v) : -1;
        Py_XDECREF(v);
        if (rc < 0) {
            Py_DECREF(obj);
            return NULL;
        }
    }
    if (!t->post_init)
        return obj;
    PyObject *res = PyObject_CallMethodNoArgs(obj, d->st->str_post_init);
    if (res) {
        Py_DECREF(res);
        return obj;
    }
    PyObject *et, *ev, *tb;
    PyErr_Fetch(&et, &ev, &tb); /* not pending while obj's deallocation may run code */
    Py_DECREF(obj);
    int value = PyErr_GivenExceptionMatches(et, PyExc_ValueError);
    if (!value && !PyErr_GivenExceptionMatches(et, PyExc_AssertionError)) {
        PyErr_Restore(et, ev, tb);
        return NULL;
    }
    PyErr_NormalizeException(&et, &ev, &tb);
    PyObject *msg = ev ? PyUnicode_FromFormat(value ? "Value error, %S" : "Assertion failed, %S", ev)
                       : NULL;
    Py_XDECREF(et);
    Py_XDECREF(ev);
    Py_XDECREF(tb);
    ff_dec_error(d, value ? "value_error" : "assertion_error", msg, NULL, NULL);
    return NULL;
}

/* Builds the model object from its field values (stolen). frostfork.Model
 * slots are written directly; dataclasses get object.__new__ plus the stores
 * of generic setattr (straight into the inline values when the schema found
 * where they go), so neither __init__ nor a frozen __setattr__ runs. */
static PyObject *build_model(ff_dec *d, const ff_type *t, PyObject **vals)
{
    PyObject *obj = NULL;
    Py_ssize_t n = t->nfields;
    if (t->model_kind == FF_MODEL_TYPEDDICT) {
        obj = PyDict_New();
        for (Py_ssize_t i = 0; obj && i < n; i++)
            if (vals[i] && PyDict_SetItem(obj, t->fields[i].name, vals[i]) < 0)
                Py_CLEAR(obj);
    } else if (t->model_kind == FF_MODEL_FROSTFORK) {
        PyTypeObject *tp = (PyTypeObject *)t->cls;
        obj = tp->tp_alloc(tp, 0);
        if (obj)
            for (Py_ssize_t i = 0; i < n; i++) {
                *(PyObject **)((char *)obj + t->fields[i].offset) = vals[i];
                vals[i] = NULL;
            }
    } else {
        PyTypeObject *tp = (PyTypeObject *)t->cls;
        obj = PyBaseObject_Type.tp_new(tp, d->st->empty_tuple, NULL);
        /* the stores generic setattr would make, without its type lookup and
         * key search per field, while the class is as schema/compile.c found it */
        void *iv = obj && t->dc_keys && dc_plain(d, t, tp) ? ff_inline_values(obj, 1) : NULL;
        if (iv)
            for (Py_ssize_t i = 0; i < n; i++)
                if (vals[i]) {
                    ff_values_store(iv, t->fields[i].vix, vals[i]);
                    vals[i] = NULL;
                }
        for (Py_ssize_t i = 0; obj && !iv && i < n; i++)
            if (vals[i] && PyObject_GenericSetAttr(obj, t->fields[i].name, vals[i]) < 0)
                Py_CLEAR(obj);
    }
    for (Py_ssize_t i = 0; i < n; i++)
        Py_CLEAR(vals[i]); /* consumed: dec_model must not release them again */
    if (obj && (t->nlate || t->post_init))
        obj = finish_dataclass(d, t, obj);
    return obj;
}

static Py_ssize_t find_field(const ff_type *t, const char *k, size_t n, Py_ssize_t hint)
{
    if (hint < t->nfields && (size_t)t->fields[hint].key_len == n &&
        same_bytes(t->fields[hint].key, k, n))
        return hint;
    for (Py_ssize_t i = 0; i < t->nfields; i++)
        if ((size_t)t->fields[i].key_len == n && same_bytes(t->fields[i].key, k, n))
            return i;
    return -1;
}

/* Objects usually list their keys in declaration order: when the input
 * at s->p is exactly the next field's key in quotes, it is taken without
 * scanning the string (a key with nothing to escape is its own JSON text,
 * so no other spelling can be meant). Returns the field, or -1 with s->p
 * unmoved. */
static Py_ssize_t expected_key(const ff_type *t, ff_json_scan *s, Py_ssize_t hint)
{
    if (hint >= t->nfields)
        return -1;
    const ff_field *f = &t->fields[hint];
    size_t ql = f->qlen;
    if (ql && s->end - s->p >= 16) {
        /* a short key: its quoted text against one or two words of input */
        uint64_t a, b;
        memcpy(&a, s->p, 8);
        if (ql <= 8) {
            if ((a ^ f->qword[0]) & f->qmask)
                return -1;
        } else {
            memcpy(&b, s->p + ql - 8, 8);
            if ((a ^ f->qword[0]) | (b ^ f->qword[1]))
                return -1;
        }
        s->p += ql;
        return hint;
    }
    if (!f->key_plain)
        return -1;
    size_t n = (size_t)f->key_len;
    if ((size_t)(s->end - s->p) < n + 2 || s->p[n + 1] != '"' || !same_bytes(s->p + 1, f->key, n))
        return -1;
    s->p += n + 2;
    return hint;
}

/* A field the input left out: its default (from its factory when it has
 * one), nothing for an optional key, or a "missing" error when required.
 * Returns 0, 1 when reported missing, or -1 on a Python error. */
static int absent_field(ff_dec *d, const ff_field *f, PyObject **val)
{
    if (f->default_factory)
        return (*val = PyObject_CallNoArgs(f->default_factory)) ? 0 : -1;
    if (f->default_value) {
        *val = Py_NewRef(f->default_value);
        return 0;
    }
    if (!f->required)
        return 0;
    ff_dec_error(d, "missing", PyUnicode_FromString("Field required"), NULL, f->name);
    return 1;
}

static PyObject *dec_model(ff_dec *d, const ff_type *t)
{
    if (enter(d) < 0)
        return NULL;
    Py_ssize_t n = t->nfields;
    PyObject *stack_vals[32];
    char stack_seen[32];
    PyObject **vals = n <= 32 ? stack_vals : PyMem_Calloc((size_t)n, sizeof(PyObject *));
    char *seen = n <= 32 ? stack_seen : PyMem_Calloc((size_t)n, 1);
    if (!vals || !seen) {
        if (vals != stack_vals)
            PyMem_Free(vals);
        if (seen != stack_seen)
            PyMem_Free(seen);
        PyErr_NoMemory();
        return NULL;
    }
    if (n <= 8) { /* the usual model: constant sizes, cleared by a few stores, not a call */
        memset(stack_vals, 0, 8 * sizeof(PyObject *));
        memset(stack_seen, 0, 8);
    } else {
        memset(vals, 0, (size_t)n * sizeof(PyObject *));
        memset(seen, 0, (size_t)n);
    }
    PyObject *res = NULL;
    int bad = 0;
    Py_ssize_t hint = 0;
    int more = ff_json_open(&d->in, '}');
    while (more == 1) {
        ff_json_ws(&d->in);
        if (d->in.p >= d->in.end || *d->in.p != '"') {
            ff_json_fail(&d->in, "expected a string key");
            goto done;
        }
        const char *key_at = d->in.p;
        Py_ssize_t i = expected_key(t, &d->in, hint);
        if (i >= 0) {
            if (ff_json_expect(&d->in, ':', "expected ':'") < 0)
                goto done;
        } else {
            const char *ks;
            size_t kn;
            if (str_token(d, &ks, &kn) < 0 || ff_json_expect(&d->in, ':', "expected ':'") < 0)
                goto done;
            i = find_field(t, ks, kn, hint);
        }
        if (i < 0) {
            if (!t->forbid_extra) {
                /* one level down, like a declared field's value */
                if (lexed(d, ff_json_skip(&d->in, FF_JSON_MAX_DEPTH - d->depth - 1)) < 0) {
                    if (d->in.err && strcmp(d->in.err, "nesting too deep") == 0)
                        d->in.err = FF_JSON_DEPTH_MSG; /* say which limit, as enter() does */
                    goto done;
                }
            } else {
                const char *save = d->in.p;
                d->in.p = key_at;
                PyObject *key = parse_str(d);
                d->in.p = save;
                PyObject *v = key ? parse_any(d) : NULL;
                if (v)
                    ff_dec_error(d, "extra_forbidden",
                                 PyUnicode_FromString("Extra inputs are not permitted"), v, key);
                Py_XDECREF(key);
                Py_XDECREF(v);
                if (FATAL(d))
                    goto done;
                bad = 1;
            }
        } else {
            if (seen[i]) {
                d->in.p = key_at;
                ff_json_fail(&d->in, "duplicate key in object");
                goto done;
            }
            seen[i] = 1;
            hint = i + 1;
            d->path[d->depth++] = (ff_loc){t->fields[i].name, 0};
            const ff_type *ft = t->fields[i].type;
            vals[i] = plain_str_here(d, ft) ? parse_str(d) : dec(d, ft);
            d->depth--;
            if (!vals[i] && FATAL(d))
                goto done;
            bad |= vals[i] == NULL;
        }
        more = ff_json_next_item(&d->in, '}');
    }
    if (more < 0)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (seen[i])
            continue;
        int a = absent_field(d, &t->fields[i], &vals[i]);
        if (a < 0)
            goto done;
        bad |= a;
    }
    if (!bad)
        res = build_model(d, t, vals);
done:
    if (!res)
        for (Py_ssize_t i = 0; i < n; i++)
            Py_XDECREF(vals[i]);
    if (vals != stack_vals)
        PyMem_Free(vals);
    if (seen != stack_seen)
        PyMem_Free(seen);
    return res;
}

static unsigned token_of(char c)
{
    switch (c) {
    case 'n': return FF_TOK_NULL;
    case 't': case 'f': return FF_TOK_BOOL;
    case '"': return FF_TOK_STR;
    case '[': return FF_TOK_ARR;
    case '{': return FF_TOK_OBJ;
    default: return FF_TOK_NUM;
    }
}

/* Unions: options that cannot start with this token are skipped; a single
 * candidate decodes normally (its own errors are the useful ones); several
 * are tried quietly in declaration order, rewinding between tries. Every
 * option is considered, however many the union has: the candidates are
 * found by a scan of the options, not collected into a fixed array. */
static PyObject *dec_union(ff_dec *d, const ff_type *t)
{
    unsigned tok = token_of(*d->in.p);
    const ff_type *first = NULL;
    Py_ssize_t nc = 0;
    for (Py_ssize_t i = 0; i < t->nargs; i++)
        if (t->args[i]->token_mask & tok) {
            if (!nc++)
                first = t->args[i];
        }
    if (nc == 0) {
        const ff_type *only = NULL;
        int non_none = 0;
        for (Py_ssize_t i = 0; i < t->nargs; i++)
            if (t->args[i]->kind != FF_T_NONE) {
                only = t->args[i];
                non_none++;
            }
        if (non_none == 1)
            return dec(d, only);
        return mismatch(d, "union_type", "Input does not match any of the allowed types");
    }
    if (nc == 1)
        return dec(d, first);
    const char *start = d->in.p;
    for (Py_ssize_t i = 0; i < t->nargs; i++) {
        if (!(t->args[i]->token_mask & tok))
            continue;
        d->quiet++;
        PyObject *v = dec(d, t->args[i]);
        d->quiet--;
        if (v || FATAL(d))
            return v;
        d->in.p = start;
    }
    return mismatch(d, "union_type", "Input does not match any of the allowed types");
}

static PyObject *dec_value(ff_dec *d, const ff_type *t);

/* Below a Sensitive type inputs are never echoed, and the strings decoded
 * are remembered so logs and tracebacks can mask them. */
static PyObject *dec(ff_dec *d, const ff_type *t)
{
    if (!(t->cons & FF_C_SENSITIVE))
        return dec_value(d, t);
    d->sensitive++;
    PyObject *v = dec_value(d, t);
    d->sensitive--;
    return v;
}

static void remember_secret(ff_dec *d, PyObject *s)
{
    if (d->sensitive && d->secrets && PyUnicode_Check(s) && PyList_Append(d->secrets, s) < 0)
        PyErr_Clear();
}

static PyObject *dec_value(ff_dec *d, const ff_type *t)
{
    ff_json_ws(&d->in);
    if (d->in.p >= d->in.end) {
        ff_json_fail(&d->in, "unexpected end of input");
        return NULL;
    }
    char c = *d->in.p;
    if (t->kind == FF_T_STR && !t->cons && c == '"')
        return parse_str(d); /* the usual field: a plain str, no checks, not Sensitive */
    switch (t->kind) {
    case FF_T_ANY:
        return parse_any(d);
    case FF_T_NONE:
        if (c == 'n')
            return ff_json_literal(&d->in, "null", 4) < 0 ? NULL : Py_NewRef(Py_None);
        return mismatch(d, "none_required", "Input should be None");
    case FF_T_BOOL:
        if (c == 't')
            return ff_json_literal(&d->in, "true", 4) < 0 ? NULL : Py_NewRef(Py_True);
        if (c == 'f')
            return ff_json_literal(&d->in, "false", 5) < 0 ? NULL : Py_NewRef(Py_False);
        return mismatch(d, "bool_type", "Input should be a valid boolean");
    case FF_T_INT:
    case FF_T_FLOAT:
    case FF_T_DECIMAL: {
        if (c != '-' && (c < '0' || c > '9')) {
            if (t->kind == FF_T_DECIMAL && c == '"')
                break;
            return mismatch(d, t->kind == FF_T_INT ? "int_type" : "float_type",
                            t->kind == FF_T_INT ? "Input should be a valid integer"
                                                : "Input should be a valid number");
        }
        if (t->kind == FF_T_INT) {
            PyObject *q = quick_int(&d->in);
            if (q)
                return check_num(d, t, q);
            if (PyErr_Occurred())
                return NULL;
        }
        const char *s;
        size_t n;
        int is_int;
        if (ff_json_number(&d->in, &s, &n, &is_int) < 0)
            return NULL;
        if (t->kind == FF_T_DECIMAL) {
            PyObject *text = PyUnicode_DecodeASCII(s, (Py_ssize_t)n, NULL);
            PyObject *v = text ? PyObject_CallOneArg(d->st->Decimal, text) : NULL;
            Py_XDECREF(text);
            return v ? check_decimal(d, t, v) : NULL;
        }
        PyObject *v = number_object(d, s, n, is_int && t->kind == FF_T_INT, 1);
        if (!v)
            return NULL;
        if (t->kind == FF_T_INT && !is_int)
            return reject(d, v, "int_from_float",
                          PyUnicode_FromString("Input should be a valid integer, got a number "
                                               "with a fractional part"));
        if (t->kind == FF_T_FLOAT && PyLong_Check(v)) {
            Py_SETREF(v, PyNumber_Float(v));
            if (!v)
                return NULL;
        }
        return check_num(d, t, v);
    }
    case FF_T_STR:
    case FF_T_BYTES:
    case FF_T_DATETIME:
    case FF_T_DATE:
    case FF_T_TIME:
    case FF_T_UUID:
        break;
    case FF_T_LIST:
    case FF_T_SET:
    case FF_T_FROZENSET:
    case FF_T_VARTUPLE:
    case FF_T_TUPLE:
        if (c != '[')
            return mismatch(d, t->kind == FF_T_LIST ? "list_type"
                               : t->kind == FF_T_SET || t->kind == FF_T_FROZENSET ? "set_type"
                                                                                  : "tuple_type",
                            "Input should be a valid array");
        return dec_array(d, t);
    case FF_T_DICT:
        if (c != '{')
            return mismatch(d, "dict_type", "Input should be a valid dictionary");
        return dec_dict(d, t);
    case FF_T_MODEL:
        if (c != '{')
            return mismatch(d, "model_type", "Input should be an object");
        return dec_model(d, t);
    case FF_T_UNION:
        return dec_union(d, t);
    case FF_T_LITERAL:
    case FF_T_ENUM: {
        PyObject *v = parse_any(d);
        return v ? check_choice(d, t, v) : NULL;
    }
    }
    /* string-carried types */
    if (c != '"')
        return mismatch(d, "string_type", "Input should be a valid string");
    PyObject *s = parse_str(d);
    if (!s)
        return NULL;
    remember_secret(d, s);
    PyObject *v = from_text(d, t, s);
    Py_DECREF(s);
    return v;
}

PyObject *ff_json_decode(ff_dec *d, const ff_type *t)
{
    PyObject *v = dec(d, t);
    if (!v && FATAL(d))
        return NULL;
    ff_json_ws(&d->in); /* trailing garbage is a syntax error even when validation failed */
    if (d->in.p != d->in.end) {
        ff_json_fail(&d->in, "extra data after the JSON value");
        Py_CLEAR(v);
    }
    return v;
}

/* ---- strings from the URL and headers ---- */

static PyObject *convert_text(ff_dec *d, const ff_type *t, PyObject *s);

/* s[0..n) equals the lowercase ASCII word w, ignoring ASCII case. No other
 * letter lowercases into the boolean words, so this is what str.lower()
 * and == would decide, without a new string per value. */
static int ascii_caseeq(const char *s, size_t n, const char *w)
{
    size_t i = 0;
    for (; i < n && w[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z' ? c | 0x20 : c) != (unsigned char)w[i])
            return 0;
    }
    return i == n && !w[i];
}

static int strict_int_text(PyObject *s)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(s), i = 0;
    if (n > 0 && (PyUnicode_READ_CHAR(s, 0) == '-' || PyUnicode_READ_CHAR(s, 0) == '+'))
        i = 1;
    if (i == n)
        return 0;
    for (; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ_CHAR(s, i);
        if (c < '0' || c > '9')
            return 0;
    }
    return 1;
}

PyObject *ff_convert_str(ff_dec *d, const ff_type *t, PyObject *s)
{
    int sens = (t->cons & FF_C_SENSITIVE) != 0;
    d->sensitive += sens;
    remember_secret(d, s);
    PyObject *v = convert_text(d, t, s);
    d->sensitive -= sens;
    return v;
}

static PyObject *convert_text(ff_dec *d, const ff_type *t, PyObject *s)
{
    switch (t->kind) {
    case FF_T_ANY:
        return Py_NewRef(s);
    case FF_T_INT: {
        if (!strict_int_text(s)) {
            ff_dec_error(d, "int_parsing",
                         PyUnicode_FromString("Input should be a valid integer, unable to parse "
                                              "string as an integer"),
                         s, NULL);
            return NULL;
        }
        PyObject *v = PyLong_FromUnicodeObject(s, 10);
        if (!v && PyErr_ExceptionMatches(PyExc_ValueError)) { /* over int_max_str_digits */
            PyErr_Clear();
            ff_dec_error(d, "int_parsing_size", PyUnicode_FromString(INT_SIZE_MSG), s, NULL);
            return NULL;
        }
        return v ? check_num(d, t, v) : NULL;
    }
    case FF_T_FLOAT: {
        PyObject *v = PyFloat_FromString(s);
        if (v && !isfinite(PyFloat_AS_DOUBLE(v))) { /* JSON could not carry it back */
            Py_DECREF(v);
            ff_dec_error(d, "finite_number", PyUnicode_FromString("Input should be a finite number"),
                         s, NULL);
            return NULL;
        }
        if (!v && PyErr_ExceptionMatches(PyExc_ValueError)) {
            PyErr_Clear();
            ff_dec_error(d, "float_parsing",
                         PyUnicode_FromString("Input should be a valid number, unable to parse "
                                              "string as a number"),
                         s, NULL);
            return NULL;
        }
        return v ? check_num(d, t, v) : NULL;
    }
    case FF_T_BOOL: {
        static const char *yes[] = {"true", "1", "yes", "on", "t", "y"};
        static const char *no[] = {"false", "0", "no", "off", "f", "n"};
        Py_ssize_t n;
        const char *u = PyUnicode_AsUTF8AndSize(s, &n);
        if (!u)
            return NULL;
        for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
            if (ascii_caseeq(u, (size_t)n, yes[i]))
                return Py_NewRef(Py_True);
            if (ascii_caseeq(u, (size_t)n, no[i]))
                return Py_NewRef(Py_False);
        }
        ff_dec_error(d, "bool_parsing",
                     PyUnicode_FromString("Input should be a valid boolean, unable to interpret "
                                          "input"),
                     s, NULL);
        return NULL;
    }
    case FF_T_LITERAL:
    case FF_T_ENUM: {
        /* try the text itself, then as an integer, against the choices */
        int q = d->quiet;
        d->quiet = 1;
        PyObject *v = check_choice(d, t, Py_NewRef(s));
        if (!v && !PyErr_Occurred() && strict_int_text(s)) {
            PyObject *num = PyLong_FromUnicodeObject(s, 10);
            if (!num && PyErr_ExceptionMatches(PyExc_ValueError))
                PyErr_Clear(); /* too many digits to be any of the choices */
            v = num ? check_choice(d, t, num) : NULL;
        }
        d->quiet = q;
        if (!v && !PyErr_Occurred())
            ff_dec_error(d, t->kind == FF_T_ENUM ? "enum" : "literal_error", choices_msg(t), s,
                         NULL);
        return v;
    }
    case FF_T_UNION: {
        for (Py_ssize_t i = 0; i < t->nargs; i++) {
            if (t->args[i]->kind == FF_T_NONE)
                continue;
            d->quiet++;
            PyObject *v = ff_convert_str(d, t->args[i], s);
            d->quiet--;
            if (v || PyErr_Occurred())
                return v;
        }
        for (Py_ssize_t i = 0; i < t->nargs; i++) /* report as the first real option */
            if (t->args[i]->kind != FF_T_NONE)
                return ff_convert_str(d, t->args[i], s);
        return NULL;
    }
    default:
        return from_text(d, t, s);
    }
}

/* A model from text values by field name (a form): each field's first
 * value, or all of them for a list field, converted as query values are;
 * absent fields take their defaults or are "missing", as in a JSON object.
 * Values that are not str (uploaded files) are passed over. */
PyObject *ff_convert_model(ff_dec *d, const ff_type *t, PyObject *values)
{
    Py_ssize_t n = t->nfields;
    PyObject **vals = PyMem_Calloc((size_t)n + 1, sizeof(PyObject *));
    PyObject *res = NULL;
    int bad = 0;
    if (!vals)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; i++) {
        const ff_field *f = &t->fields[i];
        const ff_type *ft = f->type;
        int is_list = ft->kind == FF_T_LIST || ft->kind == FF_T_SET ||
                      ft->kind == FF_T_FROZENSET || ft->kind == FF_T_VARTUPLE;
        PyObject *got = PyDict_GetItemWithError(values, f->name), *texts = NULL;
        if (!got && PyErr_Occurred())
            goto done;
        if (got && !(texts = PyList_New(0)))
            goto done;
        for (Py_ssize_t k = 0; got && k < PyList_GET_SIZE(got); k++)
            if (PyUnicode_Check(PyList_GET_ITEM(got, k)) &&
                PyList_Append(texts, PyList_GET_ITEM(got, k)) < 0) {
                Py_DECREF(texts);
                goto done;
            }
        if (!texts || PyList_GET_SIZE(texts) == 0) {
            Py_XDECREF(texts);
            int a = absent_field(d, f, &vals[i]);
            if (a < 0)
                goto done;
            bad |= a;
            continue;
        }
        d->path[d->depth++] = (ff_loc){f->name, 0};
        if (!is_list) {
            vals[i] = ff_convert_str(d, ft, PyList_GET_ITEM(texts, 0));
        } else {
            PyObject *items = PyList_New(0);
            int item_bad = 0;
            for (Py_ssize_t k = 0; items && k < PyList_GET_SIZE(texts); k++) {
                d->path[d->depth++] = (ff_loc){NULL, k};
                PyObject *v = ff_convert_str(d, ft->args[0], PyList_GET_ITEM(texts, k));
                d->depth--;
                if (!v && PyErr_Occurred())
                    Py_CLEAR(items);
                else if (v && PyList_Append(items, v) < 0)
                    Py_CLEAR(items);
                item_bad |= v == NULL;
                Py_XDECREF(v);
            }
            if (items && !item_bad && ft->kind != FF_T_LIST) {
                PyObject *c = ft->kind == FF_T_SET         ? PySet_New(items)
                              : ft->kind == FF_T_FROZENSET ? PyFrozenSet_New(items)
                                                           : PyList_AsTuple(items);
                Py_SETREF(items, c);
            }
            if (item_bad)
                Py_CLEAR(items);
            vals[i] = items;
        }
        d->depth--;
        Py_DECREF(texts);
        if (!vals[i]) {
            if (PyErr_Occurred())
                goto done;
            bad = 1;
        }
    }
    if (!bad)
        res = build_model(d, t, vals);
done:
    for (Py_ssize_t i = 0; i < n; i++)
        Py_XDECREF(vals[i]);
    PyMem_Free(vals);
    return res;
}

/* ---- raising ---- */

void ff_dec_raise(ff_dec *d)
{
    if (PyErr_Occurred())
        return;
    if (d->in.err) {
        PyObject *msg = PyUnicode_FromFormat("invalid JSON at byte %zu: %s", d->in.err_pos,
                                             d->in.err);
        if (msg) {
            PyErr_SetObject(d->st->JSONDecodeError, msg);
            Py_DECREF(msg);
        }
        return;
    }
    PyObject *errors = d->errors ? Py_NewRef(d->errors) : PyList_New(0);
    if (errors) {
        PyErr_SetObject(d->st->ValidationError, errors);
        Py_DECREF(errors);
    }
}

/* decode(buf, schema) -> value; raises ValidationError / JSONDecodeError. */
/* A document decoded as a schema's type: bytes-like or str in, the value out,
 * or NULL with ValidationError / JSONDecodeError (or another error) set. */
PyObject *ff_decode_with(ff_state *st, PyObject *buf, const ff_type *root)
{
    Py_buffer view;
    if (PyUnicode_Check(buf)) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(buf, &n);
        if (!s)
            return NULL;
        view.buf = (void *)s;
        view.len = n;
        view.obj = NULL;
    } else if (PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    ff_dec d;
    ff_dec_init(&d, st, view.buf, (size_t)view.len, NULL);
    PyObject *v = ff_json_decode(&d, root);
    if (!v)
        ff_dec_raise(&d);
    ff_dec_free(&d);
    if (view.obj)
        PyBuffer_Release(&view);
    return v;
}

PyObject *ff_py_decode(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    ff_state *st = ff_get_state(module);
    if (nargs != 2 || !Py_IS_TYPE(args[1], st->Schema_type)) {
        PyErr_SetString(PyExc_TypeError, "decode(buf, schema) takes bytes-like and a Schema");
        return NULL;
    }
    return ff_decode_with(st, args[0], ((ff_Schema *)args[1])->root);
}
