/* module.c — frostfork._core: multi-phase init, module state, the types.
 *
 * Shaped after CPython's Modules/_queuemodule.c: heap types from specs,
 * everything mutable in the module state, m_traverse/m_clear for the GC. */
#include "module.h"

#include "json/api.h"
#include "json/decode.h"
#include "json/encode.h"
#include "json/shape.h"
#include "http/parse.h"
#include "life/sinks.h"
#include "schema/type.h"
#include "obj/body.h"
#include "obj/upload.h"
#include "bind/form.h"
#include "http/router.h"
#include "server/stats.h"
#include "server/worker.h"
#include "server/engine.h"

ff_state *ff_get_state(PyObject *module) { return (ff_state *)PyModule_GetState(module); }

static PyObject *ff_py_spool_dir(PyObject *module, PyObject *unused)
{
    (void)unused;
    return PyUnicode_DecodeFSDefault(ff_get_state(module)->spool_dir);
}

/* _match(patterns, method, path) -> (index, params) | ("404"|"405", allow)
 * Exposes the C router to tests without a server. */
PyObject *ff_py_match(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *routes;
    const char *method, *path;
    Py_ssize_t path_len;
    if (!PyArg_ParseTuple(args, "O!ss#:_match", &PyList_Type, &routes, &method, &path, &path_len))
        return NULL;
    ff_router r;
    char err[256];
    if (ff_router_init(&r) < 0)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(routes); i++) {
        const char *m, *p;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(routes, i), "ss", &m, &p)) {
            ff_router_free(&r);
            return NULL;
        }
        if (ff_router_add(&r, ff_method_from(m, strlen(m)), p, (int)i, err, sizeof err) < 0) {
            ff_router_free(&r);
            PyErr_SetString(PyExc_ValueError, err);
            return NULL;
        }
    }
    ff_slice caps[FF_ROUTE_MAX_PARAMS];
    size_t n = 0;
    unsigned allow = 0;
    int id = -1;
    int rc = ff_router_match(&r, ff_method_from(method, strlen(method)), path, (size_t)path_len,
                             &id, caps, &n, &allow);
    ff_router_free(&r);
    if (rc == FF_ROUTE_NOT_FOUND)
        return Py_BuildValue("(sO)", "404", Py_None);
    if (rc == FF_ROUTE_BAD_METHOD) {
        PyObject *names = PyList_New(0);
        for (int i = 0; names && i < FF_M_COUNT; i++)
            if (allow & (1u << i)) {
                PyObject *s = PyUnicode_FromString(ff_method_name((enum ff_method)i));
                if (!s || PyList_Append(names, s) < 0) {
                    Py_XDECREF(s);
                    Py_CLEAR(names);
                    break;
                }
                Py_DECREF(s);
            }
        return names ? Py_BuildValue("(sN)", "405", names) : NULL;
    }
    PyObject *params = PyTuple_New((Py_ssize_t)n);
    for (size_t i = 0; params && i < n; i++) {
        PyObject *s = PyUnicode_DecodeLatin1(caps[i].p, (Py_ssize_t)caps[i].n, NULL);
        if (!s) {
            Py_CLEAR(params);
            break;
        }
        PyTuple_SET_ITEM(params, (Py_ssize_t)i, s);
    }
    return params ? Py_BuildValue("(iN)", id, params) : NULL;
}

/* _register_responses(StreamingResponse, FileResponse, Response, JSONResponse):
 * the classes of frostfork.responses. The native dispatcher recognises the
 * first two in a handler's result (they are plain Python classes; only their
 * type is checked per request), and makes the last two for middleware and
 * response models without importing them each time. */
static PyObject *ff_py_register_responses(PyObject *m, PyObject *args)
{
    PyObject *streaming, *file, *response, *json;
    if (!PyArg_ParseTuple(args, "O!O!O!O!:_register_responses", &PyType_Type, &streaming,
                          &PyType_Type, &file, &PyType_Type, &response, &PyType_Type, &json))
        return NULL;
    ff_state *st = ff_get_state(m);
    Py_XSETREF(st->StreamingResponse_type, Py_NewRef(streaming));
    Py_XSETREF(st->FileResponse_type, Py_NewRef(file));
    Py_XSETREF(st->Response_cls, Py_NewRef(response));
    Py_XSETREF(st->JSONResponse_cls, Py_NewRef(json));
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"_register_responses", ff_py_register_responses, METH_VARARGS,
     "_register_responses(StreamingResponse, FileResponse, Response, JSONResponse): done by "
     "frostfork.responses"},
    {"serve", (PyCFunction)(void (*)(void))ff_py_serve, METH_VARARGS | METH_KEYWORDS,
     "serve(listen_fd, app, *, wsgi=False, workers=1, ...) -> exit code\n\n"
     "Freeze the heap, fork the workers and supervise them until stopped."},
    {"json_encode", (PyCFunction)(void (*)(void))ff_py_json_encode, METH_FASTCALL | METH_KEYWORDS,
     "json_encode(obj, /, *, type=<none>, include_sensitive=False) -> bytes: frostfork.json.encode"},
    {"json_decode", (PyCFunction)(void (*)(void))ff_py_json_decode, METH_FASTCALL | METH_KEYWORDS,
     "json_decode(buf, /, *, type=Any) -> value: frostfork.json.decode"},
    {"schema_of", ff_py_schema_of, METH_O,
     "schema_of(type) -> Schema: the type's validator, compiled once: frostfork.json.schema_of"},
    {"_match", ff_py_match, METH_VARARGS, "route matching, for tests"},
    {"_dispatch", (PyCFunction)(void (*)(void))ff_py_dispatch, METH_FASTCALL,
     "_dispatch(func, schema, payload) -> func(**validated payload keys)"},
    {"aio_config", (PyCFunction)(void (*)(void))ff_py_aio_config, METH_VARARGS | METH_KEYWORDS,
     "aio_config(loop_factory, max_concurrency=0): workers make an event loop after fork with\n"
     "loop_factory() (None: no loop) and suspend at most max_concurrency requests (0: no limit)"},
    {"asgi_config", (PyCFunction)(void (*)(void))ff_py_asgi_config, METH_VARARGS | METH_KEYWORDS,
     "asgi_config(app, root_path=''): the workers host this ASGI 3 app (serve() with no routes)"},
    {"ws_config", (PyCFunction)(void (*)(void))ff_py_ws_config, METH_VARARGS | METH_KEYWORDS,
     "ws_config(websocket_class, disconnect, max_message=16 MiB, deflate=True, ping=0): "
     "what WebSocket sessions are made of (in the master, before fork)"},
    {"finalize", (PyCFunction)(void (*)(void))ff_py_finalize, METH_VARARGS | METH_KEYWORDS,
     "finalize(obj, fn, /, *args, **kwargs) -> Finalizer: run fn once, when obj is collected,\n"
     "when called, at the end of the current request, or at exit."},
    {"spool_dir", (PyCFunction)ff_py_spool_dir, METH_NOARGS,
     "spool_dir() -> str: this worker's spool directory ('' outside a worker)"},
    {"check_sink", ff_py_check_sink, METH_VARARGS,
     "check_sink(obj, role='sink') -> obj: TypeError unless obj has the DataSink shape"},
    {"audit", (PyCFunction)(void (*)(void))ff_py_audit, METH_VARARGS | METH_KEYWORDS,
     "audit(event, **fields): one record to the audit sink (Sensitive values masked)"},
    {"compile", ff_py_compile, METH_O, "compile(node) -> Schema: a type tree made a validator"},
    {"decode", (PyCFunction)(void (*)(void))ff_py_decode, METH_FASTCALL,
     "decode(buf, schema) -> value; raises ValidationError or JSONDecodeError"},
    {NULL, NULL, 0, NULL},
};

PyObject *ff_import_attr(const char *module, const char *attr)
{
    PyObject *mod = PyImport_ImportModule(module);
    if (!mod)
        return NULL;
    PyObject *obj = PyObject_GetAttrString(mod, attr);
    Py_DECREF(mod);
    return obj;
}

static PyObject *fromiso(const char *cls)
{
    PyObject *c = ff_import_attr("datetime", cls);
    PyObject *f = c ? PyObject_GetAttrString(c, "fromisoformat") : NULL;
    Py_XDECREF(c);
    return f;
}

/* functools.partial(binascii.<fn>, <kw>=<value>): the base64 codecs with
 * their options bound, callable with one argument from C. */
static PyObject *binascii_with(const char *fn, const char *kw, PyObject *value)
{
    PyObject *f = ff_import_attr("binascii", fn);
    PyObject *partial = f ? ff_import_attr("functools", "partial") : NULL;
    PyObject *args = partial ? PyTuple_Pack(1, f) : NULL;
    PyObject *kwargs = args ? Py_BuildValue("{s:O}", kw, value) : NULL;
    PyObject *res = kwargs ? PyObject_Call(partial, args, kwargs) : NULL;
    Py_XDECREF(f);
    Py_XDECREF(partial);
    Py_XDECREF(args);
    Py_XDECREF(kwargs);
    return res;
}

static int add_type(PyObject *m, PyType_Spec *spec, PyTypeObject **slot)
{
    *slot = (PyTypeObject *)PyType_FromModuleAndSpec(m, spec, NULL);
    if (!*slot)
        return -1;
    return PyModule_AddType(m, *slot);
}

/* _core.LIMITS: the fixed limits compiled into the core, by name, so the
 * "Limits" section of docs/configuration.md is generated from the numbers
 * the code enforces rather than copied by hand. */
static int add_limits(PyObject *m)
{
    PyObject *d = Py_BuildValue(
        "{s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i}", "json_depth", FF_JSON_MAX_DEPTH,
        "json_encode_depth", FF_JSON_ENCODE_MAX_DEPTH, "route_params", FF_ROUTE_MAX_PARAMS,
        "workers", FF_MAX_SLOTS / 2, "spool_dir_bytes", FF_SPOOL_ROOT_MAX, "chunk_ext_bytes",
        FF_HTTP_MAX_CHUNK_EXT, "chunk_size_digits", FF_HTTP_MAX_CHUNK_SIZE_DIGITS,
        "leading_empty_lines", FF_HTTP_MAX_LEADING_EMPTY_LINES, "request_id_bytes",
        (int)sizeof(((ff_state *)0)->request_id) - 1);
    PyObject *form = d ? Py_BuildValue("{s:i,s:i,s:i,s:i,s:i}", "form_fields", FF_FORM_MAX_FIELDS,
                                       "form_name_bytes", FF_FORM_MAX_NAME_BYTES,
                                       "form_field_bytes", FF_FORM_MAX_FIELD_BYTES,
                                       "form_part_header_bytes", FF_FORM_MAX_PART_HEADER_BYTES,
                                       "form_part_headers", FF_FORM_MAX_PART_HEADERS)
                      : NULL;
    if (!form || PyDict_Update(d, form) < 0)
        Py_CLEAR(d);
    Py_XDECREF(form);
    PyObject *view = d ? PyDictProxy_New(d) : NULL; /* read-only to Python */
    int rc = view ? PyModule_AddObjectRef(m, "LIMITS", view) : -1;
    Py_XDECREF(d);
    Py_XDECREF(view);
    return rc;
}

static int module_exec(PyObject *m)
{
    ff_state *st = ff_get_state(m);
    if (add_type(m, &ff_request_spec, &st->Request_type) < 0 ||
        add_type(m, &ff_response_spec, &st->Response_type) < 0 ||
        add_type(m, &ff_start_response_spec, &st->StartResponse_type) < 0 ||
        add_type(m, &ff_schema_spec, &st->Schema_type) < 0 ||
        add_type(m, &ff_plan_spec, &st->Plan_type) < 0 ||
        !(st->CallNext_type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &ff_callnext_spec,
                                                                       NULL)) ||
        add_type(m, &ff_finalizer_spec, &st->Finalizer_type) < 0 ||
        !(st->Step_type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &ff_step_spec, NULL)) ||
        !(st->Asgi_type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &ff_asgi_spec, NULL)) ||
        !(st->Ready_type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &ff_ready_spec, NULL)) ||
        add_type(m, &ff_ws_spec, &st->WebSocket_type) < 0 ||
        add_type(m, &ff_filesink_spec, &st->FileSink_type) < 0 ||
        add_type(m, &ff_sqlitesink_spec, &st->SQLiteSink_type) < 0 ||
        add_type(m, &ff_upload_spec, &st->UploadFile_type) < 0 ||
        add_type(m, &ff_file_wrapper_spec, &st->FileWrapper_type) < 0 ||
        !(st->Spool_type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &ff_spool_spec, NULL)) ||
        !(st->SpoolRaw_type =
              (PyTypeObject *)PyType_FromModuleAndSpec(m, &ff_spool_raw_spec, NULL)))
        return -1;
    PyObject *engine = PyType_FromModuleAndSpec(m, &ff_engine_spec, NULL);
    int added = engine ? PyModule_AddObjectRef(m, "Engine", engine) : -1;
    Py_XDECREF(engine);
    if (added < 0)
        return -1;
    st->ValidationError = PyErr_NewExceptionWithDoc(
        "frostfork.ValidationError",
        "Valid JSON that does not fit the type. args[0] is the list of errors, each a dict "
        "with type, loc, msg and (unless Sensitive) input.",
        PyExc_ValueError, NULL);
    st->JSONDecodeError = PyErr_NewExceptionWithDoc(
        "frostfork.JSONDecodeError", "Input that is not strict RFC 8259 JSON.", PyExc_ValueError,
        NULL);
    if (!st->ValidationError || !st->JSONDecodeError ||
        PyModule_AddObjectRef(m, "ValidationError", st->ValidationError) < 0 ||
        PyModule_AddObjectRef(m, "JSONDecodeError", st->JSONDecodeError) < 0)
        return -1;
    if (add_limits(m) < 0)
        return -1;
#ifdef FF_FAULT_INJECT
    if (PyModule_AddObjectRef(m, "FAULT_INJECT", Py_True) < 0)
#else
    if (PyModule_AddObjectRef(m, "FAULT_INJECT", Py_False) < 0)
#endif
        return -1;
    st->Decimal = ff_import_attr("decimal", "Decimal");
    st->UUID = ff_import_attr("uuid", "UUID");
    st->datetime_fromiso = fromiso("datetime");
    st->date_fromiso = fromiso("date");
    st->time_fromiso = fromiso("time");
    st->b64decode = binascii_with("a2b_base64", "strict_mode", Py_True);
    st->b64encode = binascii_with("b2a_base64", "newline", Py_False);
    st->Enum = ff_import_attr("enum", "Enum");
    st->date_type = ff_import_attr("datetime", "date");
    st->time_type = ff_import_attr("datetime", "time");
    st->BytesIO = ff_import_attr("io", "BytesIO");
    st->BufferedReader = ff_import_attr("io", "BufferedReader");
    st->gc_module = PyImport_ImportModule("gc");
    st->enc_fields = PyDict_New();
    st->schemas = PyDict_New();
    st->typing_any = ff_import_attr("typing", "Any");
    st->AnnotatedAlias = (PyTypeObject *)ff_import_attr("typing", "_AnnotatedAlias");
    if (st->AnnotatedAlias && !PyType_Check(st->AnnotatedAlias)) {
        PyErr_SetString(PyExc_TypeError, "typing._AnnotatedAlias is not a class");
        Py_CLEAR(st->AnnotatedAlias);
    }
    st->str_args = PyUnicode_InternFromString("__args__");
    st->str_origin = PyUnicode_InternFromString("__origin__");
    st->str_metadata = PyUnicode_InternFromString("__metadata__");
    if (!st->schemas || !st->typing_any || !st->AnnotatedAlias || !st->str_args ||
        !st->str_origin || !st->str_metadata)
        return -1;
    st->empty_tuple = PyTuple_New(0);
    static const char *const asgi_strings[] = {
#define FF_ASGI_STRING_TEXT(id, text) text,
        FF_ASGI_STRINGS(FF_ASGI_STRING_TEXT)
#undef FF_ASGI_STRING_TEXT
    };
    for (int i = 0; i < FF_S_COUNT; i++)
        if (!(st->astr[i] = PyUnicode_InternFromString(asgi_strings[i])))
            return -1;
    st->task_kwnames = Py_BuildValue("(sss)", "loop", "context", "name");
    st->task_name = PyUnicode_InternFromString("frostfork-request");
    if (!st->task_kwnames || !st->task_name)
        return -1;
    st->str_close = PyUnicode_InternFromString("close");
    st->str_flush = PyUnicode_InternFromString("flush");
    st->str_post_init = PyUnicode_InternFromString("__post_init__");
    st->ws_max_message = 16u << 20; /* until ws_config() says otherwise */
    st->ws_deflate = 1;
    st->secrets = PyList_New(0);
    if (!st->Decimal || !st->UUID || !st->datetime_fromiso || !st->date_fromiso ||
        !st->time_fromiso || !st->b64decode || !st->b64encode || !st->Enum || !st->date_type ||
        !st->time_type || !st->BytesIO || !st->BufferedReader || !st->gc_module || !st->enc_fields ||
        !st->empty_tuple || !st->str_close || !st->str_flush || !st->str_post_init || !st->secrets)
        return -1;
    return 0;
}

static int module_traverse(PyObject *m, visitproc visit, void *arg)
{
    ff_state *st = ff_get_state(m);
    Py_VISIT(st->Request_type);
    Py_VISIT(st->Response_type);
    Py_VISIT(st->StartResponse_type);
    Py_VISIT(st->BytesIO);
    Py_VISIT(st->BufferedReader);
    Py_VISIT(st->Spool_type);
    Py_VISIT(st->SpoolRaw_type);
    Py_VISIT(st->UploadFile_type);
    Py_VISIT(st->FileWrapper_type);
    Py_VISIT(st->StreamingResponse_type);
    Py_VISIT(st->Response_cls);
    Py_VISIT(st->JSONResponse_cls);
    Py_VISIT(st->FileResponse_type);
    Py_VISIT(st->gc_module);
    Py_VISIT(st->Schema_type);
    Py_VISIT(st->Plan_type);
    Py_VISIT(st->Step_type);
    Py_VISIT(st->aio_loop_factory);
    Py_VISIT(st->Asgi_type);
    Py_VISIT(st->Ready_type);
    Py_VISIT(st->asgi_app);
    Py_VISIT(st->asgi_root_path);
    Py_VISIT(st->WebSocket_type);
    Py_VISIT(st->ws_class);
    Py_VISIT(st->ws_disconnect);
    Py_VISIT(st->CallNext_type);
    Py_VISIT(st->Finalizer_type);
    Py_VISIT(st->FileSink_type);
    Py_VISIT(st->SQLiteSink_type);
    Py_VISIT(st->secrets);
    Py_VISIT(st->ValidationError);
    Py_VISIT(st->JSONDecodeError);
    Py_VISIT(st->Decimal);
    Py_VISIT(st->UUID);
    Py_VISIT(st->datetime_fromiso);
    Py_VISIT(st->date_fromiso);
    Py_VISIT(st->time_fromiso);
    Py_VISIT(st->b64decode);
    Py_VISIT(st->b64encode);
    Py_VISIT(st->Enum);
    Py_VISIT(st->date_type);
    Py_VISIT(st->time_type);
    Py_VISIT(st->enc_fields);
    Py_VISIT(st->fields_for);
    Py_VISIT(st->schemas);
    Py_VISIT(st->compile_hint);
    Py_VISIT(st->typing_any);
    Py_VISIT(st->schema_any);
    Py_VISIT(st->AnnotatedAlias);
    return 0;
}

static int module_clear(PyObject *m)
{
    ff_state *st = ff_get_state(m);
    Py_CLEAR(st->Request_type);
    Py_CLEAR(st->Response_type);
    Py_CLEAR(st->StartResponse_type);
    Py_CLEAR(st->BytesIO);
    Py_CLEAR(st->BufferedReader);
    Py_CLEAR(st->Spool_type);
    Py_CLEAR(st->SpoolRaw_type);
    Py_CLEAR(st->UploadFile_type);
    Py_CLEAR(st->FileWrapper_type);
    Py_CLEAR(st->StreamingResponse_type);
    Py_CLEAR(st->Response_cls);
    Py_CLEAR(st->JSONResponse_cls);
    Py_CLEAR(st->FileResponse_type);
    Py_CLEAR(st->gc_module);
    for (int i = 0; i < FF_S_COUNT; i++)
        Py_CLEAR(st->astr[i]);
    Py_CLEAR(st->task_kwnames);
    Py_CLEAR(st->task_name);
    Py_CLEAR(st->str_close);
    Py_CLEAR(st->str_flush);
    Py_CLEAR(st->str_post_init);
    Py_CLEAR(st->empty_tuple);
    Py_CLEAR(st->Schema_type);
    Py_CLEAR(st->Plan_type);
    Py_CLEAR(st->Step_type);
    Py_CLEAR(st->aio_loop_factory);
    Py_CLEAR(st->Asgi_type);
    Py_CLEAR(st->Ready_type);
    Py_CLEAR(st->asgi_app);
    Py_CLEAR(st->asgi_root_path);
    Py_CLEAR(st->WebSocket_type);
    Py_CLEAR(st->ws_class);
    Py_CLEAR(st->ws_disconnect);
    Py_CLEAR(st->CallNext_type);
    Py_CLEAR(st->Finalizer_type);
    Py_CLEAR(st->FileSink_type);
    Py_CLEAR(st->SQLiteSink_type);
    Py_CLEAR(st->secrets);
    Py_CLEAR(st->ValidationError);
    Py_CLEAR(st->JSONDecodeError);
    Py_CLEAR(st->Decimal);
    Py_CLEAR(st->UUID);
    Py_CLEAR(st->datetime_fromiso);
    Py_CLEAR(st->date_fromiso);
    Py_CLEAR(st->time_fromiso);
    Py_CLEAR(st->b64decode);
    Py_CLEAR(st->b64encode);
    Py_CLEAR(st->Enum);
    Py_CLEAR(st->date_type);
    Py_CLEAR(st->time_type);
    Py_CLEAR(st->enc_fields);
    Py_CLEAR(st->fields_for);
    Py_CLEAR(st->schemas);
    Py_CLEAR(st->compile_hint);
    Py_CLEAR(st->typing_any);
    Py_CLEAR(st->schema_any);
    Py_CLEAR(st->AnnotatedAlias);
    Py_CLEAR(st->str_args);
    Py_CLEAR(st->str_origin);
    Py_CLEAR(st->str_metadata);
    for (size_t i = 0; i < FF_KEY_CACHE_SIZE; i++)
        Py_CLEAR(st->key_cache[i]);
    return 0;
}

static void module_free(void *m) { module_clear((PyObject *)m); }

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "frostfork._core",
    .m_doc = "frostfork's C core: HTTP parsing, routing, workers and the pre-fork master.",
    .m_size = sizeof(ff_state),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC PyInit__core(void) { return PyModuleDef_Init(&module_def); }
