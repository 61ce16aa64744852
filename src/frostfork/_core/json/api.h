/* json/api.h — frostfork.json's public entry points (json/api.c). */
#ifndef FF_JSON_API_H
#define FF_JSON_API_H

#include "module.h"

/* decode(buf, /, *, type=Any) -> value */
PyObject *ff_py_json_decode(PyObject *module, PyObject *const *args, size_t nargsf,
                            PyObject *kwnames);
/* encode(obj, /, *, type=<none>, include_sensitive=False) -> bytes */
PyObject *ff_py_json_encode(PyObject *module, PyObject *const *args, size_t nargsf,
                            PyObject *kwnames);
/* schema_of(type) -> Schema, compiled once per hint */
PyObject *ff_py_schema_of(PyObject *module, PyObject *tp);

#endif
