/* fuzz/fuzz_json.c — libFuzzer target for the typed JSON decoder (json/decode.c).
 *
 * The decoder builds Python objects, so it cannot run without an interpreter:
 * this target embeds CPython. The whole C extension is compiled into this
 * binary with the fuzzer's coverage and ASan/UBSan, and registered as the
 * built-in module frostfork._core before Py_Initialize, so `import frostfork`
 * (the Python sources from src/) binds to the instrumented copy rather than
 * to any installed one. Python's own allocator is switched to malloc so that
 * ASan sees every object the decoder allocates.
 *
 * The types and the per-input checks live in fuzz_json_types.py, next to
 * this file: `one(data)` raises on a finding, and any Python exception that
 * escapes it aborts the process here, which libFuzzer records as a crash.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef FF_SRC_DIR
#error "FF_SRC_DIR must name the src/ folder holding the frostfork package"
#endif
#ifndef FF_FUZZ_DIR
#error "FF_FUZZ_DIR must name the folder holding fuzz_json_types.py"
#endif
#ifndef FF_SITE_DIR
#define FF_SITE_DIR "" /* then PYTHONPATH must name the venv's site-packages */
#endif

PyMODINIT_FUNC PyInit__core(void);

/* Python keeps caches and interned objects for its whole life: leak reports
 * at exit say nothing about the decoder. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "detect_leaks=0"; }

static PyObject *one;

static void die(const char *what)
{
    fprintf(stderr, "fuzz_json: %s\n", what);
    if (PyErr_Occurred())
        PyErr_Print();
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    PyPreConfig pre;
    PyConfig config;
    PyStatus status;
    PyObject *sys_path, *dir, *mod;

    (void)argc;
    (void)argv;
    PyPreConfig_InitPythonConfig(&pre);
    pre.allocator = PYMEM_ALLOCATOR_MALLOC;
    status = Py_PreInitialize(&pre);
    if (PyStatus_Exception(status))
        Py_ExitStatusException(status);

    if (PyImport_AppendInittab("frostfork._core", PyInit__core) < 0)
        die("PyImport_AppendInittab failed");

    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0; /* libFuzzer owns the signals */
    config.parse_argv = 0;
    status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status))
        Py_ExitStatusException(status);

    sys_path = PySys_GetObject("path"); /* borrowed */
    if (sys_path == NULL)
        die("no sys.path");
    /* Ahead of everything: src/ (the Python half of frostfork), fuzz/, and
     * the site-packages of the venv the build ran from (annotated-types). */
    const char *dirs[] = {FF_SITE_DIR, FF_FUZZ_DIR, FF_SRC_DIR};
    for (int i = 0; i < 3; i++) {
        if (!dirs[i][0])
            continue;
        dir = PyUnicode_DecodeFSDefault(dirs[i]);
        if (dir == NULL || PyList_Insert(sys_path, 0, dir) < 0)
            die("cannot extend sys.path");
        Py_DECREF(dir);
    }

    mod = PyImport_ImportModule("fuzz_json_types");
    if (mod == NULL)
        die("cannot import fuzz_json_types (is frostfork importable?)");
    one = PyObject_GetAttrString(mod, "one");
    Py_DECREF(mod);
    if (one == NULL)
        die("fuzz_json_types.one is missing");

    /* The binding must be to the instrumented built-in, not an installed .so. */
    mod = PyImport_ImportModule("frostfork._core");
    if (mod == NULL || PyObject_HasAttrString(mod, "__file__"))
        die("frostfork._core is not the built-in, instrumented module");
    Py_DECREF(mod);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    PyObject *arg, *res;

    arg = PyBytes_FromStringAndSize((const char *)data, (Py_ssize_t)size);
    if (arg == NULL)
        die("PyBytes_FromStringAndSize failed");
    res = PyObject_CallOneArg(one, arg);
    Py_DECREF(arg);
    if (res == NULL)
        die("finding: the decoder misbehaved (traceback below)");
    Py_DECREF(res);
    return 0;
}
