/* life/immortal.h — turning the frozen startup heap immortal before fork. */
#ifndef FF_LIFE_IMMORTAL_H
#define FF_LIFE_IMMORTAL_H

#include "module.h"

#include <stdint.h>

typedef struct {
    int64_t objects; /* made immortal by the walk (already-immortal ones not counted) */
    int64_t bytes;   /* their sys.getsizeof() sum */
} ff_immortal_stats;

/* Collects, then makes the startup heap's plain Python objects immortal
 * (life/immortal.c says which). Runs in the master before gc.freeze().
 * Returns 0, or -1 with an exception set (also on CPython < 3.12). */
int ff_immortalize_heap(PyObject *gc_module, ff_immortal_stats *stats);

#endif
