/* obj/upload.h — frostfork.UploadFile: one file part of a multipart form as
 * a handler receives it. */
#ifndef FF_OBJ_UPLOAD_H
#define FF_OBJ_UPLOAD_H

#include "module.h"

extern PyType_Spec ff_upload_spec;

/* A new UploadFile; every argument is borrowed (filename and content_type
 * may be Py_None). */
PyObject *ff_upload_new(ff_state *st, PyObject *file, PyObject *filename, PyObject *content_type,
                        Py_ssize_t size, PyObject *headers);

#endif
