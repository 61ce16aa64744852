/* life/finalize.h — finalizers with weakref.finalize semantics, in C.
 *
 * A finalizer runs its callback exactly once: when called explicitly, when
 * its object is collected, at the end of the request it was made in (also
 * after an exception), or at worker exit — whichever comes first. It never
 * keeps its object alive (it holds a weak reference only). Live finalizers
 * sit on one of two lists in the module state: the current request's, run
 * by the worker once the response is written, and the process's, run at
 * exit. Request-scoped dependencies and request.defer() use the same lists. */
#ifndef FF_LIFE_FINALIZE_H
#define FF_LIFE_FINALIZE_H

#include "module.h"

typedef struct ff_Finalizer {
    PyObject_HEAD
    PyObject *wr;               /* weak reference to the object, NULL for defer() */
    PyObject *fn, *args, *kwargs;
    struct ff_Finalizer *prev, *next;
    ff_fin_list *list;          /* NULL once run or detached */
    PyObject *weakreflist;
} ff_Finalizer;

extern PyType_Spec ff_finalizer_spec;

/* finalize(obj, fn, /, *args, **kwargs) -> Finalizer */
PyObject *ff_py_finalize(PyObject *module, PyObject *args, PyObject *kwargs);
/* Registers fn(*args) to run when the current request ends (or now-ish:
 * at exit, outside a request). Returns 0 or -1 with an exception. */
int ff_defer(ff_state *st, PyObject *fn, PyObject *args);
/* Runs every finalizer on the list, newest first; errors are reported as
 * unraisable and do not stop the others. */
void ff_fin_run_list(ff_fin_list *l);
/* Moves the finalizers pushed onto `from` since its head was `mark` (the
 * newest ones) to `to`: a request that suspends takes its own with it, so
 * another request's cleanup does not run them. */
void ff_fin_list_split(ff_fin_list *from, ff_Finalizer *mark, ff_fin_list *to);
/* Forgets a list without running it: a forked worker does not own the
 * master's process-scope finalizers. */
void ff_fin_forget_list(ff_fin_list *l);

#endif
