/* bind/dispatch.c — frostfork.dispatch(func, payload): "call this function
 * with the keys it asks for", validated.
 *
 * The keys the function's parameters name are taken from the payload,
 * written as JSON and decoded through the function's compiled parameter
 * type: the same C validator as a request body, so a payload gets the same
 * checks and the same error list. Extra payload keys are never looked at. */
#include "json/decode.h"
#include "json/encode.h"

/* _dispatch(func, schema, payload) -> func(**validated) */
PyObject *ff_py_dispatch(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    ff_state *st = ff_get_state(module);
    if (nargs != 3 || !Py_IS_TYPE(args[1], st->Schema_type) || !PyDict_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "_dispatch(func, schema, payload: dict)");
        return NULL;
    }
    const ff_type *t = ((ff_Schema *)args[1])->root;
    if (t->kind != FF_T_MODEL || t->model_kind != FF_MODEL_TYPEDDICT) {
        PyErr_SetString(PyExc_TypeError, "_dispatch needs a parameters schema");
        return NULL;
    }
    PyObject *wanted = PyDict_New();
    for (Py_ssize_t i = 0; wanted && i < t->nfields; i++) {
        PyObject *v = PyDict_GetItemWithError(args[2], t->fields[i].name);
        if ((!v && PyErr_Occurred()) || (v && PyDict_SetItem(wanted, t->fields[i].name, v) < 0))
            Py_CLEAR(wanted);
    }
    if (!wanted)
        return NULL;
    ff_buf json = {0};
    PyObject *kwargs = NULL, *res = NULL;
    if (ff_json_encode(&json, wanted, st, FF_ENC_SENSITIVE) == 0) {
        ff_dec d;
        ff_dec_init(&d, st, json.data, json.len, NULL);
        kwargs = ff_json_decode(&d, t);
        if (!kwargs)
            ff_dec_raise(&d);
        ff_dec_free(&d);
    }
    ff_buf_free(&json);
    Py_DECREF(wanted);
    if (kwargs) {
        res = PyObject_Call(args[0], st->empty_tuple, kwargs);
        Py_DECREF(kwargs);
    }
    return res;
}
