/* json/encode.h — Python objects to JSON bytes, in C. */
#ifndef FF_JSON_ENCODE_H
#define FF_JSON_ENCODE_H

#include "module.h"
#include "util/buf.h"

/* A result nested deeper than this is refused with ValueError (a 500: the
 * handler's doing, not the client's). */
#define FF_JSON_ENCODE_MAX_DEPTH 128

enum { FF_ENC_SENSITIVE = 1 }; /* also write Sensitive fields (frostfork.dispatch) */

/* Appends the JSON text of obj to out. Supports dict (str keys), list,
 * tuple, set, frozenset, str, int, float (finite), bool, None, dataclasses
 * and frostfork.Models (Sensitive fields left out: they are write-only),
 * Enum members (their value), datetime/date/time (ISO 8601), UUID and
 * Decimal (strings) and bytes (base64). Returns 0, or -1 with a Python
 * exception set; out may then hold a partial document the caller discards.
 * A dataclass instance without slots is read from its inline values (3.11
 * to 3.13; no __dict__ object is made) or its __dict__, not by one getattr
 * per field, unless a field name is a data descriptor. */
int ff_json_encode(ff_buf *out, PyObject *obj, ff_state *st, int flags);

/* obj's JSON text as a new bytes object, or NULL with the error set. */
PyObject *ff_encode_bytes(ff_state *st, PyObject *obj, int flags);

#endif
