/* life/logs.c — see logs.h. */
#include "life/logs.h"
#include "life/sinks.h"
#include "json/encode.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define FLUSH_MS 100
#define FLUSH_BYTES (64 * 1024)

int ff_logs_init(ff_logs *l, ff_state *st, PyObject *access_sink, PyObject *audit_sink,
                 int access_json, PyObject *mask_names)
{
    memset(l, 0, sizeof *l);
    l->st = st;
    l->pid = getpid();
    l->json = access_json;
    l->mask_names = mask_names;
    PyObject *sinks[2] = {access_sink, audit_sink};
    static const char *const roles[2] = {"access log", "audit"};
    for (int i = 0; i < 2; i++) {
        if (!sinks[i])
            continue;
        l->sink[i] = sinks[i];
        if (ff_sink_write_c(st, sinks[i], "", 0) != -2)
            continue; /* a C sink: written from here */
        PyObject *writer = ff_import_attr("frostfork.sinks", "_writer");
        l->put[i] = writer ? PyObject_CallFunction(writer, "Os", sinks[i], roles[i]) : NULL;
        Py_XDECREF(writer);
        if (!l->put[i])
            return -1;
    }
    st->logs = l;
    return 0;
}

void ff_logs_close(ff_logs *l)
{
    ff_logs_flush(l, 0, 1);
    int threads = 0;
    for (int i = 0; i < 2; i++) {
        if (l->put[i]) { /* None: the writer thread finishes its queue and stops */
            PyObject *r = PyObject_CallOneArg(l->put[i], Py_None);
            if (!r)
                PyErr_Clear();
            Py_XDECREF(r);
            threads = 1;
        }
        Py_CLEAR(l->put[i]);
        ff_buf_free(&l->buf[i]);
    }
    if (threads) { /* bounded: a stuck sink cannot hold the worker's exit */
        PyObject *join = ff_import_attr("frostfork.sinks", "_join_writers");
        PyObject *r = join ? PyObject_CallFunction(join, "d", 2.0) : NULL;
        if (!r)
            PyErr_Clear();
        Py_XDECREF(r);
        Py_XDECREF(join);
    }
    ff_buf_free(&l->tmp);
    if (l->st)
        l->st->logs = NULL;
}

void ff_logs_flush(ff_logs *l, int64_t now_ms, int force)
{
    if (!force && now_ms < l->next_flush_ms)
        return;
    l->next_flush_ms = now_ms + FLUSH_MS;
    for (int i = 0; i < 2; i++) {
        ff_buf *b = &l->buf[i];
        if (!ff_buf_used(b))
            continue;
        if (!l->put[i]) {
            ff_sink_write_c(l->st, l->sink[i], b->data + b->off, ff_buf_used(b));
        } else {
            PyObject *data = PyBytes_FromStringAndSize(b->data + b->off,
                                                       (Py_ssize_t)ff_buf_used(b));
            PyObject *r = data ? PyObject_CallOneArg(l->put[i], data) : NULL;
            Py_XDECREF(data);
            if (!r) { /* queue full: the sink is stuck; drop, say so once */
                if (!l->reported[i]) {
                    l->reported[i] = 1;
                    PySys_WriteStderr("[frostfork] worker %d: %s sink is not keeping up; "
                                      "dropping lines\n",
                                      (int)l->pid, i == FF_LOG_ACCESS ? "access log" : "audit");
                }
                PyErr_Clear();
            }
            Py_XDECREF(r);
        }
        b->off = b->len = 0;
    }
}

/* ---- masking ---- */

static int has_ci(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (strncasecmp(s + i, needle, k) == 0)
            return 1;
    return 0;
}

/* Names masked by default (exact: authorization, cookie, set-cookie; or
 * containing password, token, secret, api-key/api_key/apikey), plus the
 * names given with --mask / App(mask=...). */
static int sensitive_name(PyObject *mask_names, const char *k, size_t n)
{
    static const char *const exact[] = {"authorization", "cookie", "set-cookie"};
    static const char *const parts[] = {"password", "token", "secret", "api-key", "api_key",
                                        "apikey", "passwd"};
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
        if (strlen(exact[i]) == n && strncasecmp(k, exact[i], n) == 0)
            return 1;
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        if (has_ci(k, n, parts[i]))
            return 1;
    for (Py_ssize_t i = 0; mask_names && i < PyTuple_GET_SIZE(mask_names); i++) {
        Py_ssize_t mn;
        const char *m = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(mask_names, i), &mn);
        if (m && has_ci(k, n, m) && (size_t)mn <= n)
            return 1;
    }
    PyErr_Clear();
    return 0;
}

/* A JSON string: runs of plain bytes are copied whole, the rest escaped.
 * Returns -1 when an append failed (out of memory). */
static int put_json_str(ff_buf *b, const char *s, size_t n)
{
    int rc = ff_buf_append(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
            continue;
        char e[8];
        int k = (c == '"' || c == '\\') ? snprintf(e, sizeof e, "\\%c", c)
                                         : snprintf(e, sizeof e, "\\u%04x", c);
        if (ff_buf_append(b, s + run, i - run) < 0 || ff_buf_append(b, e, (size_t)k) < 0)
            rc = -1;
        run = i + 1;
    }
    if (rc < 0 || ff_buf_append(b, s + run, n - run) < 0 || ff_buf_append(b, "\"", 1) < 0)
        return -1;
    return 0;
}

/* path?query with the values of sensitive query names replaced by ***.
 * Returns -1 when an append failed (out of memory). */
static int put_target(ff_buf *tmp, PyObject *mask_names, const ff_http_request *h)
{
    if (ff_buf_append(tmp, h->path, h->path_len) < 0)
        return -1;
    if (!h->query)
        return 0;
    int rc = ff_buf_append(tmp, "?", 1);
    const char *s = h->query, *end = h->query + h->query_len;
    while (s < end && rc == 0) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(s, '=', (size_t)(stop - s));
        if (eq && sensitive_name(mask_names, s, (size_t)(eq - s)))
            rc = ff_buf_append(tmp, s, (size_t)(eq - s) + 1) < 0 || ff_buf_append(tmp, "***", 3) < 0
                     ? -1
                     : 0;
        else
            rc = ff_buf_append(tmp, s, (size_t)(stop - s));
        if (amp && rc == 0)
            rc = ff_buf_append(tmp, "&", 1);
        s = stop + 1;
    }
    return rc;
}

void ff_scrub_buf(ff_state *st, ff_buf *b, size_t from)
{
    Py_ssize_t n = st->secrets ? PyList_GET_SIZE(st->secrets) : 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t sl;
        const char *sec = PyUnicode_AsUTF8AndSize(PyList_GET_ITEM(st->secrets, i), &sl);
        if (!sec || sl < 1) {
            PyErr_Clear();
            continue;
        }
        char *p = b->data + b->off + from;
        char *end = b->data + b->len;
        char *hit;
        while ((hit = memmem(p, (size_t)(end - p), sec, (size_t)sl))) {
            /* "***" is never longer than a secret of 3+ bytes; shorter ones are padded */
            size_t keep = (size_t)sl < 3 ? (size_t)sl : 3;
            memcpy(hit, "***", keep);
            memmove(hit + keep, hit + sl, (size_t)(end - hit - sl));
            b->len -= (size_t)sl - keep;
            end -= (size_t)sl - keep;
            p = hit + keep;
        }
    }
}

PyObject *ff_scrub(ff_state *st, PyObject *text)
{
    Py_INCREF(text);
    Py_ssize_t n = st->secrets ? PyList_GET_SIZE(st->secrets) : 0;
    PyObject *stars = n ? PyUnicode_FromString("***") : NULL;
    for (Py_ssize_t i = 0; i < n && text && stars; i++) {
        PyObject *sec = PyList_GET_ITEM(st->secrets, i);
        if (PyUnicode_GET_LENGTH(sec) > 0)
            Py_SETREF(text, PyUnicode_Replace(text, sec, stars, -1));
    }
    Py_XDECREF(stars);
    return text;
}

/* Wall-clock time, formatted once per second per worker (like the Date
 * header); JSON lines add the milliseconds. Returns -1 when out of memory. */
static int put_time(ff_logs *l, ff_buf *b, int json)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    if (ts.tv_sec != l->time_sec || !l->time_len) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        l->time_len = json ? strftime(l->time, sizeof l->time, "%Y-%m-%dT%H:%M:%S", &tm)
                           : strftime(l->time, sizeof l->time, "%d/%b/%Y:%H:%M:%S +0000", &tm);
        l->time_sec = ts.tv_sec;
    }
    if (ff_buf_append(b, l->time, l->time_len) < 0)
        return -1;
    if (json) {
        int ms = (int)(ts.tv_nsec / 1000000);
        char t[6] = {'.', (char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10),
                     'Z', 0};
        return ff_buf_append(b, t, 5);
    }
    return 0;
}

void ff_logs_access(ff_logs *l, const ff_access *a, int64_t now_ms)
{
    if (!l->sink[FF_LOG_ACCESS])
        return;
    const ff_http_request *h = a->http;
    ff_buf *b = &l->buf[FF_LOG_ACCESS];
    size_t start = ff_buf_used(b);
    ff_buf *target = &l->tmp;
    target->off = target->len = 0;
    /* Every append is checked once, at the end: a failed one leaves the
     * buffer as it was, so rc says whether the line is whole. */
    int rc = put_target(target, l->mask_names, h);
    const char *host = a->peer_host[0] ? a->peer_host : "-";
    const char *request_id = a->request_id;
    int status = a->status;
    size_t bytes_out = a->bytes_out;
    int64_t duration_us = a->duration_us;
    if (rc < 0) {
        /* no line: a path cut short would misreport the request */
    } else if (l->json) {
        rc |= ff_buf_puts(b, "{\"time\":\"");
        rc |= put_time(l, b, 1);
        rc |= ff_buf_puts(b, "\",\"pid\":");
        rc |= ff_buf_put_u64(b, (unsigned long long)l->pid);
        rc |= ff_buf_puts(b, ",\"remote\":");
        rc |= put_json_str(b, host, strlen(host));
        rc |= ff_buf_puts(b, ",\"method\":");
        rc |= put_json_str(b, h->method, h->method_len);
        rc |= ff_buf_puts(b, ",\"path\":");
        rc |= put_json_str(b, target->data ? target->data : "", target->len);
        rc |= ff_buf_puts(b, ",\"status\":");
        rc |= ff_buf_put_u64(b, (unsigned)status);
        rc |= ff_buf_puts(b, ",\"bytes_in\":");
        rc |= ff_buf_put_u64(b, a->bytes_in);
        rc |= ff_buf_puts(b, ",\"bytes_out\":");
        rc |= ff_buf_put_u64(b, bytes_out);
        rc |= ff_buf_puts(b, ",\"duration_us\":");
        rc |= ff_buf_put_u64(b, (unsigned long long)(duration_us > 0 ? duration_us : 0));
        rc |= ff_buf_puts(b, ",\"request_id\":");
        rc |= put_json_str(b, request_id, strlen(request_id));
        rc |= ff_buf_puts(b, "}\n");
    } else { /* common log format, plus duration and request id */
        rc |= ff_buf_puts(b, host);
        rc |= ff_buf_puts(b, " - - [");
        rc |= put_time(l, b, 0);
        rc |= ff_buf_puts(b, "] \"");
        rc |= ff_buf_append(b, h->method, h->method_len);
        rc |= ff_buf_append(b, " ", 1);
        for (size_t i = 0; i < target->len && rc == 0; i++) /* quotes would end the field */
            rc |= ff_buf_append(b, target->data[i] == '"' ? "%22" : target->data + i,
                                target->data[i] == '"' ? 3 : 1);
        char num[160];
        snprintf(num, sizeof num, " HTTP/1.%d\" %d %zu %lldus %s\n", h->version_minor, status,
                 bytes_out, (long long)duration_us, request_id);
        rc |= ff_buf_puts(b, num);
    }
    if (rc < 0) { /* out of memory: drop the line rather than write part of it */
        b->len = b->off + start;
        return;
    }
    ff_scrub_buf(l->st, b, start);
    if (ff_buf_used(b) >= FLUSH_BYTES)
        ff_logs_flush(l, now_ms, 1);
}

/* audit(event, **fields): a JSON record with time, pid and request id. */
PyObject *ff_py_audit(PyObject *module, PyObject *args, PyObject *kwargs)
{
    ff_state *st = ff_get_state(module);
    PyObject *event;
    if (!PyArg_ParseTuple(args, "U:audit", &event))
        return NULL;
    ff_logs *l = st->logs;
    if (!l || !l->sink[FF_LOG_AUDIT]) {
        PyErr_SetString(PyExc_RuntimeError,
                        "no audit sink in this process (App(audit=...), in a worker)");
        return NULL;
    }
    PyObject *record = PyDict_New();
    if (!record)
        return NULL;
    PyObject *pid = PyLong_FromLong((long)getpid());
    PyObject *ridobj = PyUnicode_FromString(st->request_id);
    int rc = pid && ridobj && PyDict_SetItemString(record, "event", event) == 0 &&
             PyDict_SetItemString(record, "pid", pid) == 0 &&
             PyDict_SetItemString(record, "request_id", ridobj) == 0 &&
             (!kwargs || PyDict_Update(record, kwargs) == 0);
    Py_XDECREF(pid);
    Py_XDECREF(ridobj);
    ff_buf *b = &l->buf[FF_LOG_AUDIT];
    size_t start = ff_buf_used(b);
    if (rc && ff_json_encode(b, record, st, 0) == 0 && ff_buf_append(b, "\n", 1) == 0) {
        ff_scrub_buf(st, b, start);
        Py_DECREF(record);
        Py_RETURN_NONE;
    }
    b->len = b->off + start;
    Py_DECREF(record);
    if (!PyErr_Occurred())
        PyErr_NoMemory();
    return NULL;
}
