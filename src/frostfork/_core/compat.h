/* compat.h — every difference between the CPython versions frostfork builds
 * against (3.11 to 3.14), in one place.
 *
 * The rest of the C core calls these and never tests PY_VERSION_HEX itself, so
 * supporting a new version means reading this file, not the tree. */
#ifndef FF_COMPAT_H
#define FF_COMPAT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

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

#endif
