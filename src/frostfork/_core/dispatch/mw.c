/* dispatch/mw.c — the built-in middleware applied to requests and to the
 * response bytes the dispatchers write (see mw.h). Working on the written
 * response keeps the dispatchers unaware of it, and treats native and WSGI
 * responses alike. */
#include "dispatch/mw.h"

#include <stdio.h>
#include <strings.h>

/* ---- configuration ---- */

/* A list attribute of the CORS object as C strings (borrowed from `keep`). */
static const char **str_list(PyObject *obj, const char *attr, PyObject **keep, size_t *n)
{
    PyObject *v = PyObject_GetAttrString(obj, attr);
    *keep = v ? PySequence_Tuple(v) : NULL;
    Py_XDECREF(v);
    if (!*keep)
        return NULL;
    *n = (size_t)PyTuple_GET_SIZE(*keep);
    const char **out = PyMem_Calloc(*n + 1, sizeof(char *));
    if (!out) {
        PyErr_NoMemory();
        return NULL;
    }
    for (size_t i = 0; i < *n; i++) {
        PyObject *s = PyTuple_GET_ITEM(*keep, (Py_ssize_t)i);
        if (!PyUnicode_Check(s) || !(out[i] = PyUnicode_AsUTF8(s)) ||
            strpbrk(out[i], "\r\n")) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "CORS %s must be strings without CR/LF", attr);
            PyMem_Free(out);
            return NULL;
        }
    }
    return out;
}

static ff_cors *cors_from(PyObject *cfg)
{
    PyObject *ko = NULL, *km = NULL, *kh = NULL, *cred = NULL, *age = NULL;
    size_t no = 0, nm = 0, nh = 0;
    const char **o = str_list(cfg, "allow_origins", &ko, &no);
    const char **m = o ? str_list(cfg, "allow_methods", &km, &nm) : NULL;
    const char **h = m ? str_list(cfg, "allow_headers", &kh, &nh) : NULL;
    ff_cors *c = NULL;
    if (h && (cred = PyObject_GetAttrString(cfg, "allow_credentials")) &&
        (age = PyObject_GetAttrString(cfg, "max_age"))) {
        int credentials = PyObject_IsTrue(cred);
        long max_age = PyLong_AsLong(age);
        if (credentials >= 0 && !(max_age == -1 && PyErr_Occurred())) {
            if (!(c = PyMem_Malloc(sizeof *c)))
                PyErr_NoMemory();
            else if (ff_cors_init(c, o, no, m, nm, h, nh, credentials, max_age) < 0) {
                PyMem_Free(c);
                c = NULL;
                PyErr_NoMemory();
            }
        }
    }
    PyMem_Free(o);
    PyMem_Free(m);
    PyMem_Free(h);
    Py_XDECREF(ko);
    Py_XDECREF(km);
    Py_XDECREF(kh);
    Py_XDECREF(cred);
    Py_XDECREF(age);
    return c;
}

ff_mw *ff_mw_new(PyObject *config)
{
    if (!config || config == Py_None)
        return NULL;
    if (!PyDict_Check(config)) {
        PyErr_SetString(PyExc_TypeError, "middleware config must be a dict");
        return NULL;
    }
    ff_mw *m = PyMem_Calloc(1, sizeof *m);
    if (!m)
        return (ff_mw *)PyErr_NoMemory();
    PyObject *cors = PyDict_GetItemString(config, "cors");
    PyObject *gzip = PyDict_GetItemString(config, "gzip");
    PyObject *ips = PyDict_GetItemString(config, "forwarded_allow_ips");
    if (cors && cors != Py_None && !(m->cors = cors_from(cors)))
        goto fail;
    if (gzip && gzip != Py_None && gzip != Py_False) {
        long min = gzip == Py_True ? FF_GZIP_MIN_SIZE : PyLong_AsLong(gzip);
        if (min == -1 && PyErr_Occurred())
            goto fail;
        m->gzip_min = min < 1 ? 1 : (size_t)min;
        m->gz.level = 6;
    }
    if (ips && ips != Py_None) {
        const char *spec = PyUnicode_Check(ips) ? PyUnicode_AsUTF8(ips) : NULL;
        char err[160];
        if (!spec) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "forwarded_allow_ips must be a str");
            goto fail;
        }
        if (!(m->trust = PyMem_Malloc(sizeof *m->trust))) {
            PyErr_NoMemory();
            goto fail;
        }
        if (ff_trust_parse(m->trust, spec, err, sizeof err) < 0) {
            PyErr_SetString(PyExc_ValueError, err);
            goto fail;
        }
        if (!m->trust->any && m->trust->n == 0) { /* "": trust nobody, so no work at all */
            PyMem_Free(m->trust);
            m->trust = NULL;
        }
    }
    if (!m->cors && !m->trust && !m->gzip_min) {
        ff_mw_free(m);
        return NULL;
    }
    return m;
fail:
    ff_mw_free(m);
    return NULL;
}

void ff_mw_process_end(ff_mw *m)
{
    ff_gzip_free(&m->gz);
    ff_buf_free(&m->tmp);
}

void ff_mw_free(ff_mw *m)
{
    if (!m)
        return;
    if (m->cors) {
        ff_cors_free(m->cors);
        PyMem_Free(m->cors);
    }
    PyMem_Free(m->trust);
    ff_gzip_free(&m->gz);
    ff_buf_free(&m->tmp);
    PyMem_Free(m);
}

/* ---- per request ---- */

static const ff_http_header *header(const ff_req *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->http->num_headers; i++) {
        const ff_http_header *h = &r->http->headers[i];
        if (h->name_len == n && strncasecmp(h->name, name, n) == 0)
            return h;
    }
    return NULL;
}

/* The forwarded client and scheme, believed only from a trusted peer. The
 * port of a forwarded client is unknown: 0. */
static void forwarded(ff_mw *m, ff_req *r)
{
    if (!r->peer_host[0] || !ff_trust_has(m->trust, r->peer_host, strlen(r->peer_host)))
        return;
    const ff_http_header *xff = header(r, "x-forwarded-for");
    if (xff && ff_forwarded_client(m->trust, xff->value, xff->value_len, m->client,
                                   sizeof m->client)) {
        r->peer_host = m->client;
        r->peer_port = 0;
    }
    const ff_http_header *xfp = header(r, "x-forwarded-proto");
    if (xfp && ff_forwarded_proto(xfp->value, xfp->value_len, m->scheme, sizeof m->scheme))
        r->scheme = m->scheme;
}

static int preflight(ff_mw *m, const ff_req *r, ff_buf *out, const ff_date_cache *date,
                     const ff_http_header *origin, const ff_http_header *method)
{
    const ff_http_header *rh = header(r, "access-control-request-headers");
    const char *why;
    size_t mark = ff_buf_used(out);
    m->tmp.off = m->tmp.len = 0;
    int status = ff_cors_preflight(m->cors, &m->tmp, origin->value, origin->value_len,
                                   method->value, method->value_len, rh ? rh->value : NULL,
                                   rh ? rh->value_len : 0, &why);
    const char *body = status == 200 ? "OK" : why;
    size_t blen = status > 0 ? strlen(body) : 0;
    if (status < 0 || ff_response_begin(out, status, NULL, 0, date) < 0 ||
        ff_buf_append(out, m->tmp.data, m->tmp.len) < 0 ||
        ff_response_finish_head(out, "text/plain; charset=utf-8", blen, r->keep_alive,
                                r->http10) < 0 ||
        ff_buf_append(out, body, blen) < 0) {
        out->len = out->off + mark;
        return -1;
    }
    return status;
}

int ff_mw_before(ff_mw *m, ff_req *r, ff_buf *out, const ff_date_cache *date)
{
    if (m->trust)
        forwarded(m, r);
    if (m->cors && r->method == FF_M_OPTIONS) {
        const ff_http_header *origin = header(r, "origin");
        const ff_http_header *method = header(r, "access-control-request-method");
        if (origin && method)
            return preflight(m, r, out, date, origin, method);
    }
    return 0;
}

/* ---- rewriting the written response ---- */

/* The value of header `name` in a written head (lines end in CRLF), or NULL. */
static const char *head_value(const char *head, size_t n, const char *name, size_t *vlen)
{
    size_t k = strlen(name);
    const char *p = memchr(head, '\n', n); /* past the status line */
    const char *end = head + n;
    while (p && ++p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        if (!eol || eol == p)
            return NULL;
        if ((size_t)(eol - p) > k && p[k] == ':' && strncasecmp(p, name, k) == 0) {
            const char *v = p + k + 1;
            while (v < eol && *v == ' ')
                v++;
            *vlen = (size_t)(eol - v);
            return v;
        }
        p = memchr(eol, '\n', (size_t)(end - eol));
    }
    return NULL;
}

/* Whether the response's body is gzipped: a body of known length (so a
 * streamed one never is), long enough, not already encoded, not an event
 * stream, to a client that takes gzip. */
static int want_gzip(const ff_mw *m, const ff_req *r, int status, const char *head, size_t hn,
                     size_t body_len)
{
    size_t vl;
    if (r->head_only || status < 200 || status == 204 || status == 304 ||
        body_len < m->gzip_min || head_value(head, hn, "content-encoding", &vl) ||
        head_value(head, hn, "transfer-encoding", &vl) ||
        !head_value(head, hn, "content-length", &vl))
        return 0;
    const char *ct = head_value(head, hn, "content-type", &vl);
    if (ct && vl >= 17 && strncasecmp(ct, "text/event-stream", 17) == 0)
        return 0;
    const ff_http_header *ae = header(r, "accept-encoding");
    return ae && ff_gzip_accepted(ae->value, ae->value_len);
}

int ff_mw_gzip_stream(const ff_mw *m, const ff_req *r, const char *ctype)
{
    if (!m || !m->gzip_min || r->head_only)
        return 0;
    if (ctype && strncasecmp(ctype, "text/event-stream", 17) == 0)
        return 0;
    const ff_http_header *ae = header(r, "accept-encoding");
    return ae && ff_gzip_accepted(ae->value, ae->value_len);
}

int ff_mw_after(ff_mw *m, const ff_req *r, ff_buf *out, size_t start)
{
    char *resp = out->data + out->off + start;
    size_t total = out->len - out->off - start;
    const char *blank = NULL;
    for (size_t i = 0; i + 3 < total; i++)
        if (resp[i] == '\r' && resp[i + 1] == '\n' && resp[i + 2] == '\r' && resp[i + 3] == '\n') {
            blank = resp + i;
            break;
        }
    if (!blank || total < 12)
        return 0; /* not a response head we wrote: leave it */
    size_t hn = (size_t)(blank - resp) + 2; /* the head up to its last header's CRLF */
    size_t body_off = hn + 2, body_len = total - body_off;
    int status = (resp[9] - '0') * 100 + (resp[10] - '0') * 10 + (resp[11] - '0');
    const ff_http_header *origin = m->cors ? header(r, "origin") : NULL;
    int cors = origin && ff_cors_origin_allowed(m->cors, origin->value, origin->value_len) &&
               !head_value(resp, hn, "access-control-allow-origin", &(size_t){0});
    int gz = m->gzip_min && want_gzip(m, r, status, resp, hn, body_len);
    if (!cors && !gz)
        return 0;
    ff_buf *t = &m->tmp;
    t->off = t->len = 0;
    size_t cl_at = 0, cl_len = 0;
    if (gz) { /* the head without its Content-Length line, which is rewritten */
        size_t vl;
        const char *v = head_value(resp, hn, "content-length", &vl);
        const char *line = v;
        while (line > resp && line[-1] != '\n')
            line--;
        cl_at = (size_t)(line - resp);
        cl_len = (size_t)(v + vl + 2 - line);
    }
    if (ff_buf_append(t, resp, gz ? cl_at : hn) < 0 ||
        (gz && ff_buf_append(t, resp + cl_at + cl_len, hn - cl_at - cl_len) < 0) ||
        (cors && ff_cors_simple_headers(m->cors, t, origin->value, origin->value_len) < 0))
        return -1;
    if (gz) {
        size_t head_end = t->len;
        /* the body goes after room for the three header lines, written once its size is known */
        static const char pad[96] = {0};
        if (ff_buf_append(t, pad, sizeof pad) < 0 ||
            ff_gzip_compress(&m->gz, t, resp + body_off, body_len) < 0)
            return -1;
        size_t zlen = t->len - head_end - sizeof pad;
        char lines[96];
        int ln = snprintf(lines, sizeof lines,
                          "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n"
                          "Content-Length: %zu\r\n\r\n", zlen);
        memmove(t->data + head_end + ln, t->data + head_end + sizeof pad, zlen);
        memcpy(t->data + head_end, lines, (size_t)ln);
        t->len = head_end + (size_t)ln + zlen;
    } else if (ff_buf_append(t, "\r\n", 2) < 0 ||
               ff_buf_append(t, resp + body_off, body_len) < 0) {
        return -1;
    }
    /* replace the response in out: room first, so failing leaves it whole */
    if (t->len > total && ff_buf_reserve(out, t->len - total) < 0)
        return -1;
    out->len = out->off + start;
    return ff_buf_append(out, t->data, t->len);
}
