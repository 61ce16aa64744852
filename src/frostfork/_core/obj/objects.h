/* obj/objects.h — the Request and Response Python types. */
#ifndef FF_OBJ_OBJECTS_H
#define FF_OBJ_OBJECTS_H

#include "module.h"

typedef struct {
    PyObject_HEAD
    int status;
    PyObject *body;    /* bytes, str, None, or anything JSON-encodable */
    PyObject *headers; /* None, a dict, or an iterable of (name, value) pairs */
} ff_Response;

typedef struct {
    PyObject_HEAD
    PyObject *method;
    PyObject *path;
    PyObject *query_string;
    PyObject *raw_headers; /* list of (lower-case name, value) */
    PyObject *headers;     /* frostfork.datastructures.Headers, made on first use, or NULL */
    PyObject *query;       /* ... QueryParams, made on first use, or NULL */
    PyObject *cookies;     /* dict, made on first use, or NULL */
    PyObject *url;         /* ... URL, made on first use, or NULL */
    PyObject *state;       /* types.SimpleNamespace, made on first use, or NULL */
    PyObject *body;        /* bytes; for a spooled body NULL until request.body is read */
    PyObject *spool;       /* the spooled body's Spool (obj/body.h), or NULL */
    PyObject *path_params; /* dict */
    PyObject *client;      /* (host, port) */
    PyObject *weakreflist; /* requests can be watched with weakref (leak tests do) */
} ff_Request;

#endif
