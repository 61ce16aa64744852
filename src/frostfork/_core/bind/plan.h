/* bind/plan.h — binding plans: where each handler argument comes from.
 *
 * A Plan is made once per handler (and per dependency factory) from its
 * signature, in Python, at registration. Per request the dispatcher walks
 * the plan in C: path captures, query pairs, headers and cookies are
 * converted with their compiled types, the body is decoded once, and
 * dependencies are built (request scope: once per request, closed after the
 * response; app scope: once per worker). Every failure is collected so a 422
 * lists them all. */
#ifndef FF_BIND_PLAN_H
#define FF_BIND_PLAN_H

#include "json/decode.h"
#include "http/router.h"
#include "obj/request.h"

enum ff_src {
    FF_SRC_PATH, FF_SRC_QUERY, FF_SRC_HEADER, FF_SRC_COOKIE,
    FF_SRC_BODY,       /* the whole body is this argument */
    FF_SRC_BODY_FIELD, /* one field of an embedded body object */
    FF_SRC_REQUEST, FF_SRC_DEP,
    FF_SRC_SECURITY,   /* a credential (frostfork.security): missing is a 401 */
    FF_SRC_FORM,       /* a form field (urlencoded or multipart), converted like a query value */
    FF_SRC_FILE,       /* an uploaded file (UploadFile), or a list of them */
    FF_SRC_FORM_MODEL, /* the whole form as a model */
    FF_SRC_WEBSOCKET,  /* a websocket route's frostfork.WebSocket */
};

/* Security scheme kinds, mirrored by frostfork/security.py. */
enum ff_sec_kind {
    FF_SEC_KEY_HEADER, FF_SEC_KEY_QUERY, FF_SEC_KEY_COOKIE, FF_SEC_BEARER, FF_SEC_BASIC,
};

typedef struct {
    int src;
    PyObject *name;     /* keyword name */
    PyObject *loc_name; /* name in the request: query key, lower-case header, cookie, path */
    const char *key;
    Py_ssize_t key_len;
    int capture;        /* FF_SRC_PATH: index of the router capture */
    PyObject *schema;   /* owns type */
    const ff_type *type;
    int required;
    PyObject *default_value;
    int is_list;        /* query/header given repeatedly, collected in a list */
    PyObject *dep;      /* FF_SRC_DEP: the factory's Plan */
    int sec_kind;       /* FF_SRC_SECURITY: enum ff_sec_kind */
    PyObject *challenge; /* ... the WWW-Authenticate value of its 401 */
    PyObject *sec_cls;  /* ... what a bearer/basic credential is made into */
} ff_arg;

typedef struct {
    PyObject_HEAD
    PyObject *callable;
    PyObject *kwnames;
    ff_arg *args;
    Py_ssize_t nargs;
    Py_ssize_t nside;      /* the first nside args are dependencies=[...]: run, not passed */
    int generator;         /* a dependency factory that yields its value (teardown after) */
    PyObject *body_schema; /* whole-body type (single or embedded), or NULL */
    int app_scope;         /* dependency made once per worker */
    PyObject *app_value;   /* ... and here it is, once made */
    PyObject *label;       /* for logs: "GET /users/{id}" or the factory's name */
} ff_Plan;

extern PyType_Spec ff_plan_spec;

/* How many query pairs and request-scoped dependencies fit in the per-request
 * state itself. These are not limits: a request with more query pairs, or a
 * handler with more request-scoped dependencies, moves that array to the heap
 * for the rest of the request (so the common case allocates nothing). */
#define FF_BIND_QUERY_INLINE 128
#define FF_BIND_DEPS_INLINE 16

typedef struct { const char *k; size_t kn; const char *v; size_t vn; } ff_pair;
typedef struct { ff_Plan *plan; PyObject *value; } ff_bind_dep;

/* Per-request binding state. */
typedef struct {
    ff_state *st;
    const ff_req *r;
    const ff_slice *caps;
    size_t ncaps;
    ff_dec dec;             /* collects 422 errors across every source */
    PyObject *body;         /* decoded body, once */
    int body_state;         /* 0 not yet, 1 ok, -1 failed */
    PyObject *request;      /* the Request object, if asked for */
    PyObject *websocket;    /* a websocket route's session (borrowed), or NULL */
    PyObject *path_names;   /* tuple of the pattern's {names} */
    ff_pair *query;         /* query_inline, or a heap array for a longer query */
    int nquery;             /* -1 until parsed */
    int query_cap;
    char *query_buf;        /* decoded query bytes */
    ff_bind_dep *deps;      /* request-scoped dependencies made so far: deps_inline or heap */
    int ndeps;
    int deps_cap;
    int unauth;             /* a credential is missing (1) or malformed (2): answer 401 */
    PyObject *challenge;    /* ... with this WWW-Authenticate value (borrowed from the plan) */
    PyObject *gens;         /* generator dependencies to finish after the response, or NULL */
    PyObject *form;         /* the body read as a form (bind/form.h), once */
    int form_status;        /* 0, or the 400/413 the form was refused with ... */
    const char *form_msg;   /* ... and why */
    ff_pair query_inline[FF_BIND_QUERY_INLINE];
    ff_bind_dep deps_inline[FF_BIND_DEPS_INLINE];
} ff_bind;

void ff_bind_init(ff_bind *b, ff_state *st, const ff_req *r, const ff_slice *caps, size_t ncaps,
                  PyObject *path_names);
void ff_bind_free(ff_bind *b);
/* Binds and calls the plan's callable. NULL means: b->unauth set (401),
 * b->dec.in.err set (400), or errors in b->dec.errors (422), or a Python
 * exception (500). */
PyObject *ff_plan_call(ff_bind *b, ff_Plan *p);
/* The request's Request object, made on first use (new reference). */
PyObject *ff_bind_request(ff_bind *b);
/* Once the outcome is known: each generator dependency is finished after
 * the response is written, by a deferred call that resumes it with `exc`
 * thrown in (the handler's exception) or, when exc is NULL, sends None. */
int ff_bind_finish(ff_bind *b, PyObject *exc);

#endif
