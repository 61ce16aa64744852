/* bind/form.c — reading a request body as a form (see form.h).
 *
 * Urlencoded bodies are small and whole in memory: one pass of the codec.
 * Multipart bodies are fed to the resumable parser in the same loop whether
 * they are in memory or spooled; a spooled one through its read-only mapping,
 * a window at a time, dropping the pages behind, so a large upload costs page
 * cache and never the worker's resident memory. A file part is not copied
 * anywhere: its UploadFile reads a range of the spooled body (or a BytesIO of
 * the part when the body is in memory). Only field values are collected. */
#include "bind/form.h"
#include "http/form.h"
#include "obj/body.h"
#include "obj/upload.h"
#include "util/buf.h"

#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#define WINDOW (256 * 1024) /* what the parser sees of a spooled body at once; far above what it keeps */

static const ff_form_limits LIMITS = {
    .max_fields = FF_FORM_MAX_FIELDS,
    .max_name = FF_FORM_MAX_NAME_BYTES,
    .max_value = FF_FORM_MAX_FIELD_BYTES,
    .max_part_header_bytes = FF_FORM_MAX_PART_HEADER_BYTES,
    .max_part_headers = FF_FORM_MAX_PART_HEADERS,
};

static const char NOT_UTF8[] = "form data is not valid UTF-8";

/* Appends v to dict[name], a list made on first use. */
static int add_value(PyObject *dict, PyObject *name, PyObject *v)
{
    PyObject *list = PyDict_GetItemWithError(dict, name);
    if (!list) {
        if (PyErr_Occurred() || !(list = PyList_New(0)))
            return -1;
        int rc = PyDict_SetItem(dict, name, list);
        Py_DECREF(list);
        if (rc < 0)
            return -1;
    }
    return PyList_Append(list, v);
}

/* A str from UTF-8 text; invalid UTF-8 is a 400 (returns NULL, no
 * exception, *bad set), anything else a Python error. */
static PyObject *utf8(const char *s, size_t n, int *bad)
{
    PyObject *v = PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "strict");
    if (!v && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        PyErr_Clear();
        *bad = 1;
    }
    return v;
}

static int read_urlencoded(const ff_req *r, PyObject *dict, const char **msg)
{
    const char *p = r->body;
    size_t left = r->body_len;
    char *tmp = PyMem_Malloc(left ? left : 1);
    ff_form f;
    int rc = 0, bad = 0;
    if (!tmp) {
        PyErr_NoMemory();
        return -1;
    }
    ff_form_init(&f);
    for (;;) {
        ff_form_field fld;
        enum ff_form_error err = FF_FORM_OK;
        ssize_t n = ff_form_next(&f, p, left, 1, &LIMITS, &fld, &err);
        if (n == 0)
            break;
        if (n < 0) {
            *msg = ff_form_error_text(err);
            rc = ff_form_error_status(err);
            break;
        }
        p += n;
        left -= (size_t)n;
        if (!fld.name)
            continue;
        PyObject *k = utf8(tmp, ff_form_unescape(tmp, fld.name, fld.name_len), &bad);
        PyObject *v = k ? utf8(tmp, ff_form_unescape(tmp, fld.value, fld.value_len), &bad) : NULL;
        int added = v ? add_value(dict, k, v) : -1;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (added < 0) {
            if (bad) {
                *msg = NOT_UTF8;
                rc = 400;
            } else {
                rc = -1;
            }
            break;
        }
    }
    PyMem_Free(tmp);
    return rc;
}

/* ---- multipart ---- */

typedef struct {
    ff_state *st;
    const ff_req *r;
    PyObject *dict;
    int bad;            /* invalid UTF-8 met: answer 400 */
    /* the part being read */
    PyObject *name, *filename, *ctype, *headers;
    int is_file;
    uint64_t start;     /* offset in the body of its first data byte */
    uint64_t size;
    ff_buf data;        /* a field's value */
} mp_ctx;

static void part_clear(mp_ctx *c)
{
    Py_CLEAR(c->name);
    Py_CLEAR(c->filename);
    Py_CLEAR(c->ctype);
    Py_CLEAR(c->headers);
    c->data.off = c->data.len = 0;
    c->size = 0;
}

/* A quoted parameter with backslash escapes loses them; the rest is UTF-8
 * as browsers send it. A filename that is not UTF-8 keeps its bytes as
 * surrogates instead of failing the request. */
static PyObject *param_text(mp_ctx *c, const char *s, size_t n, int quoted, int lenient)
{
    char stack[256], *tmp = stack;
    PyObject *v;
    if (quoted) {
        if (n > sizeof stack && !(tmp = PyMem_Malloc(n)))
            return PyErr_NoMemory();
        n = ff_mp_unquote(tmp, s, n);
        s = tmp;
    }
    v = lenient ? PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "surrogateescape") : utf8(s, n, &c->bad);
    if (tmp != stack)
        PyMem_Free(tmp);
    return v;
}

static int on_part(mp_ctx *c, const ff_mp_event *ev, uint64_t data_start)
{
    part_clear(c);
    c->is_file = (ev->flags & FF_MP_F_FILENAME) != 0;
    c->start = data_start;
    if (!(c->name = param_text(c, ev->name, ev->name_len, ev->flags & FF_MP_F_NAME_QUOTED, 0)))
        return -1;
    c->filename = c->is_file ? param_text(c, ev->filename, ev->filename_len,
                                          ev->flags & FF_MP_F_FILENAME_QUOTED, 1)
                             : Py_NewRef(Py_None);
    c->ctype = ev->content_type ? PyUnicode_DecodeUTF8(ev->content_type,
                                                       (Py_ssize_t)ev->content_type_len,
                                                       "surrogateescape")
                                : Py_NewRef(Py_None);
    if (!c->filename || !c->ctype || !(c->headers = PyDict_New()))
        return -1;
    for (size_t i = 0; i < ev->num_headers; i++) {
        const ff_http_header *h = &ev->headers[i];
        char lower[FF_FORM_MAX_PART_HEADER_BYTES];
        for (size_t k = 0; k < h->name_len; k++)
            lower[k] = (char)((h->name[k] >= 'A' && h->name[k] <= 'Z') ? h->name[k] | 0x20
                                                                       : h->name[k]);
        PyObject *k = PyUnicode_DecodeLatin1(lower, (Py_ssize_t)h->name_len, NULL);
        PyObject *v = k ? PyUnicode_DecodeUTF8(h->value, (Py_ssize_t)h->value_len,
                                               "surrogateescape")
                        : NULL;
        int rc = v ? PyDict_SetItem(c->headers, k, v) : -1;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int on_data(mp_ctx *c, const ff_mp_event *ev)
{
    c->size += ev->data_len;
    if (c->is_file)
        return 0; /* read later from where it lies */
    if (ff_buf_append(&c->data, ev->data, ev->data_len) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static int on_end(mp_ctx *c)
{
    PyObject *v;
    if (!c->is_file) {
        v = utf8(c->data.data ? c->data.data : "", c->data.len, &c->bad);
    } else {
        PyObject *file;
        if (c->r->spool) {
            file = ff_spool_range_reader(c->st, c->r->spool, (Py_ssize_t)c->start,
                                         (Py_ssize_t)c->size);
        } else {
            PyObject *b = PyBytes_FromStringAndSize(c->r->body + c->start, (Py_ssize_t)c->size);
            file = b ? PyObject_CallOneArg(c->st->BytesIO, b) : NULL;
            Py_XDECREF(b);
        }
        v = file ? ff_upload_new(c->st, file, c->filename, c->ctype, (Py_ssize_t)c->size,
                                 c->headers)
                 : NULL;
        Py_XDECREF(file);
    }
    int rc = v ? add_value(c->dict, c->name, v) : -1;
    Py_XDECREF(v);
    part_clear(c);
    return rc;
}

/* Handles one event found at body offset `at` that consumed n bytes. */
static int on_event(mp_ctx *c, const ff_mp_event *ev, uint64_t at, size_t n)
{
    switch (ev->type) {
    case FF_MP_PART:
        return on_part(c, ev, at + n);
    case FF_MP_DATA:
        return on_data(c, ev);
    case FF_MP_PART_END:
        return on_end(c);
    default:
        return 0;
    }
}

/* Once the parser is this far past the last drop, the mapped pages behind it
 * are let go (MADV_DONTNEED: the page cache keeps them, the worker's resident
 * set does not). */
#define DROP_EVERY (1024 * 1024)

static int read_multipart(ff_state *st, const ff_req *r, const char *ct, size_t ct_len,
                          PyObject *dict, const char **msg)
{
    const char *b;
    size_t blen;
    if (ff_mp_boundary(ct, ct_len, &b, &blen) < 0) {
        *msg = ff_form_error_text(FF_FORM_E_BOUNDARY);
        return 400;
    }
    ff_multipart p;
    ff_http_header headers[FF_FORM_MAX_PART_HEADERS];
    mp_ctx c = {.st = st, .r = r, .dict = dict};
    /* A spooled body is its file mapped read-only: the parser sees at most a
     * window of it at a time, and the pages it has passed are dropped. */
    size_t window = r->spool ? WINDOW : r->body_len, pos = 0, dropped = 0;
    long page = sysconf(_SC_PAGESIZE);
    int rc = 0;
    ff_mp_init(&p, b, blen);
    for (;;) {
        size_t avail = r->body_len - pos < window ? r->body_len - pos : window;
        ssize_t n;
        enum ff_form_error err = FF_FORM_OK;
        ff_mp_event ev;
        size_t start = pos;
        while ((n = ff_mp_next(&p, r->body + pos, avail - (pos - start), &LIMITS, headers, &ev,
                               &err)) > 0) {
            if (on_event(&c, &ev, pos, (size_t)n) < 0) {
                rc = -1;
                break;
            }
            pos += (size_t)n;
        }
        if (rc < 0)
            break;
        if (n == -1) {
            *msg = ff_form_error_text(err);
            rc = ff_form_error_status(err);
            break;
        }
        if (start + avail >= r->body_len || pos == start) {
            /* the whole body was seen (or a window made no progress: the
             * parser cannot use more, so it ended short) */
            if (!ff_mp_done(&p)) {
                *msg = ff_form_error_text(FF_FORM_E_TRUNCATED);
                rc = 400;
            }
            break;
        }
        if (r->spool && page > 0 && pos - dropped >= DROP_EVERY) {
            size_t upto = pos & ~((size_t)page - 1);
            madvise((char *)r->body + dropped, upto - dropped, MADV_DONTNEED);
            dropped = upto;
        }
    }
    if (rc < 0 && c.bad) {
        PyErr_Clear();
        *msg = NOT_UTF8;
        rc = 400;
    }
    part_clear(&c);
    ff_buf_free(&c.data);
    return rc;
}

int ff_form_read(ff_state *st, const ff_req *r, PyObject **out, const char **msg)
{
    const ff_http_request *h = r->http;
    const char *ct = NULL;
    size_t ct_len = 0;
    int rc = 0;
    for (size_t i = 0; i < h->num_headers; i++)
        if (h->headers[i].name_len == 12 && strncasecmp(h->headers[i].name, "content-type", 12) == 0) {
            ct = h->headers[i].value;
            ct_len = h->headers[i].value_len;
            break;
        }
    if (!(*out = PyDict_New()))
        return -1;
    switch (ct ? ff_form_media_type(ct, ct_len) : FF_FORM_NONE) {
    case FF_FORM_URLENCODED:
        rc = read_urlencoded(r, *out, msg);
        break;
    case FF_FORM_MULTIPART:
        rc = read_multipart(st, r, ct, ct_len, *out, msg);
        break;
    }
    if (rc != 0)
        Py_CLEAR(*out);
    return rc;
}
