/* json/decode.h — JSON text straight into validated Python objects.
 *
 * One pass, guided by a compiled ff_type: no intermediate dict, every
 * validation error collected with its location (FastAPI's {type, loc, msg,
 * input} shape; input left out under Sensitive). Strict RFC 8259: trailing
 * commas, NaN/Infinity, lone surrogates, invalid UTF-8, duplicate keys in a
 * model and nesting deeper than FF_JSON_MAX_DEPTH are syntax errors. */
#ifndef FF_JSON_DECODE_H
#define FF_JSON_DECODE_H

#include "json/scan.h"
#include "schema/type.h"

#define FF_JSON_MAX_DEPTH 64
#define FF_JSON_STR_(x) #x
#define FF_JSON_STR(x) FF_JSON_STR_(x)
/* The 400's reason when a body nests deeper than the limit: it names the limit. */
#define FF_JSON_DEPTH_MSG "nesting too deep (more than " FF_JSON_STR(FF_JSON_MAX_DEPTH) " levels)"

#define FF_DEC_PRED_DEPTH 8
#define FF_DEC_PRED_KEYS 16

typedef struct {
    PyObject *key;    /* borrowed str, or NULL when index is used */
    Py_ssize_t index;
} ff_loc;

#define FF_DEC_DC_SEEN 4

typedef struct {
    ff_json_scan in;    /* the lexer: input, position, first syntax error (-> 400) */
    ff_state *st;
    PyObject *errors;   /* list of error dicts, created on the first error */
    PyObject *prefix;   /* borrowed tuple: loc items before the path, e.g. ("body",) */
    int quiet;          /* > 0 inside a union trial: fail without recording */
    int sensitive;      /* > 0 below a Sensitive type: never echo the input */
    PyObject *secrets;  /* borrowed list collecting Sensitive strings (for masking), or NULL */
    int depth;
    /* untyped objects: the keys of the last object at each of the first
     * FF_DEC_PRED_DEPTH levels, tried in turn against the next object's
     * keys (arrays of same-shaped records); npred[l] of pred[l] are set
     * and hold a reference each */
    unsigned char npred[FF_DEC_PRED_DEPTH];
    /* dataclasses whose class changed since its schema was compiled (another
     * library caching something on it moves its version tag): the tag this
     * call checked again and found still free of data descriptors on the
     * field names, for the last FF_DEC_DC_SEEN classes (build_model) */
    PyTypeObject *dc_type[FF_DEC_DC_SEEN];
    unsigned int dc_version[FF_DEC_DC_SEEN];
    unsigned dc_next;
    ff_loc path[FF_JSON_MAX_DEPTH + 2];
    PyObject *pred[FF_DEC_PRED_DEPTH][FF_DEC_PRED_KEYS]; /* last: ff_dec_init leaves it unset */
} ff_dec;

void ff_dec_init(ff_dec *d, ff_state *st, const char *buf, size_t len, PyObject *prefix);
void ff_dec_free(ff_dec *d);
/* Points the decoder at new input, keeping the errors collected so far. */
void ff_dec_reset_input(ff_dec *d, const char *buf, size_t len, PyObject *prefix);

/* Decodes the whole buffer as one value of type t. Returns a new reference,
 * or NULL with d->in.err set, or with errors in d->errors, or with a Python
 * exception set (only for real failures such as MemoryError). */
PyObject *ff_json_decode(ff_dec *d, const ff_type *t);

/* Converts a string from the URL or a header (path, query, header, cookie)
 * to type t with the same checks and error shapes as JSON input. */
PyObject *ff_convert_str(ff_dec *d, const ff_type *t, PyObject *s);
/* A model (t->kind FF_T_MODEL) from a dict of field name -> list of values,
 * the text ones converted like ff_convert_str (a form bound with Form()). */
PyObject *ff_convert_model(ff_dec *d, const ff_type *t, PyObject *values);

/* Records one error at the current location (plus `extra` if not NULL). */
int ff_dec_error(ff_dec *d, const char *type, PyObject *msg, PyObject *input, PyObject *extra);

/* Raises frostfork.ValidationError / frostfork.JSONDecodeError for a failed
 * decode, whichever applies; keeps a pending Python exception as it is. */
void ff_dec_raise(ff_dec *d);

PyObject *ff_py_decode(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
/* buf (bytes-like or str) decoded as root's type; NULL with the error set */
PyObject *ff_decode_with(ff_state *st, PyObject *buf, const ff_type *root);

#endif
