/* json/encode.h — Python objects to JSON bytes, in C. */
#ifndef FF_JSON_ENCODE_H
#define FF_JSON_ENCODE_H

#include "module.h"
#include "util/buf.h"

/* Appends the JSON text of obj to out. Supports dict (str keys), list,
 * tuple, str, int, float (finite), bool and None. Returns 0, or -1 with a
 * Python exception set (TypeError / ValueError / MemoryError); out may then
 * hold a partial document the caller discards. */
int ff_json_encode(ff_buf *out, PyObject *obj);

#endif
