/* bind/form.h — a request body read as an HTML form, for Form() and
 * UploadFile parameters: the urlencoded and multipart codecs of http/form.h
 * turned into Python values once per request. */
#ifndef FF_BIND_FORM_H
#define FF_BIND_FORM_H

#include "module.h"
#include "obj/request.h"

/* The limits every form body is parsed under (_core.LIMITS lists them). */
#define FF_FORM_MAX_FIELDS 1000            /* fields and parts: 413 above */
#define FF_FORM_MAX_NAME_BYTES 1024        /* a urlencoded name as sent: 413 above */
#define FF_FORM_MAX_FIELD_BYTES (1 << 20)  /* a field's value (not a file's): 413 above */
#define FF_FORM_MAX_PART_HEADER_BYTES 8192 /* one part's header section: 413 above */
#define FF_FORM_MAX_PART_HEADERS 32        /* header fields of one part: 413 above */

/* Reads the body of r as a form into *out, a dict of name -> list of values
 * (str for fields, UploadFile for file parts) in the order sent; a body of
 * another media type gives an empty dict. Returns 0; a 4xx status with
 * *msg saying why for a body that is not an acceptable form; or -1 with a
 * Python exception. */
int ff_form_read(ff_state *st, const ff_req *r, PyObject **out, const char **msg);

#endif
