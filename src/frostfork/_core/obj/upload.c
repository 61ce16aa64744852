/* obj/upload.c — frostfork.UploadFile (see upload.h).
 *
 * The object only describes a file part and holds the file-like object its
 * bytes are read from: a reader over a range of the spooled request body
 * when the body was spooled (so nothing is copied), else a BytesIO over the
 * part's bytes. read(), seek() and close() forward to that object. */
#include "obj/upload.h"

#include <structmember.h>

typedef struct {
    PyObject_HEAD
    PyObject *filename;     /* str or None */
    PyObject *content_type; /* str or None */
    Py_ssize_t size;
    PyObject *headers;      /* dict: lower-case name -> value */
    PyObject *file;
} ff_Upload;

PyObject *ff_upload_new(ff_state *st, PyObject *file, PyObject *filename, PyObject *content_type,
                        Py_ssize_t size, PyObject *headers)
{
    ff_Upload *u = PyObject_GC_New(ff_Upload, st->UploadFile_type);
    if (!u)
        return NULL;
    u->filename = Py_NewRef(filename);
    u->content_type = Py_NewRef(content_type);
    u->size = size;
    u->headers = Py_NewRef(headers);
    u->file = Py_NewRef(file);
    PyObject_GC_Track(u);
    return (PyObject *)u;
}

/* UploadFile(file, filename=None, content_type=None, size=0, headers=None):
 * for tests and for code that hands an upload on. */
static PyObject *upload_tp_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"file", "filename", "content_type", "size", "headers", NULL};
    PyObject *file, *filename = Py_None, *ctype = Py_None, *headers = NULL;
    Py_ssize_t size = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OOnO!:UploadFile", kwlist, &file, &filename,
                                     &ctype, &size, &PyDict_Type, &headers))
        return NULL;
    ff_state *st = PyType_GetModuleState(type);
    PyObject *h = headers ? Py_NewRef(headers) : PyDict_New();
    if (!st || !h)
        return NULL;
    PyObject *u = ff_upload_new(st, file, filename, ctype, size, h);
    Py_DECREF(h);
    return u;
}

static PyObject *upload_read(ff_Upload *u, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "read() takes at most one argument");
        return NULL;
    }
    PyObject *size = nargs ? args[0] : Py_None;
    return PyObject_CallMethod(u->file, "read", "O", size);
}

static PyObject *upload_seek(ff_Upload *u, PyObject *args)
{
    PyObject *seek = PyObject_GetAttrString(u->file, "seek");
    PyObject *res = seek ? PyObject_Call(seek, args, NULL) : NULL;
    Py_XDECREF(seek);
    return res;
}

static PyObject *upload_close(ff_Upload *u, PyObject *unused)
{
    (void)unused;
    return PyObject_CallMethod(u->file, "close", NULL);
}

static PyObject *upload_repr(ff_Upload *u)
{
    return PyUnicode_FromFormat("UploadFile(filename=%R, content_type=%R, size=%zd)", u->filename,
                                u->content_type, u->size);
}

static int upload_traverse(ff_Upload *u, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(u));
    Py_VISIT(u->filename);
    Py_VISIT(u->content_type);
    Py_VISIT(u->headers);
    Py_VISIT(u->file);
    return 0;
}

static int upload_clear(ff_Upload *u)
{
    Py_CLEAR(u->filename);
    Py_CLEAR(u->content_type);
    Py_CLEAR(u->headers);
    Py_CLEAR(u->file);
    return 0;
}

static void upload_dealloc(ff_Upload *u)
{
    PyTypeObject *tp = Py_TYPE(u);
    PyObject_GC_UnTrack(u);
    upload_clear(u);
    PyObject_GC_Del(u);
    Py_DECREF(tp);
}

static PyMemberDef upload_members[] = {
    {"filename", T_OBJECT, offsetof(ff_Upload, filename), READONLY,
     "the filename the client sent (\"\" for an empty file input)"},
    {"content_type", T_OBJECT, offsetof(ff_Upload, content_type), READONLY,
     "the part's Content-Type, or None"},
    {"size", T_PYSSIZET, offsetof(ff_Upload, size), READONLY, "bytes in the file"},
    {"headers", T_OBJECT, offsetof(ff_Upload, headers), READONLY,
     "the part's header fields: lower-case name -> value"},
    {"file", T_OBJECT, offsetof(ff_Upload, file), READONLY,
     "a binary file-like object (read, seek, tell) over the bytes"},
    {NULL},
};

static PyMethodDef upload_methods[] = {
    {"read", (PyCFunction)(void (*)(void))upload_read, METH_FASTCALL,
     "read(size=-1) -> bytes, from file"},
    {"seek", (PyCFunction)upload_seek, METH_VARARGS, "seek(offset[, whence]) on file"},
    {"close", (PyCFunction)upload_close, METH_NOARGS, "close file"},
    {NULL},
};

static PyType_Slot upload_slots[] = {
    {Py_tp_new, upload_tp_new},
    {Py_tp_dealloc, upload_dealloc},
    {Py_tp_traverse, upload_traverse},
    {Py_tp_clear, upload_clear},
    {Py_tp_members, upload_members},
    {Py_tp_methods, upload_methods},
    {Py_tp_repr, upload_repr},
    {Py_tp_doc, "An uploaded file from a multipart/form-data body. Its file is readable until "
                "the request ends; a spooled one is removed then."},
    {0, NULL},
};

PyType_Spec ff_upload_spec = {
    .name = "frostfork.UploadFile",
    .basicsize = sizeof(ff_Upload),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = upload_slots,
};
