/* json/shape.h — encoding a value as a declared type (response models).
 *
 * The handler's return annotation (or response_model=) is compiled once into
 * an ff_type; per request the value it returned is walked along that type and
 * only the type's fields are written. A DB row or a richer object with more
 * attributes than the declared model loses the extra ones; Sensitive fields
 * are never written; a value that does not fit is refused as a whole. */
#ifndef FF_JSON_SHAPE_H
#define FF_JSON_SHAPE_H

#include "schema/type.h"
#include "util/buf.h"

/* Appends the JSON of obj read as type t. Returns 0; or -1 with a Python
 * exception set: a ValueError whose message names the location and the
 * reason ("$.items[2].name: expected str, got int") when obj does not fit,
 * or whatever a getattr/default factory raised. On -1 out may hold a partial
 * document: the caller drops it (out->len back to where it was). */
int ff_json_encode_as(ff_buf *out, PyObject *obj, const ff_type *t, ff_state *st);

/* obj as t's type, as a bytes object (frostfork.json.encode(obj, type=T)). */
PyObject *ff_encode_as_bytes(ff_state *st, PyObject *obj, const ff_type *t);

#endif
