/* dispatch/aio.c — the first step of an async handler.
 *
 * An `async def` handler's plan call returns a coroutine. It is driven here,
 * inline, until it either finishes — then it is answered like a plain
 * handler, and no Task, Future or loop callback was made for it — or
 * suspends on something it awaits, when it is handed to env->suspend (the
 * worker's event loop, server/aio.c) with the request's finalizers, and the
 * dispatcher reports FF_STATUS_PENDING. */
#include "dispatch/dispatch.h"
#include "dispatch/asgi.h"
#include "life/finalize.h"

#include <stdio.h>

int ff_async_callable(PyObject *fn)
{
    if (!PyFunction_Check(fn))
        return 0;
    PyCodeObject *code = (PyCodeObject *)PyFunction_GET_CODE(fn);
    return (code->co_flags & CO_COROUTINE) != 0;
}

int ff_async_busy(ff_env *e, const ff_req *r, ff_buf *out)
{
    static const char body[] = "{\"detail\":\"Service Unavailable: too many requests in flight\"}";
    size_t mark = ff_buf_used(out);
    if (ff_response_begin(out, 503, NULL, 0, e->date) < 0 ||
        ff_buf_puts(out, "Retry-After: 1\r\n") < 0 ||
        ff_response_finish_head(out, "application/json", sizeof body - 1, r->keep_alive,
                                r->http10) < 0 ||
        (!r->head_only && ff_buf_append(out, body, sizeof body - 1) < 0)) {
        out->len = out->off + mark;
        return -1;
    }
    return 503;
}

/* The step runs in a copy of the current context, the one a Task would
 * give it: a ContextVar the handler sets stays with this request (the Task
 * that takes over a suspended coroutine is given the same copy). */
int ff_async_run(ff_env *e, const ff_req *r, ff_buf *out, PyObject *coro, const char *label,
                 struct ff_Finalizer *mark, ff_Asgi *asgi, const ff_route *rt)
{
    PyObject *ctx = PyContext_CopyCurrent();
    if (!ctx)
        return asgi ? ff_asgi_finish(asgi, (ff_req *)r, label, 1, 0) : ff_fail_500(e, r, out, label);
    if (e->suspend && (asgi || !e->inline_step)) {
        /* straight to a Task: its first step already runs with a current task, which
         * anyio-based code (Starlette, FastAPI, httpx) looks up on its first call */
        int status = e->suspend(e, r, coro, NULL, ctx, label, mark, asgi, rt, NULL);
        Py_DECREF(ctx);
        if (status == -1)
            status = asgi ? ff_asgi_finish(asgi, (ff_req *)r, label, 1, 0)
                          : ff_fail_500(e, r, out, label);
        return status;
    }
    if (PyContext_Enter(ctx) < 0) {
        Py_DECREF(ctx);
        return asgi ? ff_asgi_finish(asgi, (ff_req *)r, label, 1, 0) : ff_fail_500(e, r, out, label);
    }
    PyObject *v = NULL;
    PySendResult sr = PyIter_Send(coro, Py_None, &v);
    if (PyContext_Exit(ctx) < 0 && sr != PYGEN_ERROR) {
        Py_CLEAR(v);
        sr = PYGEN_ERROR;
    }
    int status;
    if (asgi && sr != PYGEN_NEXT) {
        status = ff_asgi_finish(asgi, (ff_req *)r, label, sr == PYGEN_ERROR, 0);
    } else if (sr == PYGEN_RETURN) {
        if ((status = ff_native_write_result(e, r, out, v, rt)) < 0)
            status = ff_fail_500(e, r, out, label);
    } else if (sr == PYGEN_ERROR) {
        status = ff_native_write_failure(e, r, out, rt);
    } else if (e->suspend) {
        status = e->suspend(e, r, coro, v, ctx, label, mark, asgi, rt, NULL);
    } else {
        PyObject *res = PyObject_CallMethod(coro, "close", NULL);
        Py_XDECREF(res);
        PyErr_Clear();
        PyErr_SetString(PyExc_RuntimeError,
                        "this async handler awaited something, and there is no event loop to "
                        "wait on here (the in-process engine runs async handlers that finish "
                        "without suspending only)");
        status = asgi ? ff_asgi_finish(asgi, (ff_req *)r, label, 1, 0)
                      : ff_fail_500(e, r, out, label);
    }
    Py_XDECREF(v);
    Py_DECREF(ctx);
    return status;
}
