/* life/immortal.c — make the frozen startup heap immortal (--freeze immortal).
 *
 * A forked worker shares the master's heap page by page until it writes to a
 * page. Reading a Python object writes it: every Py_INCREF/Py_DECREF changes
 * its reference count, so a worker that merely iterates a startup table copies
 * every page the table lives on. gc.freeze() keeps the collector's own writes
 * away but not these. CPython 3.12+ (PEP 683) never writes the count of an
 * immortal object; this file turns the startup heap into such objects, once, in
 * the master, just before gc.freeze() and the fork.
 *
 * What is made immortal: the containers the collector tracks (gc.get_objects()
 * after a full collection, so no garbage) and what they refer to, found through
 * tp_traverse — but only objects whose lifetime nothing depends on: the
 * built-in value and code types listed below, classes, and instances of classes
 * written in Python without __del__. Instances of extension types are left
 * mortal (they may free resources or count references on purpose), and so is
 * anything an object of such a type refers to unless another path reaches it.
 *
 * The cost is the point: such objects are never freed, in the master or in a
 * worker. It is bounded by the startup heap, which is shared by every worker. */
#include "life/immortal.h"

#if FF_HAVE_IMMORTAL

/* Untracked containers (a tuple of strings, a dict of ints) are reached only
 * through their owners; this bounds the recursion into them. */
#define MAX_DEPTH 64

typedef struct {
    destructor py_dealloc; /* tp_dealloc of classes written in Python */
    PyObject *getsizeof;   /* sys.getsizeof */
    ff_immortal_stats *stats;
    int depth;
} walk;

/* Built-in types whose instances never depend on being freed. */
static int builtin_value_type(PyTypeObject *t)
{
    return t == &PyDict_Type || t == &PyList_Type || t == &PyTuple_Type || t == &PySet_Type ||
           t == &PyFrozenSet_Type || t == &PyUnicode_Type || t == &PyBytes_Type ||
           t == &PyByteArray_Type || t == &PyLong_Type || t == &PyFloat_Type ||
           t == &PyComplex_Type || t == &PyBool_Type || t == &PyFunction_Type ||
           t == &PyCode_Type || t == &PyCell_Type || t == &PyModule_Type ||
           t == &PyMethod_Type || t == &PyCFunction_Type || t == &PyProperty_Type ||
           t == &PyClassMethod_Type || t == &PyStaticMethod_Type ||
           t == &PyMemberDescr_Type || t == &PyGetSetDescr_Type || t == &PyMethodDescr_Type ||
           t == &PyWrapperDescr_Type || t == &PyClassMethodDescr_Type ||
           t == &PyDictProxy_Type || t == &PyRange_Type || t == &PySlice_Type ||
           t == &PyBaseObject_Type;
}

/* A class statement's class: deallocated by CPython's generic subtype
 * deallocator, with every base either such a class or a built-in value type,
 * and no __del__. Its instances hold nothing but Python references. */
static int python_class(const walk *w, PyTypeObject *t)
{
    if (t->tp_dealloc != w->py_dealloc || t->tp_finalize || t->tp_del)
        return 0;
    PyObject *mro = t->tp_mro;
    if (!mro || !PyTuple_Check(mro))
        return 0;
    for (Py_ssize_t i = 1; i < PyTuple_GET_SIZE(mro); i++) {
        PyTypeObject *base = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        if (base->tp_dealloc != w->py_dealloc && !builtin_value_type(base))
            return 0;
    }
    return 1;
}

static int eligible(const walk *w, PyObject *o)
{
    PyTypeObject *t = Py_TYPE(o);
    if (builtin_value_type(t))
        return 1;
    if (PyType_Check(o)) /* a class; its metaclass must be plain too */
        return t == &PyType_Type || python_class(w, t);
    return python_class(w, t);
}

/* Marks one object immortal and counts it (once). */
static void mark(walk *w, PyObject *o)
{
    if (ff_is_immortal(o))
        return;
    PyObject *size = PyObject_CallOneArg(w->getsizeof, o);
    long long n = size ? PyLong_AsLongLong(size) : -1;
    Py_XDECREF(size);
    if (n < 0) {
        PyErr_Clear();
        n = (long long)Py_TYPE(o)->tp_basicsize;
    }
    ff_make_immortal(o);
    w->stats->objects++;
    w->stats->bytes += n;
}

static int visit(PyObject *o, void *arg);

/* What a code object refers to: its constants and names, which every call
 * of the function increfs. Code objects are not containers the collector
 * traverses, so they are walked here. */
static void walk_code(walk *w, PyCodeObject *co)
{
    visit(co->co_consts, w);
    visit(co->co_names, w);
    visit(co->co_filename, w);
    visit(co->co_name, w);
    visit(co->co_qualname, w);
}

/* Reached from an immortal object: mark it, and walk into it when nothing
 * else will (an untracked container, a code object). Tracked containers are
 * walked when the outer loop comes to them. */
static int visit(PyObject *o, void *arg)
{
    walk *w = arg;
    if (!o || ff_is_immortal(o) || !eligible(w, o))
        return 0;
    mark(w, o);
    if (w->depth >= MAX_DEPTH)
        return 0;
    w->depth++;
    if (PyCode_Check(o))
        walk_code(w, (PyCodeObject *)o);
    else if (PyObject_IS_GC(o) && !PyObject_GC_IsTracked(o) && Py_TYPE(o)->tp_traverse)
        Py_TYPE(o)->tp_traverse(o, visit, w);
    w->depth--;
    return 0;
}

/* The generic deallocator of classes defined in Python, read off a class made
 * for the purpose: CPython does not export it. */
static destructor python_class_dealloc(void)
{
    PyObject *cls = PyObject_CallFunction((PyObject *)&PyType_Type, "s()N", "_ff_probe",
                                          PyDict_New());
    if (!cls)
        return NULL;
    destructor d = ((PyTypeObject *)cls)->tp_dealloc;
    Py_DECREF(cls); /* freed by the collection that precedes the walk */
    return d;
}

int ff_immortalize_heap(PyObject *gc_module, ff_immortal_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    walk w = {.stats = stats};
    w.py_dealloc = python_class_dealloc();
    if (!w.py_dealloc)
        return -1;
    w.getsizeof = ff_import_attr("sys", "getsizeof");
    if (!w.getsizeof)
        return -1;
    PyGC_Collect();
    /* No collection may run while tp_traverse walks are in progress. */
    int was_enabled = PyGC_Disable();
    PyObject *objs = PyObject_CallMethod(gc_module, "get_objects", NULL);
    int rc = -1;
    if (objs && PyList_Check(objs)) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(objs); i++) {
            PyObject *o = PyList_GET_ITEM(objs, i);
            if (!eligible(&w, o))
                continue;
            mark(&w, o);
            w.depth = 0;
            if (Py_TYPE(o)->tp_traverse)
                Py_TYPE(o)->tp_traverse(o, visit, &w);
        }
        rc = 0;
    }
    Py_XDECREF(objs);
    Py_DECREF(w.getsizeof);
    if (was_enabled)
        PyGC_Enable();
    return rc;
}

#else

int ff_immortalize_heap(PyObject *gc_module, ff_immortal_stats *stats)
{
    (void)gc_module;
    memset(stats, 0, sizeof *stats);
    PyErr_SetString(PyExc_RuntimeError,
                    "immortal objects need CPython 3.12 or newer (PEP 683)");
    return -1;
}

#endif
