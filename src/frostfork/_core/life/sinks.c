/* life/sinks.c — see sinks.h. */
#include "life/sinks.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

/* ---- the structural check ---- */

/* Positional parameters a callable takes, when it can tell (Python
 * functions and methods); -1 when it cannot (builtins, C types). */
static int positional_count(PyObject *fn, int *bound)
{
    *bound = 0;
    PyObject *func = fn;
    if (PyMethod_Check(fn)) {
        func = PyMethod_GET_FUNCTION(fn);
        *bound = 1;
    }
    if (!PyFunction_Check(func))
        return -1;
    PyCodeObject *code = (PyCodeObject *)PyFunction_GET_CODE(func);
    if (code->co_flags & CO_VARARGS)
        return 1000;
    return code->co_argcount - *bound;
}

PyObject *ff_py_check_sink(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *sink;
    const char *role = "sink";
    if (!PyArg_ParseTuple(args, "O|s:check_sink", &sink, &role))
        return NULL;
    PyObject *write = PyObject_GetAttrString(sink, "write");
    if (!write) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError,
                     "%s: %.100s is not a DataSink: it has no write(data: bytes) -> int method",
                     role, Py_TYPE(sink)->tp_name);
        return NULL;
    }
    int bound, n = PyCallable_Check(write) ? positional_count(write, &bound) : -2;
    Py_DECREF(write);
    if (n == -2) {
        PyErr_Format(PyExc_TypeError, "%s: %.100s.write is not callable", role,
                     Py_TYPE(sink)->tp_name);
        return NULL;
    }
    if (n >= 0 && n != 1 && n != 1000) {
        PyErr_Format(PyExc_TypeError,
                     "%s: %.100s.write must take one argument (data: bytes), it takes %d", role,
                     Py_TYPE(sink)->tp_name, n);
        return NULL;
    }
    static const char *const optional[] = {"flush", "close"};
    for (size_t i = 0; i < 2; i++) {
        PyObject *m = PyObject_GetAttrString(sink, optional[i]);
        if (!m) {
            PyErr_Clear();
            continue;
        }
        int ok = PyCallable_Check(m), count = ok ? positional_count(m, &bound) : -1;
        Py_DECREF(m);
        if (!ok || (count > 0 && count != 1000)) {
            PyErr_Format(PyExc_TypeError, "%s: %.100s.%s must be a method taking no arguments",
                         role, Py_TYPE(sink)->tp_name, optional[i]);
            return NULL;
        }
    }
    return Py_NewRef(sink);
}

/* ---- FileSink: stdout, stderr, an append-only file ---- */

typedef struct {
    PyObject_HEAD
    int fd;
    char *path; /* NULL for inherited descriptors */
    int reported;
} ff_FileSink;

static int open_append(const char *path)
{
    /* O_APPEND: each write lands whole at the end, so workers' batches of
     * whole lines never interleave inside a line. Non-blocking: a stuck
     * reader (a full pipe) drops batches instead of stalling the worker. */
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644);
}

static PyObject *filesink_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"path", "fd", NULL};
    const char *path = NULL;
    int fd = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|zi:FileSink", kwlist, &path, &fd))
        return NULL;
    if (!path && fd < 0) {
        PyErr_SetString(PyExc_TypeError, "FileSink needs a path or an fd");
        return NULL;
    }
    ff_FileSink *s = (ff_FileSink *)type->tp_alloc(type, 0);
    if (!s)
        return NULL;
    s->fd = -1;
    if (path) {
        s->path = strdup(path);
        s->fd = s->path ? open_append(path) : -1;
        if (s->fd < 0) {
            PyErr_SetFromErrnoWithFilename(PyExc_OSError, path);
            Py_DECREF(s);
            return NULL;
        }
    } else {
        s->fd = fd;
    }
    return (PyObject *)s;
}

static void filesink_dealloc(ff_FileSink *s)
{
    PyTypeObject *tp = Py_TYPE(s);
    if (s->path && s->fd >= 0)
        close(s->fd);
    free(s->path);
    tp->tp_free(s);
    Py_DECREF(tp);
}

static int filesink_write_raw(ff_FileSink *s, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(s->fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (!s->reported) {
                s->reported = 1;
                char msg[160];
                int m = snprintf(msg, sizeof msg,
                                 "[frostfork] log sink fd %d: %s; dropping lines it cannot take\n",
                                 s->fd, strerror(errno));
                ssize_t ignored = write(STDERR_FILENO, msg, (size_t)m);
                (void)ignored;
            }
            return 0;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 1;
}

static PyObject *filesink_write(ff_FileSink *s, PyObject *data)
{
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    filesink_write_raw(s, view.buf, (size_t)view.len);
    Py_ssize_t n = view.len;
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(n);
}

static PyObject *filesink_reopen(ff_FileSink *s, PyObject *unused)
{
    (void)unused;
    if (!s->path)
        Py_RETURN_NONE;
    int fd = open_append(s->path);
    if (fd < 0)
        return PyErr_SetFromErrnoWithFilename(PyExc_OSError, s->path);
    close(s->fd);
    s->fd = fd;
    s->reported = 0;
    Py_RETURN_NONE;
}

static PyObject *filesink_noop(PyObject *s, PyObject *unused)
{
    (void)s;
    (void)unused;
    Py_RETURN_NONE;
}

static PyMethodDef filesink_methods[] = {
    {"write", (PyCFunction)filesink_write, METH_O, "write(data: bytes) -> int"},
    {"flush", filesink_noop, METH_NOARGS, "Writes are unbuffered: nothing to do."},
    {"close", filesink_noop, METH_NOARGS, "Closed when the sink is collected."},
    {"reopen", (PyCFunction)filesink_reopen, METH_NOARGS,
     "Open the path again (after logrotate moved it); the worker does this on SIGUSR1."},
    {NULL},
};

static PyType_Slot filesink_slots[] = {
    {Py_tp_new, filesink_new},
    {Py_tp_dealloc, filesink_dealloc},
    {Py_tp_methods, filesink_methods},
    {Py_tp_doc, "FileSink(path=None, fd=-1): append-only lines to a file or descriptor, in C."},
    {0, NULL},
};

PyType_Spec ff_filesink_spec = {
    .name = "frostfork.FileSink",
    .basicsize = sizeof(ff_FileSink),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = filesink_slots,
};

/* ---- SQLiteSink: one row per line, one transaction per batch ---- */

typedef struct {
    PyObject_HEAD
    char *path;
    char *table;
    sqlite3 *db; /* opened on first write: after fork, one connection per process */
    sqlite3_stmt *insert;
    int reported;
} ff_SQLiteSink;

static int valid_identifier(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return 0;
    return 1;
}

static PyObject *sqlitesink_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"path", "table", NULL};
    const char *path, *table = "audit";
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "s|s:SQLiteSink", kwlist, &path, &table))
        return NULL;
    if (!valid_identifier(table)) {
        PyErr_Format(PyExc_ValueError, "table name %s must be letters, digits and _", table);
        return NULL;
    }
    ff_SQLiteSink *s = (ff_SQLiteSink *)type->tp_alloc(type, 0);
    if (!s)
        return NULL;
    s->path = strdup(path);
    s->table = strdup(table);
    if (!s->path || !s->table) {
        Py_DECREF(s);
        return PyErr_NoMemory();
    }
    return (PyObject *)s;
}

static void sqlitesink_close_db(ff_SQLiteSink *s)
{
    if (s->insert)
        sqlite3_finalize(s->insert);
    if (s->db)
        sqlite3_close(s->db);
    s->insert = NULL;
    s->db = NULL;
}

static void sqlitesink_dealloc(ff_SQLiteSink *s)
{
    PyTypeObject *tp = Py_TYPE(s);
    sqlitesink_close_db(s);
    free(s->path);
    free(s->table);
    tp->tp_free(s);
    Py_DECREF(tp);
}

/* Opens the database, makes the table and prepares the insert on first
 * use. The SQL is built by sqlite3_mprintf, so a table name of any length
 * fits (the name itself is checked at construction). */
static int sqlitesink_open(ff_SQLiteSink *s)
{
    if (s->db)
        return 0;
    char *sql = NULL;
    if (sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(s->db, 2000); /* workers share the file */
    sqlite3_exec(s->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    sql = sqlite3_mprintf("CREATE TABLE IF NOT EXISTS \"%w\" (id INTEGER PRIMARY KEY, "
                          "at TEXT NOT NULL DEFAULT (strftime('%%Y-%%m-%%dT%%H:%%M:%%fZ','now')), "
                          "record TEXT NOT NULL)",
                          s->table);
    if (!sql || sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_free(sql);
    sql = sqlite3_mprintf("INSERT INTO \"%w\" (record) VALUES (?)", s->table);
    if (!sql || sqlite3_prepare_v2(s->db, sql, -1, &s->insert, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_free(sql);
    return 0;
fail:
    sqlite3_free(sql);
    if (!s->reported) {
        s->reported = 1;
        fprintf(stderr, "[frostfork] SQLite sink %s: %s; dropping records\n", s->path,
                s->db ? sqlite3_errmsg(s->db) : "cannot open");
    }
    sqlitesink_close_db(s);
    return -1;
}

/* Each line of the batch becomes a row; the batch is one transaction. */
static int sqlitesink_write_raw(ff_SQLiteSink *s, const char *buf, size_t len)
{
    if (sqlitesink_open(s) < 0)
        return 0;
    int ok = sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    const char *p = buf, *end = buf + len;
    while (ok && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        if (stop > p) {
            sqlite3_bind_text(s->insert, 1, p, (int)(stop - p), SQLITE_TRANSIENT);
            ok = sqlite3_step(s->insert) == SQLITE_DONE;
            sqlite3_reset(s->insert);
        }
        p = stop + 1;
    }
    ok = ok && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
    if (!ok) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        if (!s->reported) {
            s->reported = 1;
            fprintf(stderr, "[frostfork] SQLite sink %s: %s; dropping records\n", s->path,
                    sqlite3_errmsg(s->db));
        }
    }
    return ok;
}

static PyObject *sqlitesink_write(ff_SQLiteSink *s, PyObject *data)
{
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    int ok;
    Py_BEGIN_ALLOW_THREADS
    ok = sqlitesink_write_raw(s, view.buf, (size_t)view.len);
    Py_END_ALLOW_THREADS
    Py_ssize_t n = view.len;
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(ok ? n : 0);
}

static PyObject *sqlitesink_close(ff_SQLiteSink *s, PyObject *unused)
{
    (void)unused;
    sqlitesink_close_db(s);
    Py_RETURN_NONE;
}

static PyMethodDef sqlitesink_methods[] = {
    {"write", (PyCFunction)sqlitesink_write, METH_O,
     "write(data: bytes) -> int: one row per line, one transaction per call"},
    {"flush", filesink_noop, METH_NOARGS, "Every write commits: nothing to do."},
    {"close", (PyCFunction)sqlitesink_close, METH_NOARGS, "Close the database connection."},
    {NULL},
};

static PyType_Slot sqlitesink_slots[] = {
    {Py_tp_new, sqlitesink_new},
    {Py_tp_dealloc, sqlitesink_dealloc},
    {Py_tp_methods, sqlitesink_methods},
    {Py_tp_doc, "SQLiteSink(path, table='audit'): records as rows (id, at, record), in C."},
    {0, NULL},
};

PyType_Spec ff_sqlitesink_spec = {
    .name = "frostfork.SQLiteSink",
    .basicsize = sizeof(ff_SQLiteSink),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = sqlitesink_slots,
};

int ff_sink_write_c(ff_state *st, PyObject *sink, const char *buf, size_t len)
{
    if (Py_IS_TYPE(sink, st->FileSink_type))
        return filesink_write_raw((ff_FileSink *)sink, buf, len);
    if (Py_IS_TYPE(sink, st->SQLiteSink_type))
        return sqlitesink_write_raw((ff_SQLiteSink *)sink, buf, len);
    return -2;
}

void ff_sink_reopen(ff_state *st, PyObject *sink)
{
    if (sink && Py_IS_TYPE(sink, st->FileSink_type)) {
        PyObject *r = filesink_reopen((ff_FileSink *)sink, NULL);
        if (!r)
            PyErr_WriteUnraisable(sink);
        Py_XDECREF(r);
    }
}
