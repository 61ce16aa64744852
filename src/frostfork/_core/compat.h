/* compat.h — every difference between the CPython versions frostfork builds
 * against (3.11 to 3.14), in one place.
 *
 * The rest of the C core calls these and never tests PY_VERSION_HEX itself, so
 * supporting a new version means reading this file, not the tree. */
#ifndef FF_COMPAT_H
#define FF_COMPAT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* getattr(obj, name) without raising AttributeError: 1 with *res set, 0 with
 * *res NULL when obj has no such attribute, -1 on any other error. 3.13 made
 * public what 3.11 and 3.12 have as _PyObject_LookupAttr. */
static inline int ff_getattr_optional(PyObject *obj, PyObject *name, PyObject **res)
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyObject_GetOptionalAttr(obj, name, res);
#else
    return _PyObject_LookupAttr(obj, name, res);
#endif
}

/* The object a weak reference points to, as a new reference, or NULL when the
 * referent is gone (no exception set either way). 3.13 deprecated the
 * borrowed-reference PyWeakref_GetObject for PyWeakref_GetRef, which cannot hand
 * out an object another thread is freeing. */
static inline PyObject *ff_weakref_get(PyObject *ref)
{
#if PY_VERSION_HEX >= 0x030D0000
    PyObject *obj = NULL;
    if (PyWeakref_GetRef(ref, &obj) < 0) {
        PyErr_Clear(); /* only for a non-weakref argument, which callers never pass */
        return NULL;
    }
    return obj;
#else
    PyObject *obj = PyWeakref_GetObject(ref);
    if (!obj || obj == Py_None) {
        PyErr_Clear();
        return NULL;
    }
    return Py_NewRef(obj);
#endif
}

/* Immortal objects (PEP 683, CPython 3.12+): an object whose reference count is
 * never written again, so a forked worker that reads it does not copy its page.
 * FF_HAVE_IMMORTAL says whether this build can make them. */
#if PY_VERSION_HEX >= 0x030C0000 && !defined(Py_GIL_DISABLED)
#define FF_HAVE_IMMORTAL 1
static inline int ff_is_immortal(PyObject *o)
{
    return _Py_IsImmortal(o);
}
/* Sets the count CPython itself gives immortal objects: the value its
 * Py_INCREF/Py_DECREF fast paths recognise and leave alone. */
static inline void ff_make_immortal(PyObject *o)
{
#if PY_VERSION_HEX >= 0x030E0000
    o->ob_refcnt = _Py_IMMORTAL_INITIAL_REFCNT;
#else
    o->ob_refcnt = _Py_IMMORTAL_REFCNT;
#endif
}
#else
#define FF_HAVE_IMMORTAL 0
static inline int ff_is_immortal(PyObject *o)
{
    (void)o;
    return 0;
}
static inline void ff_make_immortal(PyObject *o)
{
    (void)o;
}
#endif

/* The class's version tag while it is valid, else 0 (CPython never hands out
 * 0). Until 3.12 a change to the class clears Py_TPFLAGS_VALID_VERSION_TAG;
 * 3.13 no longer sets that flag and marks an invalid tag by zeroing it. */
static inline unsigned int ff_type_version(PyTypeObject *tp)
{
#if PY_VERSION_HEX >= 0x030D0000
    return tp->tp_version_tag;
#else
    return PyType_HasFeature(tp, Py_TPFLAGS_VALID_VERSION_TAG) ? tp->tp_version_tag : 0;
#endif
}

/* A fresh instance's attribute values, written the way CPython's own
 * specialised STORE_ATTR_INSTANCE_VALUE writes them (3.11-3.13, GIL builds).
 *
 * A class whose instances keep their attributes inline (Py_TPFLAGS_MANAGED_DICT:
 * a plain heap class without __slots__) shares one key table among its
 * instances; each instance holds only a values array indexed like that table
 * and a byte array recording the order the attributes were set in. A name's
 * index in the table never changes while the class keeps that table, which is
 * what the interpreter relies on when it caches the index under the class's
 * version tag; the JSON decoder relies on the same (schema/compile.c finds each
 * field's index by setting the fields on a probe instance and reading the order
 * array back, and decode.c checks the version tag and table before each use).
 *
 * FF_HAVE_INLINE_VALUES says whether this build can do it; where it cannot,
 * ff_fresh_values always answers NULL and callers take the generic setattr. */
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030E0000 && !defined(Py_GIL_DISABLED)
#define FF_HAVE_INLINE_VALUES 1
#if PY_VERSION_HEX >= 0x030D0000
/* 3.13's PyDictValues (Include/internal/pycore_dict.h), embedded in the object
 * right after its header; the order array follows values[capacity]. */
typedef struct {
    uint8_t capacity, size, embedded, valid;
    PyObject *values[1];
} ff_values313;
#endif

/* The class's shared key table (identity only, never dereferenced), or NULL
 * when its instances do not keep inline values. */
static inline void *ff_shared_keys(PyTypeObject *tp)
{
    if (!PyType_HasFeature(tp, Py_TPFLAGS_HEAPTYPE) || !PyType_HasFeature(tp, Py_TPFLAGS_MANAGED_DICT))
        return NULL;
#if PY_VERSION_HEX >= 0x030D0000
    if (!PyType_HasFeature(tp, Py_TPFLAGS_INLINE_VALUES) || tp->tp_basicsize != sizeof(PyObject))
        return NULL;
#endif
    return ((PyHeapTypeObject *)tp)->ht_cached_keys;
}

/* The inline values of obj (whose class ff_shared_keys accepted) when obj
 * has no __dict__ object and, with `empty`, no attribute set yet; else NULL. */
static inline void *ff_inline_values(PyObject *obj, int empty)
{
#if PY_VERSION_HEX >= 0x030D0000
    if (((PyObject **)obj)[-3] != NULL) /* MANAGED_DICT_OFFSET: a dict was made */
        return NULL;
    ff_values313 *v = (ff_values313 *)((char *)obj + sizeof(PyObject));
    return v->valid && (!empty || v->size == 0) ? v : NULL;
#elif PY_VERSION_HEX >= 0x030C0000
    char *dv = ((char **)obj)[-3]; /* PyDictOrValues: values tagged with bit 0 */
    if (!((uintptr_t)dv & 1))
        return NULL;
    uint8_t *v = (uint8_t *)(dv + 1);
    return !empty || v[-2] == 0 ? v : NULL;
#else
    if (((PyObject **)obj)[-3] != NULL) /* the managed dict pointer */
        return NULL;
    uint8_t *v = ((uint8_t **)obj)[-4]; /* the values pointer */
    return v && (!empty || v[-2] == 0) ? v : NULL;
#endif
}

static inline PyObject **ff_values_array(void *iv)
{
#if PY_VERSION_HEX >= 0x030D0000
    return ((ff_values313 *)iv)->values;
#else
    return (PyObject **)iv;
#endif
}

/* The values array of an instance __dict__ that still shares the class's
 * key table `keys` (a split dict, as CPython makes one from inline values),
 * indexed like the inline values; NULL for any other dict. */
static inline PyObject **ff_split_dict_values(PyObject *dict, void *keys)
{
    PyDictObject *d = (PyDictObject *)dict;
    if (!PyDict_CheckExact(dict) || (void *)d->ma_keys != keys || !d->ma_values)
        return NULL;
    return ff_values_array(d->ma_values);
}

/* How many attributes were set, and the index of the k-th one set. */
static inline int ff_values_count(void *iv)
{
#if PY_VERSION_HEX >= 0x030D0000
    return ((ff_values313 *)iv)->size;
#else
    return ((uint8_t *)iv)[-2];
#endif
}

static inline int ff_values_order(void *iv, int k)
{
#if PY_VERSION_HEX >= 0x030D0000
    ff_values313 *v = iv;
    return ((uint8_t *)&v->values[v->capacity])[k];
#else
    return ((uint8_t *)iv)[-3 - k];
#endif
}

/* Stores v (stolen) at index ix of a slot that holds nothing yet, and
 * records it as the next attribute set: _PyDictValues_AddToInsertionOrder. */
static inline void ff_values_store(void *iv, int ix, PyObject *v)
{
#if PY_VERSION_HEX >= 0x030D0000
    ff_values313 *vals = iv;
    vals->values[ix] = v;
    ((uint8_t *)&vals->values[vals->capacity])[vals->size++] = (uint8_t)ix;
#else
    ((PyObject **)iv)[ix] = v;
    uint8_t *size = (uint8_t *)iv - 2;
    (*size)++;
    size[-*size] = (uint8_t)ix;
#endif
}
#else
#define FF_HAVE_INLINE_VALUES 0
static inline void *ff_shared_keys(PyTypeObject *tp)
{
    (void)tp;
    return NULL;
}
static inline void *ff_inline_values(PyObject *obj, int empty)
{
    (void)obj;
    (void)empty;
    return NULL;
}
static inline PyObject **ff_values_array(void *iv)
{
    (void)iv;
    return NULL;
}
static inline PyObject **ff_split_dict_values(PyObject *dict, void *keys)
{
    (void)dict;
    (void)keys;
    return NULL;
}
static inline int ff_values_count(void *iv)
{
    (void)iv;
    return 0;
}
static inline int ff_values_order(void *iv, int k)
{
    (void)iv;
    (void)k;
    return -1;
}
static inline void ff_values_store(void *iv, int ix, PyObject *v)
{
    (void)iv;
    (void)ix;
    (void)v;
}
#endif

/* A new str of n (> 0) ASCII characters whose data the caller fills: the
 * compact ASCII object PyUnicode_New(n, 127) makes (header, then the n bytes
 * and a NUL in one block from the object allocator), without its general
 * sizing for every kind. The JSON decoder makes one per string value. The
 * header's fields are public structs (cpython/unicodeobject.h) whose members
 * differ by version: 3.11 has `ready` and `wstr`, 3.12 and 3.13
 * `statically_allocated`; 3.14 and later, and free-threaded builds, take
 * PyUnicode_New. */
static inline PyObject *ff_ascii_new(Py_ssize_t n)
{
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030E0000 && !defined(Py_GIL_DISABLED)
    if ((size_t)n > (size_t)PY_SSIZE_T_MAX - sizeof(PyASCIIObject) - 1)
        return PyErr_NoMemory();
    PyASCIIObject *o = PyObject_Malloc(sizeof(PyASCIIObject) + (size_t)n + 1);
    if (!o)
        return PyErr_NoMemory();
    memset(&o->state, 0, sizeof o->state);
    o->length = n;
    o->hash = -1;
    o->state.kind = PyUnicode_1BYTE_KIND;
    o->state.compact = 1;
    o->state.ascii = 1;
#if PY_VERSION_HEX < 0x030C0000
    o->state.ready = 1;
    o->wstr = NULL;
#endif
    ((char *)(o + 1))[n] = '\0';
    return PyObject_Init((PyObject *)o, &PyUnicode_Type);
#else
    return PyUnicode_New(n, 127);
#endif
}

#endif
