/* json/shape.c — encode as type: a value walked along its declared ff_type.
 *
 * Scalars are checked against their kind (and constraints) and then written
 * by json/encode.c, so the bytes of a str or a float are the plain encoder's.
 * Models are where the shaping happens: for each declared field the value is
 * read from the object (a slot, an attribute, or a mapping key), so whatever
 * else the object holds is never looked at. A misfit is reported as the
 * location plus the reason; unions try their options in declaration order,
 * dropping what a failed option wrote. */
#include "json/shape.h"
#include "json/encode.h"

#include <math.h>
#include <stdio.h>

#define MISFIT (-2) /* the value does not fit: s->msg says why, s->loc where */
#define MAX_LOC 32  /* location segments kept for the message (innermost dropped past it) */

typedef struct {
    char key[44];      /* a field name or dict key (cut to fit), or "" for an index */
    Py_ssize_t index;
} seg;

typedef struct {
    ff_state *st;
    int depth;
    char msg[200];
    int nloc;          /* segments collected while unwinding, innermost first */
    seg loc[MAX_LOC];
} shaper;

static int shape(shaper *s, ff_buf *out, PyObject *o, const ff_type *t);

static const char *KIND_NAMES[] = {
    [FF_T_ANY] = "any", [FF_T_NONE] = "None", [FF_T_BOOL] = "bool", [FF_T_INT] = "int",
    [FF_T_FLOAT] = "float", [FF_T_STR] = "str", [FF_T_BYTES] = "bytes",
    [FF_T_DATETIME] = "datetime", [FF_T_DATE] = "date", [FF_T_TIME] = "time",
    [FF_T_UUID] = "UUID", [FF_T_DECIMAL] = "Decimal", [FF_T_LIST] = "list", [FF_T_SET] = "set",
    [FF_T_FROZENSET] = "frozenset", [FF_T_VARTUPLE] = "tuple", [FF_T_TUPLE] = "tuple",
    [FF_T_DICT] = "dict", [FF_T_UNION] = "one of the union's types", [FF_T_LITERAL] = "Literal",
    [FF_T_ENUM] = "Enum", [FF_T_MODEL] = "model",
};

static int misfit(shaper *s, const ff_type *t, PyObject *o)
{
    const char *want = KIND_NAMES[t->kind];
    if ((t->kind == FF_T_MODEL || t->kind == FF_T_ENUM) && t->cls && PyType_Check(t->cls))
        want = ((PyTypeObject *)t->cls)->tp_name;
    snprintf(s->msg, sizeof s->msg, "expected %s, got %s", want, Py_TYPE(o)->tp_name);
    s->nloc = 0;
    return MISFIT;
}

static int misfit_msg(shaper *s, const char *msg)
{
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    s->nloc = 0;
    return MISFIT;
}

/* Called by a container while a misfit unwinds through it; the key's text
 * is copied, since a dict's keys may be gone by the time the message is made. */
static int at_key(shaper *s, PyObject *key)
{
    if (s->nloc >= MAX_LOC)
        return MISFIT;
    seg *g = &s->loc[s->nloc++];
    Py_ssize_t n;
    const char *k = PyUnicode_AsUTF8AndSize(key, &n);
    if (!k) {
        PyErr_Clear();
        k = "?";
        n = 1;
    }
    if ((size_t)n >= sizeof g->key)
        n = (Py_ssize_t)sizeof g->key - 1;
    memcpy(g->key, k, (size_t)n);
    g->key[n] = '\0';
    g->index = -1;
    return MISFIT;
}

static int at_index(shaper *s, Py_ssize_t i)
{
    if (s->nloc < MAX_LOC) {
        s->loc[s->nloc].key[0] = '\0';
        s->loc[s->nloc++].index = i;
    }
    return MISFIT;
}

static int put_raw(ff_buf *out, const char *p, size_t n)
{
    if (ff_buf_append(out, p, n) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* ---- constraints: the same bounds the decoder enforces on input ---- */

static int check_bounds(shaper *s, const ff_type *t, PyObject *v)
{
    static const struct { unsigned bit; int op; const char *text; } rules[] = {
        {FF_C_GT, Py_GT, "greater than"}, {FF_C_GE, Py_GE, "greater than or equal to"},
        {FF_C_LT, Py_LT, "less than"},    {FF_C_LE, Py_LE, "less than or equal to"},
    };
    PyObject *bounds[] = {t->gt, t->ge, t->lt, t->le};
    for (size_t i = 0; i < 4; i++) {
        if (!(t->cons & rules[i].bit))
            continue;
        int ok = PyObject_RichCompareBool(v, bounds[i], rules[i].op);
        if (ok < 0)
            return -1;
        if (!ok) {
            PyObject *r = PyObject_Repr(bounds[i]);
            const char *b = r ? PyUnicode_AsUTF8(r) : NULL;
            if (!b) {
                Py_XDECREF(r);
                return -1;
            }
            snprintf(s->msg, sizeof s->msg, "should be %s %s", rules[i].text, b);
            Py_DECREF(r);
            s->nloc = 0;
            return MISFIT;
        }
    }
    return 0;
}

static int check_len(shaper *s, const ff_type *t, Py_ssize_t n)
{
    if ((t->cons & FF_C_MINLEN) && n < t->min_len) {
        snprintf(s->msg, sizeof s->msg, "length %zd is below the minimum %zd", n, t->min_len);
        s->nloc = 0;
        return MISFIT;
    }
    if ((t->cons & FF_C_MAXLEN) && n > t->max_len) {
        snprintf(s->msg, sizeof s->msg, "length %zd is above the maximum %zd", n, t->max_len);
        s->nloc = 0;
        return MISFIT;
    }
    return 0;
}

static int check_pattern(shaper *s, const ff_type *t, PyObject *v)
{
    if (!(t->cons & FF_C_PATTERN))
        return 0;
    PyObject *m = PyObject_CallOneArg(t->pattern_search, v);
    if (!m)
        return -1;
    int matched = m != Py_None;
    Py_DECREF(m);
    if (matched)
        return 0;
    const char *src = PyUnicode_AsUTF8(t->pattern_src);
    if (!src)
        return -1;
    snprintf(s->msg, sizeof s->msg, "should match pattern '%.150s'", src);
    s->nloc = 0;
    return MISFIT;
}

/* ---- scalars ---- */

static int is_instance(PyObject *o, PyObject *cls)
{
    return cls ? PyObject_IsInstance(o, cls) : 0;
}

/* datetime.datetime is a date subclass with a time of day; telling the two
 * apart without the datetime C API (whose capsule is process-global). */
static int is_datetime(ff_state *st, PyObject *o)
{
    int d = is_instance(o, st->date_type);
    if (d <= 0)
        return d;
    return PyObject_HasAttrString((PyObject *)Py_TYPE(o), "hour");
}

static int shape_float(shaper *s, ff_buf *out, PyObject *o, const ff_type *t)
{
    if (PyBool_Check(o) || !(PyFloat_Check(o) || PyLong_Check(o)))
        return misfit(s, t, o);
    double d = PyFloat_Check(o) ? PyFloat_AS_DOUBLE(o) : PyLong_AsDouble(o);
    if (d == -1.0 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError))
            return -1;
        PyErr_Clear();
        return misfit_msg(s, "int too large for a float");
    }
    if (!isfinite(d))
        return misfit_msg(s, "not a finite number (JSON has no NaN or Infinity)");
    int rc = check_bounds(s, t, o);
    if (rc)
        return rc;
    if (PyFloat_CheckExact(o))
        return ff_json_encode(out, o, s->st, 0);
    PyObject *f = PyFloat_FromDouble(d); /* an int, or a float subclass: written as a float */
    if (!f)
        return -1;
    rc = ff_json_encode(out, f, s->st, 0);
    Py_DECREF(f);
    return rc;
}

/* A UUID, or a str holding one (written in canonical form). */
static int shape_uuid(shaper *s, ff_buf *out, PyObject *o, const ff_type *t)
{
    int is = is_instance(o, s->st->UUID);
    if (is < 0)
        return -1;
    if (is)
        return ff_json_encode(out, o, s->st, 0);
    if (!PyUnicode_Check(o))
        return misfit(s, t, o);
    PyObject *u = PyObject_CallOneArg(s->st->UUID, o);
    if (!u) {
        if (!PyErr_ExceptionMatches(PyExc_ValueError))
            return -1;
        PyErr_Clear();
        return misfit_msg(s, "not a valid UUID");
    }
    int rc = ff_json_encode(out, u, s->st, 0);
    Py_DECREF(u);
    return rc;
}

/* A Decimal as is; an int or float through its shortest text, as the
 * decoder reads numbers into Decimal. */
static int shape_decimal(shaper *s, ff_buf *out, PyObject *o, const ff_type *t)
{
    int is = is_instance(o, s->st->Decimal);
    if (is < 0)
        return -1;
    PyObject *v;
    if (is) {
        v = Py_NewRef(o);
    } else if (!PyBool_Check(o) && (PyLong_Check(o) || PyFloat_Check(o))) {
        PyObject *text = PyObject_Str(o);
        v = text ? PyObject_CallOneArg(s->st->Decimal, text) : NULL;
        Py_XDECREF(text);
        if (!v)
            return -1;
    } else {
        return misfit(s, t, o);
    }
    PyObject *fin = PyObject_CallMethod(v, "is_finite", NULL);
    int rc = fin ? PyObject_IsTrue(fin) : -1;
    Py_XDECREF(fin);
    if (rc == 0)
        rc = misfit_msg(s, "not a finite decimal");
    else if (rc > 0 && !(rc = check_bounds(s, t, v)))
        rc = ff_json_encode(out, v, s->st, 0);
    Py_DECREF(v);
    return rc;
}

static int same_literal(PyObject *a, PyObject *b)
{
    if (Py_TYPE(a) != Py_TYPE(b)) /* 1 is not True, "1" is not 1 */
        return 0;
    return PyObject_RichCompareBool(a, b, Py_EQ);
}

static int shape_choice(shaper *s, ff_buf *out, PyObject *o, const ff_type *t)
{
    if (t->kind == FF_T_LITERAL) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(t->values); i++) {
            int eq = same_literal(o, PyTuple_GET_ITEM(t->values, i));
            if (eq)
                return eq < 0 ? -1 : ff_json_encode(out, o, s->st, 0);
        }
        return misfit_msg(s, "not one of the Literal's values");
    }
    int is = is_instance(o, t->cls);
    if (is)
        return is < 0 ? -1 : ff_json_encode(out, o, s->st, 0); /* a member: its value */
    PyObject *member = PyDict_GetItemWithError(t->values, o); /* a raw value of a member */
    if (member) {
        PyObject *val = PyObject_GetAttrString(member, "value");
        if (!val)
            return -1;
        int same = Py_TYPE(val) == Py_TYPE(o);
        Py_DECREF(val);
        if (same)
            return ff_json_encode(out, o, s->st, 0);
    } else if (PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_TypeError)) /* unhashable: simply not a value */
            return -1;
        PyErr_Clear();
    }
    return misfit(s, t, o);
}

/* ---- containers ---- */

/* list/tuple/set/frozenset/vartuple/tuple: anything iterable that is not a
 * string, bytes or a mapping is read as the array. */
static int shape_array(shaper *s, ff_buf *out, PyObject *o, const ff_type *t)
{
    if (PyUnicode_Check(o) || PyBytes_Check(o) || PyByteArray_Check(o) || PyDict_Check(o) ||
        !Py_TYPE(o)->tp_iter)
        return misfit(s, t, o);
    PyObject *seq = PySequence_Fast(o, "not iterable");
    if (!seq)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    int rc = 0;
    if (t->kind == FF_T_TUPLE && n != t->nargs) {
        snprintf(s->msg, sizeof s->msg, "expected a tuple of %zd items, got %zd", t->nargs, n);
        s->nloc = 0;
        rc = MISFIT;
    } else {
        rc = check_len(s, t, n);
    }
    if (!rc)
        rc = put_raw(out, "[", 1);
    for (Py_ssize_t i = 0; !rc && i < n; i++) {
        if (i && (rc = put_raw(out, ",", 1)) != 0)
            break;
        const ff_type *it = t->kind == FF_T_TUPLE ? t->args[i] : t->args[0];
        rc = shape(s, out, PySequence_Fast_GET_ITEM(seq, i), it);
        if (rc == MISFIT)
            at_index(s, i);
    }
    if (!rc)
        rc = put_raw(out, "]", 1);
    Py_DECREF(seq);
    return rc;
}

static int put_key(shaper *s, ff_buf *out, PyObject *k)
{
    return ff_json_encode(out, k, s->st, 0) < 0 ? -1 : put_raw(out, ":", 1);
}

static int shape_dict(shaper *s, ff_buf *out, PyObject *o, const ff_type *t)
{
    PyObject *items;
    if (PyDict_Check(o))
        items = PyDict_Items(o);
    else if (PyObject_HasAttrString(o, "keys") && PyMapping_Check(o))
        items = PyMapping_Items(o);
    else
        return misfit(s, t, o);
    if (!items)
        return -1;
    Py_ssize_t n = PyList_GET_SIZE(items);
    int rc = check_len(s, t, n);
    if (!rc)
        rc = put_raw(out, "{", 1);
    for (Py_ssize_t i = 0; !rc && i < n; i++) {
        PyObject *kv = PyList_GET_ITEM(items, i);
        if (!PyTuple_Check(kv) || PyTuple_GET_SIZE(kv) != 2) { /* a mapping's odd items() */
            rc = misfit_msg(s, "the mapping's items() are not (key, value) pairs");
            break;
        }
        PyObject *k = PyTuple_GET_ITEM(kv, 0);
        if (!PyUnicode_Check(k)) {
            rc = misfit_msg(s, "a key is not a str");
            break;
        }
        if ((i && (rc = put_raw(out, ",", 1)) != 0) || (rc = put_key(s, out, k)) != 0)
            break;
        rc = shape(s, out, PyTuple_GET_ITEM(kv, 1), t->args[0]);
        if (rc == MISFIT)
            at_key(s, k);
    }
    if (!rc)
        rc = put_raw(out, "}", 1);
    Py_DECREF(items);
    return rc;
}

/* The value of field f in o: a new reference, or NULL with no exception when
 * o does not have it, or NULL with an exception. `how` was decided once for
 * o: 0 a dict, 1 a mapping, 2 exactly the frostfork.Model class (slots), 3
 * attributes. */
static PyObject *field_value(PyObject *o, const ff_field *f, int how)
{
    PyObject *v;
    switch (how) {
    case 0:
        v = PyDict_GetItemWithError(o, f->name);
        return Py_XNewRef(v);
    case 2:
        return Py_XNewRef(*(PyObject **)((char *)o + f->offset));
    case 1:
        v = PyObject_GetItem(o, f->name);
        if (!v && (PyErr_ExceptionMatches(PyExc_KeyError) ||
                   PyErr_ExceptionMatches(PyExc_IndexError)))
            PyErr_Clear();
        return v;
    default:
        v = PyObject_GetAttr(o, f->name);
        if (!v && PyErr_ExceptionMatches(PyExc_AttributeError))
            PyErr_Clear();
        return v;
    }
}

static int shape_model(shaper *s, ff_buf *out, PyObject *o, const ff_type *t)
{
    int how;
    if (PyDict_Check(o))
        how = 0;
    else if (t->model_kind == FF_MODEL_FROSTFORK && (PyObject *)Py_TYPE(o) == t->cls)
        how = 2;
    else if (PyUnicode_Check(o) || PyBytes_Check(o) || PyLong_Check(o) || PyFloat_Check(o) ||
             PyList_Check(o) || PyTuple_Check(o) || o == Py_None)
        return misfit(s, t, o);
    else if (PyObject_HasAttrString((PyObject *)Py_TYPE(o), "keys") && PyMapping_Check(o))
        how = 1; /* sqlite3.Row, MappingProxy, ... */
    else
        how = 3; /* a dataclass, another model, an ORM row: its attributes */
    if (put_raw(out, "{", 1) < 0)
        return -1;
    int first = 1;
    for (Py_ssize_t i = 0; i < t->nfields; i++) {
        const ff_field *f = &t->fields[i];
        if (f->type->cons & FF_C_SENSITIVE)
            continue; /* write-only: never read, never written */
        PyObject *v = field_value(o, f, how);
        if (!v && PyErr_Occurred())
            return -1;
        if (!v && f->default_factory && !(v = PyObject_CallNoArgs(f->default_factory)))
            return -1;
        if (!v && f->default_value)
            v = Py_NewRef(f->default_value);
        if (!v) {
            if (!f->required)
                continue; /* a TypedDict key that may be absent */
            misfit_msg(s, "field required, but the value has no such attribute or key");
            return at_key(s, f->name);
        }
        int rc = first ? 0 : put_raw(out, ",", 1);
        if (!rc && f->key_plain) {
            if (ff_buf_reserve(out, (size_t)f->key_len + 3) < 0) {
                rc = -1;
                PyErr_NoMemory();
            } else {
                out->data[out->len++] = '"';
                memcpy(out->data + out->len, f->key, (size_t)f->key_len);
                out->len += (size_t)f->key_len;
                out->data[out->len++] = '"';
                out->data[out->len++] = ':';
            }
        } else if (!rc) {
            rc = put_key(s, out, f->name);
        }
        if (!rc)
            rc = shape(s, out, v, f->type);
        Py_DECREF(v);
        if (rc == MISFIT)
            return at_key(s, f->name);
        if (rc)
            return rc;
        first = 0;
    }
    return put_raw(out, "}", 1);
}

/* Options in declaration order; what a failed option wrote is dropped. The
 * message kept is the last option's. */
static int shape_union(shaper *s, ff_buf *out, PyObject *o, const ff_type *t)
{
    size_t mark = out->len;
    int rc = MISFIT;
    for (Py_ssize_t i = 0; i < t->nargs; i++) {
        rc = shape(s, out, o, t->args[i]);
        if (rc != MISFIT)
            return rc;
        out->len = mark;
    }
    if (t->nargs == 0)
        return misfit(s, t, o);
    char m[sizeof s->msg];
    snprintf(m, sizeof m, "fits none of the union's %zd types (last: %.150s)", t->nargs, s->msg);
    memcpy(s->msg, m, sizeof m);
    s->nloc = 0; /* the location inside the last option would mislead */
    return MISFIT;
}

static int shape(shaper *s, ff_buf *out, PyObject *o, const ff_type *t)
{
    if (s->depth + 1 > FF_JSON_ENCODE_MAX_DEPTH) { /* not a misfit a union may try past */
        PyErr_Format(PyExc_ValueError, "response nested deeper than %d levels",
                     FF_JSON_ENCODE_MAX_DEPTH);
        return -1;
    }
    s->depth++;
    int rc, is;
    switch (t->kind) {
    case FF_T_ANY:
        rc = ff_json_encode(out, o, s->st, 0);
        break;
    case FF_T_NONE:
        rc = o == Py_None ? put_raw(out, "null", 4) : misfit(s, t, o);
        break;
    case FF_T_BOOL:
        rc = PyBool_Check(o) ? put_raw(out, o == Py_True ? "true" : "false", o == Py_True ? 4 : 5)
                             : misfit(s, t, o);
        break;
    case FF_T_INT:
        if (!PyLong_Check(o) || PyBool_Check(o))
            rc = misfit(s, t, o);
        else if (!(rc = check_bounds(s, t, o)))
            rc = ff_json_encode(out, o, s->st, 0);
        break;
    case FF_T_FLOAT:
        rc = shape_float(s, out, o, t);
        break;
    case FF_T_STR:
        if (!PyUnicode_Check(o))
            rc = misfit(s, t, o);
        else if (!(rc = check_len(s, t, PyUnicode_GET_LENGTH(o))) && !(rc = check_pattern(s, t, o)))
            rc = ff_json_encode(out, o, s->st, 0);
        break;
    case FF_T_BYTES:
        if (!PyBytes_Check(o) && !PyByteArray_Check(o))
            rc = misfit(s, t, o);
        else if (!(rc = check_len(s, t, PyObject_Length(o))))
            rc = ff_json_encode(out, o, s->st, 0);
        break;
    case FF_T_DATETIME:
    case FF_T_DATE:
        is = is_datetime(s->st, o);
        if (is < 0)
            rc = -1;
        else if (is == (t->kind == FF_T_DATETIME) && (is || is_instance(o, s->st->date_type) > 0))
            rc = ff_json_encode(out, o, s->st, 0);
        else
            rc = PyErr_Occurred() ? -1 : misfit(s, t, o);
        break;
    case FF_T_TIME:
        is = is_instance(o, s->st->time_type);
        rc = is < 0 ? -1 : is ? ff_json_encode(out, o, s->st, 0) : misfit(s, t, o);
        break;
    case FF_T_UUID:
        rc = shape_uuid(s, out, o, t);
        break;
    case FF_T_DECIMAL:
        rc = shape_decimal(s, out, o, t);
        break;
    case FF_T_LIST:
    case FF_T_SET:
    case FF_T_FROZENSET:
    case FF_T_VARTUPLE:
    case FF_T_TUPLE:
        rc = shape_array(s, out, o, t);
        break;
    case FF_T_DICT:
        rc = shape_dict(s, out, o, t);
        break;
    case FF_T_UNION:
        rc = shape_union(s, out, o, t);
        break;
    case FF_T_LITERAL:
    case FF_T_ENUM:
        rc = shape_choice(s, out, o, t);
        break;
    case FF_T_MODEL:
        rc = shape_model(s, out, o, t);
        break;
    default:
        rc = misfit_msg(s, "unknown type kind");
    }
    s->depth--;
    return rc;
}

/* "$.items[2].name" from the segments collected innermost first. */
static void raise_misfit(shaper *s)
{
    char where[300];
    size_t n = 0;
    where[n++] = '$';
    for (int i = s->nloc - 1; i >= 0 && n < sizeof where - 80; i--) {
        const seg *g = &s->loc[i];
        if (g->key[0] || g->index < 0) {
            n += (size_t)snprintf(where + n, sizeof where - n, ".%s", g->key);
        } else {
            n += (size_t)snprintf(where + n, sizeof where - n, "[%zd]", g->index);
        }
    }
    where[n < sizeof where ? n : sizeof where - 1] = '\0';
    PyErr_Format(PyExc_ValueError, "response does not fit its declared type at %s: %s", where,
                 s->msg);
}

int ff_json_encode_as(ff_buf *out, PyObject *obj, const ff_type *t, ff_state *st)
{
    shaper s;
    s.st = st;
    s.depth = 0;
    s.nloc = 0;
    s.msg[0] = '\0';
    int rc = shape(&s, out, obj, t);
    if (rc == MISFIT) {
        raise_misfit(&s);
        return -1;
    }
    return rc;
}

PyObject *ff_encode_as_bytes(ff_state *st, PyObject *obj, const ff_type *t)
{
    ff_buf b = {0};
    PyObject *res = NULL;
    if (ff_json_encode_as(&b, obj, t, st) == 0)
        res = PyBytes_FromStringAndSize(b.data ? b.data : "", (Py_ssize_t)b.len);
    ff_buf_free(&b);
    return res;
}
