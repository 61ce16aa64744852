/* life/finalize.c — the Finalizer type and the request/process lists. */
#include "life/finalize.h"

#include <structmember.h>

static void unlink_fin(ff_Finalizer *f)
{
    if (!f->list)
        return;
    if (f->prev)
        f->prev->next = f->next;
    else
        f->list->head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    f->prev = f->next = NULL;
    f->list = NULL;
}

/* Takes the finalizer off its list; the list's reference passes to the
 * caller. Returns 0 when it was not alive. */
static int take(ff_Finalizer *f)
{
    if (!f->list)
        return 0;
    unlink_fin(f);
    return 1;
}

static void push(ff_fin_list *l, ff_Finalizer *f)
{
    Py_INCREF(f); /* the list's reference: alive finalizers are kept by their list */
    f->list = l;
    f->prev = NULL;
    f->next = l->head;
    if (l->head)
        l->head->prev = f;
    l->head = f;
}

/* Runs the callback once. The list's reference is dropped here. */
static PyObject *run(ff_Finalizer *f)
{
    if (!take(f))
        Py_RETURN_NONE;
    PyObject *fn = f->fn, *args = f->args, *kwargs = f->kwargs;
    f->fn = f->args = f->kwargs = NULL;
    Py_CLEAR(f->wr);
    PyObject *res = PyObject_Call(fn, args, kwargs);
    Py_DECREF(fn);
    Py_DECREF(args);
    Py_XDECREF(kwargs);
    Py_DECREF(f); /* the list's reference */
    return res;
}

static PyObject *fin_call(ff_Finalizer *f, PyObject *args, PyObject *kwargs)
{
    if (PyTuple_GET_SIZE(args) || (kwargs && PyDict_GET_SIZE(kwargs))) {
        PyErr_SetString(PyExc_TypeError, "a finalizer takes no arguments");
        return NULL;
    }
    Py_INCREF(f);
    PyObject *res = run(f);
    Py_DECREF(f);
    return res;
}

/* The weakref callback: the object is gone, run now. */
static PyObject *fin_collected(ff_Finalizer *f, PyObject *wr)
{
    (void)wr;
    Py_INCREF(f);
    PyObject *res = run(f);
    Py_DECREF(f);
    if (!res)
        PyErr_WriteUnraisable((PyObject *)f);
    Py_XDECREF(res);
    Py_RETURN_NONE;
}

static PyMethodDef collected_def = {"_collected", (PyCFunction)fin_collected, METH_O, NULL};

static PyObject *fin_detach(ff_Finalizer *f, PyObject *unused)
{
    (void)unused;
    if (!f->list)
        Py_RETURN_NONE;
    PyObject *obj = f->wr ? ff_weakref_get(f->wr) : Py_NewRef(Py_None);
    if (!obj)
        Py_RETURN_NONE; /* its object is gone: the callback is about to run */
    PyObject *res = Py_BuildValue("(NOOO)", obj, f->fn, f->args, f->kwargs ? f->kwargs : Py_None);
    if (!res)
        return NULL;
    take(f);
    Py_CLEAR(f->fn);
    Py_CLEAR(f->args);
    Py_CLEAR(f->kwargs);
    Py_CLEAR(f->wr);
    Py_DECREF(f); /* the list's reference */
    return res;
}

static PyObject *fin_peek(ff_Finalizer *f, PyObject *unused)
{
    (void)unused;
    if (!f->list)
        Py_RETURN_NONE;
    PyObject *obj = f->wr ? ff_weakref_get(f->wr) : Py_NewRef(Py_None);
    if (!obj)
        Py_RETURN_NONE;
    return Py_BuildValue("(NOOO)", obj, f->fn, f->args, f->kwargs ? f->kwargs : Py_None);
}

static PyObject *fin_alive(ff_Finalizer *f, void *closure)
{
    (void)closure;
    return PyBool_FromLong(f->list != NULL);
}

static int fin_traverse(ff_Finalizer *f, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(f));
    Py_VISIT(f->wr);
    Py_VISIT(f->fn);
    Py_VISIT(f->args);
    Py_VISIT(f->kwargs);
    return 0;
}

static int fin_clear(ff_Finalizer *f)
{
    Py_CLEAR(f->wr);
    Py_CLEAR(f->fn);
    Py_CLEAR(f->args);
    Py_CLEAR(f->kwargs);
    return 0;
}

static void fin_dealloc(ff_Finalizer *f)
{
    PyTypeObject *tp = Py_TYPE(f);
    PyObject_GC_UnTrack(f);
    if (f->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)f);
    unlink_fin(f); /* only reachable when a list was dropped wholesale */
    fin_clear(f);
    tp->tp_free(f);
    Py_DECREF(tp);
}

static PyMethodDef fin_methods[] = {
    {"detach", (PyCFunction)fin_detach, METH_NOARGS,
     "Cancel: return (obj, fn, args, kwargs) if alive, else None."},
    {"peek", (PyCFunction)fin_peek, METH_NOARGS,
     "Return (obj, fn, args, kwargs) if alive, else None."},
    {NULL},
};

static PyGetSetDef fin_getset[] = {
    {"alive", (getter)fin_alive, NULL, "Whether the callback is still pending.", NULL},
    {NULL},
};

static PyMemberDef fin_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(ff_Finalizer, weakreflist), READONLY},
    {NULL},
};

static PyType_Slot fin_slots[] = {
    {Py_tp_call, fin_call},
    {Py_tp_dealloc, fin_dealloc},
    {Py_tp_traverse, fin_traverse},
    {Py_tp_clear, fin_clear},
    {Py_tp_methods, fin_methods},
    {Py_tp_getset, fin_getset},
    {Py_tp_members, fin_members},
    {Py_tp_doc, "A pending cleanup: call it to run now; `alive`, `detach()`, `peek()`."},
    {0, NULL},
};

PyType_Spec ff_finalizer_spec = {
    .name = "frostfork.Finalizer",
    .basicsize = sizeof(ff_Finalizer),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = fin_slots,
};

static ff_Finalizer *make(ff_state *st, PyObject *fn, PyObject *args, PyObject *kwargs)
{
    ff_Finalizer *f = PyObject_GC_New(ff_Finalizer, st->Finalizer_type);
    if (!f)
        return NULL;
    f->wr = NULL;
    f->fn = Py_NewRef(fn);
    f->args = Py_NewRef(args);
    f->kwargs = kwargs && PyDict_GET_SIZE(kwargs) ? PyDict_Copy(kwargs) : NULL;
    f->prev = f->next = NULL;
    f->list = NULL;
    f->weakreflist = NULL;
    PyObject_GC_Track(f);
    return f;
}

static ff_fin_list *current_list(ff_state *st)
{
    if (st->task_fins)
        return st->task_fins;
    return st->in_request ? &st->request_fins : &st->process_fins;
}

PyObject *ff_py_finalize(PyObject *module, PyObject *args, PyObject *kwargs)
{
    ff_state *st = ff_get_state(module);
    if (PyTuple_GET_SIZE(args) < 2) {
        PyErr_SetString(PyExc_TypeError, "finalize(obj, fn, /, *args, **kwargs)");
        return NULL;
    }
    PyObject *obj = PyTuple_GET_ITEM(args, 0), *fn = PyTuple_GET_ITEM(args, 1);
    if (!PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError, "finalize: fn must be callable");
        return NULL;
    }
    PyObject *rest = PyTuple_GetSlice(args, 2, PyTuple_GET_SIZE(args));
    ff_Finalizer *f = rest ? make(st, fn, rest, kwargs) : NULL;
    Py_XDECREF(rest);
    if (!f)
        return NULL;
    PyObject *cb = PyCFunction_New(&collected_def, (PyObject *)f);
    f->wr = cb ? PyWeakref_NewRef(obj, cb) : NULL; /* TypeError for objects without weakrefs */
    Py_XDECREF(cb);
    if (!f->wr) {
        Py_DECREF(f);
        return NULL;
    }
    push(current_list(st), f);
    return (PyObject *)f;
}

int ff_defer(ff_state *st, PyObject *fn, PyObject *args)
{
    ff_Finalizer *f = make(st, fn, args, NULL);
    if (!f)
        return -1;
    push(current_list(st), f);
    Py_DECREF(f);
    return 0;
}

void ff_fin_run_list(ff_fin_list *l)
{
    ff_Finalizer *f;
    while ((f = l->head)) {
        Py_INCREF(f);
        PyObject *res = run(f);
        if (!res)
            PyErr_WriteUnraisable(f->fn ? f->fn : (PyObject *)f);
        Py_XDECREF(res);
        Py_DECREF(f);
    }
}

void ff_fin_list_split(ff_fin_list *from, ff_Finalizer *mark, ff_fin_list *to)
{
    ff_Finalizer *f;
    while ((f = from->head) && f != mark) {
        from->head = f->next;
        if (f->next)
            f->next->prev = NULL;
        f->list = to; /* the list's reference moves with it */
        f->prev = NULL;
        f->next = to->head;
        if (to->head)
            to->head->prev = f;
        to->head = f;
    }
}

void ff_fin_forget_list(ff_fin_list *l)
{
    /* The master still owns these objects and will run the callbacks; here
     * they are only unlinked, with the list's references leaked on purpose
     * (freeing them would touch — and un-share — the frozen heap). */
    ff_Finalizer *f = l->head;
    while (f) {
        ff_Finalizer *next = f->next;
        f->prev = f->next = NULL;
        f->list = NULL;
        f = next;
    }
    l->head = NULL;
}
