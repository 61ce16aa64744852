/* module.h — the extension's per-module state.
 *
 * Everything mutable the C core needs lives here or in structs owned by a
 * call of serve(): heap types, interned strings, cached callables. */
#ifndef FF_MODULE_H
#define FF_MODULE_H

#include "compat.h" /* Python.h, and what differs between CPython versions */

#define FF_KEY_CACHE_SIZE 512 /* a power of two */
#define FF_KEY_CACHE_MAXLEN 32

/* A list of live finalizers (life/finalize.c). */
typedef struct ff_fin_list {
    struct ff_Finalizer *head;
} ff_fin_list;

/* The strings the ASGI path uses on every request and message (dispatch/asgi.c,
 * dispatch/ws.c), interned once: a scope or message dict is then built and read
 * with keys whose hash is already known, not from C strings each time. */
#define FF_ASGI_STRINGS(X)                                                                  \
    X(TYPE, "type") X(ASGI, "asgi") X(HTTP_VERSION, "http_version") X(METHOD, "method")    \
    X(SCHEME, "scheme") X(PATH, "path") X(RAW_PATH, "raw_path")                            \
    X(QUERY_STRING, "query_string") X(ROOT_PATH, "root_path") X(HEADERS, "headers")        \
    X(CLIENT, "client") X(SERVER, "server") X(STATE, "state") X(STATUS, "status")          \
    X(BODY, "body") X(MORE_BODY, "more_body") X(SUBPROTOCOL, "subprotocol")                \
    X(SUBPROTOCOLS, "subprotocols") X(EXTENSIONS, "extensions") X(BYTES, "bytes")          \
    X(TEXT, "text") X(CODE, "code") X(REASON, "reason") X(RECEIVE, "receive")              \
    X(SEND, "send") X(ASGI_RECEIVE, "_asgi_receive") X(ASGI_SEND, "_asgi_send")            \
    X(HTTP, "http") X(WEBSOCKET, "websocket") X(WS, "ws") X(V10, "1.0") X(V11, "1.1")      \
    X(HTTP_REQUEST, "http.request") X(HTTP_DISCONNECT, "http.disconnect")                  \
    X(WS_CONNECT, "websocket.connect") X(WS_RECEIVE, "websocket.receive")                  \
    X(WS_DISCONNECT, "websocket.disconnect")
#define FF_ASGI_STRING_ENUM(id, text) FF_S_##id,
enum ff_asgi_string { FF_ASGI_STRINGS(FF_ASGI_STRING_ENUM) FF_S_COUNT };

typedef struct {
    PyTypeObject *Request_type;
    PyTypeObject *Response_type;
    PyTypeObject *StartResponse_type;
    PyObject *BytesIO;      /* io.BytesIO, for wsgi.input and request.stream() */
    PyObject *BufferedReader; /* io.BufferedReader, over spooled bodies */
    PyTypeObject *Spool_type;    /* a spooled body's file (obj/body.c) */
    PyTypeObject *SpoolRaw_type; /* the raw reader over one */
    PyTypeObject *UploadFile_type; /* a multipart file part (obj/upload.c) */
    PyTypeObject *FileWrapper_type; /* wsgi.file_wrapper (dispatch/wsgi.c) */
    PyObject *StreamingResponse_type; /* frostfork.responses classes, once registered */
    PyObject *FileResponse_type;
    PyObject *Response_cls;     /* frostfork.Response and JSONResponse, for middleware */
    PyObject *JSONResponse_cls;
    PyObject *gc_module;
    PyObject *str_close;
    PyObject *str_flush;
    PyObject *str_post_init;
    PyObject *empty_tuple;
    /* typed decoding */
    PyTypeObject *Schema_type;
    PyTypeObject *Plan_type;
    PyTypeObject *CallNext_type; /* middleware's call_next (dispatch/native.c) */
    PyObject *ValidationError; /* frostfork.ValidationError(errors) */
    PyObject *JSONDecodeError; /* frostfork.JSONDecodeError */
    PyObject *Decimal;
    PyObject *UUID;
    PyObject *datetime_fromiso, *date_fromiso, *time_fromiso;
    PyObject *b64decode;       /* binascii.a2b_base64(strict_mode=True) */
    /* object keys recently decoded (json/decode.c): short ASCII str by a hash of their
     * bytes, so a key repeated over a document is one str with its hash cached */
    PyObject *key_cache[FF_KEY_CACHE_SIZE];
    /* encoding */
    PyObject *b64encode;       /* binascii.b2a_base64(newline=False) */
    PyObject *Enum, *date_type, *time_type;
    PyObject *enc_fields;      /* type -> field-table capsule (json/encode.c) or None */
    PyObject *fields_for;      /* frostfork.json._fields_for, imported on first need */
    size_t enc_size_hint;      /* json.encode's last output size: its next buffer starts there */
    /* frostfork.json's entry points (json/api.c) */
    PyObject *schemas;         /* a type hint's key -> its compiled Schema */
    PyObject *compile_hint;    /* frostfork.json._compile, imported on first need */
    PyObject *typing_any;      /* typing.Any: decode()'s type when none is given */
    PyObject *schema_any;      /* its Schema, made on first use */
    PyTypeObject *AnnotatedAlias; /* typing._AnnotatedAlias: its metadata is part of the key */
    PyObject *str_args, *str_origin, *str_metadata;
    /* cleanup */
    PyTypeObject *Finalizer_type;
    int in_request;            /* a handler is running: new finalizers are request-scoped */
    ff_fin_list request_fins;  /* run once the response is written */
    ff_fin_list process_fins;  /* run at exit */
    char spool_dir[256];       /* this worker's spool directory ("" outside a worker) */
    /* sinks and logs */
    PyTypeObject *FileSink_type;
    PyTypeObject *SQLiteSink_type;
    PyObject *secrets;         /* Sensitive values seen in the current request (list of str) */
    struct ff_logs *logs;      /* the worker's log buffers, NULL outside a worker */
    char request_id[72];       /* the current request's id ("" until asked for) */
    /* async (server/aio.c): set by frostfork._core.aio_config() in the master */
    ff_fin_list *task_fins;    /* a suspended request's own list while one of its steps runs */
    PyObject *aio_loop_factory; /* makes the worker's event loop after fork, or NULL: no loop */
    PyTypeObject *Step_type;   /* a suspended request's coroutine, as a Task runs it */
    int aio_max_concurrency;   /* suspended requests per worker before 503 (0: no limit) */
    int aio_inline;            /* run a native coroutine's first step inline, without a Task */
    PyTypeObject *Asgi_type;   /* one ASGI request's receive/send (dispatch/asgi.c) */
    PyTypeObject *Ready_type;  /* an awaitable that is already done */
    PyObject *asgi_app;        /* set by asgi_config(): the ASGI app the workers host */
    PyObject *asgi_root_path;  /* the scopes' root_path (--root-path), or NULL for "" */
    PyObject *astr[FF_S_COUNT]; /* FF_ASGI_STRINGS, interned */
    PyObject *task_kwnames;    /* ("loop", "context", "name"): how a request's Task is made */
    PyObject *task_name;       /* its name, given so that 3.11 does not format "Task-N" */
    /* websockets (dispatch/ws.c): set by frostfork._core.ws_config() in the master */
    PyTypeObject *WebSocket_type; /* the C base of frostfork.WebSocket */
    PyObject *ws_class;        /* frostfork.WebSocket, what native handlers are given */
    PyObject *ws_disconnect;   /* frostfork.WebSocketDisconnect */
    unsigned long long ws_max_message; /* --ws-max-message */
    int ws_deflate;            /* permessage-deflate offered (--no-ws-deflate: 0) */
    long ws_ping_ms;           /* --ws-ping (0: off) */
} ff_state;

ff_state *ff_get_state(PyObject *module);

/* Type specs registered by module.c, defined next to their code. */
extern PyType_Spec ff_request_spec;
extern PyType_Spec ff_response_spec;
extern PyType_Spec ff_start_response_spec;
extern PyType_Spec ff_file_wrapper_spec;
extern PyType_Spec ff_plan_spec;
extern PyType_Spec ff_callnext_spec;
extern PyType_Spec ff_finalizer_spec;

PyObject *ff_py_serve(PyObject *module, PyObject *args, PyObject *kwargs);
PyObject *ff_py_match(PyObject *module, PyObject *args);
PyObject *ff_py_finalize(PyObject *module, PyObject *args, PyObject *kwargs);
PyObject *ff_py_audit(PyObject *module, PyObject *args, PyObject *kwargs);
PyObject *ff_py_dispatch(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *ff_py_aio_config(PyObject *module, PyObject *args, PyObject *kwargs);
extern PyType_Spec ff_step_spec;
extern PyType_Spec ff_asgi_spec;
extern PyType_Spec ff_ready_spec;
PyObject *ff_py_asgi_config(PyObject *module, PyObject *args, PyObject *kwargs);
extern PyType_Spec ff_ws_spec;
PyObject *ff_py_ws_config(PyObject *module, PyObject *args, PyObject *kwargs);
/* Imports module.attr[.attr] — for the handful of stdlib objects cached at init. */
PyObject *ff_import_attr(const char *module, const char *attr);

#endif
