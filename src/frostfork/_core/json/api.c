/* json/api.c — frostfork.json's public entry points: decode(buf, *, type=),
 * encode(obj, *, type=, include_sensitive=) and schema_of(type).
 *
 * These are called per value by user code, often on small documents, where
 * the fixed cost of a call is most of its time: they parse their arguments
 * with vectorcall, find a type's compiled schema in a C cache without
 * formatting the type, and write small results without a large scratch
 * block. The work itself is json/decode.c, json/encode.c and json/shape.c. */

#include "json/api.h"
#include "json/decode.h"
#include "json/encode.h"
#include "json/shape.h"
#include "schema/type.h"
#include "util/buf.h"

/* How deep a type hint is taken apart for its cache key; deeper hints are
 * compiled on every call instead (no real hint comes near). */
#define HINT_KEY_DEPTH 32

static PyObject *hint_key(ff_state *st, PyObject *tp, int depth);

/* A leaf of a hint: a class (itself), or any other object with its type, so
 * that Literal[1] and Literal[True] (equal values) get different keys. */
static PyObject *leaf_key(PyObject *tp)
{
    if (PyType_Check(tp))
        return Py_NewRef(tp);
    return PyTuple_Pack(2, (PyObject *)Py_TYPE(tp), tp);
}

/* An item of Annotated metadata: its type and its repr. Constraint objects
 * compare by value (Gt(5) == Gt(5.0), MultipleOf(0.5) == MultipleOf(Decimal
 * ("0.5"))) where the validator they make differs; their repr keeps the
 * value's type apart. */
static PyObject *meta_key(PyObject *m)
{
    PyObject *r = PyObject_Repr(m);
    PyObject *key = r ? PyTuple_Pack(2, (PyObject *)Py_TYPE(m), r) : NULL;
    Py_XDECREF(r);
    return key;
}

/* The items of a tuple of hints (__args__) or of metadata, each as its key,
 * written into key from position at. */
static int put_keys(ff_state *st, PyObject *key, Py_ssize_t at, PyObject *items, int depth,
                    int as_meta)
{
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(items); i++) {
        PyObject *item = PyTuple_GET_ITEM(items, i);
        PyObject *k = as_meta ? meta_key(item) : hint_key(st, item, depth + 1);
        if (!k)
            return -1;
        PyTuple_SET_ITEM(key, at + i, k);
    }
    return 0;
}

/* The schema cache's key for a type hint. typing's own equality cannot be
 * used: it compares unions as sets (Union[int, str] == Union[str, int],
 * also inside list[...]), but a union is tried in declaration order, and
 * Literal[1] == Literal[True]. So a generic hint is taken apart: (the
 * alias's type, its origin's key, its metadata (Annotated, by repr), each
 * argument's key), all in order; a class is itself. Costs a few attribute reads and
 * tuples, where formatting the hint (repr) costs microseconds. NULL with a
 * TypeError for a hint that cannot be a key (unhashable, too deep). */
static PyObject *hint_key(ff_state *st, PyObject *tp, int depth)
{
    if (PyType_Check(tp))
        return Py_NewRef(tp);
    if (depth > HINT_KEY_DEPTH) {
        PyErr_SetString(PyExc_TypeError, "type hint nested too deeply for the schema cache");
        return NULL;
    }
    PyObject *args = NULL, *origin = NULL, *meta = NULL, *key = NULL, *okey = NULL;
    if (ff_getattr_optional(tp, st->str_args, &args) < 0)
        return NULL;
    if (!args || !PyTuple_Check(args)) {
        Py_XDECREF(args);
        return leaf_key(tp);
    }
    if (ff_getattr_optional(tp, st->str_origin, &origin) < 0)
        goto done;
    if (Py_IS_TYPE(tp, st->AnnotatedAlias) && ff_getattr_optional(tp, st->str_metadata, &meta) < 0)
        goto done;
    if (meta && !PyTuple_Check(meta)) {
        PyErr_SetString(PyExc_TypeError, "Annotated metadata is not a tuple");
        goto done;
    }
    okey = origin ? hint_key(st, origin, depth + 1) : Py_NewRef(Py_None);
    Py_ssize_t nmeta = meta ? PyTuple_GET_SIZE(meta) : 0;
    key = okey ? PyTuple_New(3 + nmeta + PyTuple_GET_SIZE(args)) : NULL;
    if (!key)
        goto done;
    PyTuple_SET_ITEM(key, 0, Py_NewRef((PyObject *)Py_TYPE(tp)));
    PyTuple_SET_ITEM(key, 1, Py_NewRef(okey));
    PyTuple_SET_ITEM(key, 2, PyLong_FromSsize_t(nmeta)); /* where the arguments start */
    if (!PyTuple_GET_ITEM(key, 2) || (meta && put_keys(st, key, 3, meta, depth, 1) < 0) ||
        put_keys(st, key, 3 + nmeta, args, depth, 0) < 0)
        Py_CLEAR(key);
done:
    Py_XDECREF(args);
    Py_XDECREF(origin);
    Py_XDECREF(meta);
    Py_XDECREF(okey);
    return key;
}

/* The compiled schema for a type hint (a new reference): from the cache, or
 * compiled by frostfork.json._compile and cached. A hint that cannot be a
 * key is compiled on every call. */
static PyObject *schema_for(ff_state *st, PyObject *tp)
{
    if (Py_IS_TYPE(tp, st->Schema_type))
        return Py_NewRef(tp);
    PyObject *key = hint_key(st, tp, 0);
    PyObject *schema = key ? PyDict_GetItemWithError(st->schemas, key) : NULL;
    if (schema) {
        Py_INCREF(schema); /* borrowed from the cache: owned before key goes */
        Py_DECREF(key);
        return schema;
    }
    if (PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_TypeError)) {
            Py_XDECREF(key);
            return NULL;
        }
        PyErr_Clear(); /* not a key: compiled every time */
        Py_CLEAR(key);
    }
    if (!st->compile_hint && !(st->compile_hint = ff_import_attr("frostfork.json", "_compile"))) {
        Py_XDECREF(key);
        return NULL;
    }
    schema = PyObject_CallOneArg(st->compile_hint, tp);
    if (schema && !Py_IS_TYPE(schema, st->Schema_type)) {
        PyErr_SetString(PyExc_TypeError, "frostfork.json._compile did not return a Schema");
        Py_CLEAR(schema);
    }
    if (schema && key && PyDict_SetItem(st->schemas, key, schema) < 0)
        Py_CLEAR(schema);
    Py_XDECREF(key);
    return schema;
}

/* schema_of(tp) -> Schema */
PyObject *ff_py_schema_of(PyObject *module, PyObject *tp)
{
    return schema_for(ff_get_state(module), tp);
}

/* The keyword arguments of a vectorcall, by name: each of names[i] found
 * sets out[i] (borrowed). Any other name, or one given twice, is a
 * TypeError naming the function. */
static int keywords(const char *fn, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                    const char *const *names, PyObject **out, int n)
{
    for (Py_ssize_t k = 0; kwnames && k < PyTuple_GET_SIZE(kwnames); k++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, k);
        int i = 0;
        while (i < n && PyUnicode_CompareWithASCIIString(name, names[i]) != 0)
            i++;
        if (i == n || out[i]) {
            PyErr_Format(PyExc_TypeError, i == n ? "%s() got an unexpected keyword argument '%U'"
                                                 : "%s() got multiple values for argument '%U'",
                         fn, name);
            return -1;
        }
        out[i] = args[nargs + k];
    }
    return 0;
}

/* decode(buf, /, *, type=Any) -> the value, validated as type */
PyObject *ff_py_json_decode(PyObject *module, PyObject *const *args, size_t nargsf,
                            PyObject *kwnames)
{
    ff_state *st = ff_get_state(module);
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    static const char *const names[] = {"type"};
    PyObject *tp = NULL;
    if (nargs != 1) {
        PyErr_Format(PyExc_TypeError, "decode() takes 1 positional argument (%zd given)", nargs);
        return NULL;
    }
    if (keywords("decode", args, nargs, kwnames, names, &tp, 1) < 0)
        return NULL;
    if (!tp || tp == st->typing_any) { /* the usual call: no dict lookup */
        if (!st->schema_any && !(st->schema_any = schema_for(st, st->typing_any)))
            return NULL;
        return ff_decode_with(st, args[0], ((ff_Schema *)st->schema_any)->root);
    }
    PyObject *schema = schema_for(st, tp);
    if (!schema)
        return NULL;
    PyObject *res = ff_decode_with(st, args[0], ((ff_Schema *)schema)->root);
    Py_DECREF(schema);
    return res;
}

/* encode(obj, /, *, type=<none>, include_sensitive=False) -> bytes */
PyObject *ff_py_json_encode(PyObject *module, PyObject *const *args, size_t nargsf,
                            PyObject *kwnames)
{
    ff_state *st = ff_get_state(module);
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    static const char *const names[] = {"type", "include_sensitive"};
    PyObject *kw[2] = {NULL, NULL};
    if (nargs != 1) {
        PyErr_Format(PyExc_TypeError, "encode() takes 1 positional argument (%zd given)", nargs);
        return NULL;
    }
    if (keywords("encode", args, nargs, kwnames, names, kw, 2) < 0)
        return NULL;
    int sensitive = kw[1] ? PyObject_IsTrue(kw[1]) : 0;
    if (sensitive < 0)
        return NULL;
    if (!kw[0])
        return ff_encode_bytes(st, args[0], sensitive ? FF_ENC_SENSITIVE : 0);
    if (sensitive) {
        PyErr_SetString(PyExc_ValueError, "include_sensitive cannot be combined with type=");
        return NULL;
    }
    PyObject *schema = schema_for(st, kw[0]);
    if (!schema)
        return NULL;
    PyObject *res = ff_encode_as_bytes(st, args[0], ((ff_Schema *)schema)->root);
    Py_DECREF(schema);
    return res;
}
