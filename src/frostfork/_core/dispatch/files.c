/* dispatch/files.c — files as responses: FileResponse and app.static()
 * folders, with validators (ETag, Last-Modified → 304), byte ranges (206,
 * 416), Content-Disposition and precompressed .gz siblings.
 *
 * Only the head is written here. A whole file or a single range is left in
 * ff_env.src for the worker to send with sendfile(2); several ranges are
 * assembled as multipart/byteranges in memory, bounded by the file's size.
 * A static folder is opened once; every request's path is resolved with
 * openat2(RESOLVE_BENEATH) below it, so neither "..", its encodings nor a
 * symlink can reach outside, whatever the path says. */
#define _GNU_SOURCE
#include "dispatch/dispatch.h"
#include "dispatch/mw.h"
#include "obj/headers.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_RANGES 16 /* more ranges than this: the whole file is sent */

/* ---- media types ---- */

static const struct {
    const char *ext;
    const char *type;
} MEDIA[] = {
    {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"}, {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"}, {"json", "application/json"},
    {"txt", "text/plain; charset=utf-8"}, {"csv", "text/csv; charset=utf-8"},
    {"xml", "application/xml"}, {"svg", "image/svg+xml"}, {"png", "image/png"},
    {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"}, {"gif", "image/gif"},
    {"webp", "image/webp"}, {"avif", "image/avif"}, {"ico", "image/vnd.microsoft.icon"},
    {"woff", "font/woff"}, {"woff2", "font/woff2"}, {"ttf", "font/ttf"},
    {"wasm", "application/wasm"}, {"pdf", "application/pdf"}, {"zip", "application/zip"},
    {"gz", "application/gzip"}, {"mp4", "video/mp4"}, {"webm", "video/webm"},
    {"mp3", "audio/mpeg"}, {"wav", "audio/wav"}, {"map", "application/json"},
    {"md", "text/markdown; charset=utf-8"},
};

/* The media type a file name's extension implies; octet-stream otherwise. */
static const char *media_type(const char *name, size_t n)
{
    size_t i = n;
    while (i > 0 && name[i - 1] != '.' && name[i - 1] != '/')
        i--;
    if (i == 0 || name[i - 1] != '.')
        return "application/octet-stream";
    for (size_t k = 0; k < sizeof MEDIA / sizeof *MEDIA; k++)
        if (strlen(MEDIA[k].ext) == n - i && strncasecmp(name + i, MEDIA[k].ext, n - i) == 0)
            return MEDIA[k].type;
    return "application/octet-stream";
}

static const char *req_header(const ff_req *r, const char *name, size_t *len)
{
    size_t nl = strlen(name);
    const ff_http_request *h = r->http;
    for (size_t i = 0; i < h->num_headers; i++)
        if (h->headers[i].name_len == nl && strncasecmp(h->headers[i].name, name, nl) == 0) {
            *len = h->headers[i].value_len;
            return h->headers[i].value;
        }
    return NULL;
}

/* ---- validators ---- */

typedef struct {
    char etag[48];  /* "<mtime hex>-<size hex>", quotes included */
    char lastmod[40]; /* IMF-fixdate */
    time_t mtime;
    uint64_t size;
} ff_validators;

static void validators(const struct stat *sb, ff_validators *v)
{
    struct tm tm;
    v->mtime = sb->st_mtime;
    v->size = (uint64_t)sb->st_size;
    snprintf(v->etag, sizeof v->etag, "\"%llx-%llx\"", (unsigned long long)sb->st_mtime,
             (unsigned long long)sb->st_size);
    gmtime_r(&v->mtime, &tm);
    strftime(v->lastmod, sizeof v->lastmod, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* If-None-Match: a list of entity tags (weak ones compared weakly, as RFC
 * 9110 13.1.2 says for this field) or "*". */
static int etag_matches(const char *s, size_t n, const char *etag)
{
    size_t el = strlen(etag), i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
            i++;
        if (i < n && s[i] == '*')
            return 1;
        if (i + 2 <= n && s[i] == 'W' && s[i + 1] == '/')
            i += 2;
        size_t b = i;
        while (i < n && s[i] != ',')
            i++;
        size_t e = i;
        while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
            e--;
        if (e - b == el && memcmp(s + b, etag, el) == 0)
            return 1;
    }
    return 0;
}

static int http_date(const char *s, size_t n, time_t *out)
{
    char tmp[64];
    struct tm tm;
    if (n >= sizeof tmp)
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(tmp, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end)
        return -1;
    *out = timegm(&tm);
    return 0;
}

/* 304 when the client's copy is current: If-None-Match decides when sent,
 * else If-Modified-Since (RFC 9110 13.2.2). */
static int not_modified(const ff_req *r, const ff_validators *v)
{
    size_t n = 0;
    const char *inm = req_header(r, "if-none-match", &n);
    if (inm)
        return etag_matches(inm, n, v->etag);
    const char *ims = req_header(r, "if-modified-since", &n);
    time_t t;
    return ims && http_date(ims, n, &t) == 0 && v->mtime <= t;
}

/* ---- ranges ---- */

typedef struct {
    uint64_t first, last;
} ff_range;

/* Parses `bytes=` range specs against a file of `size` bytes. Returns the
 * number of satisfiable ranges (0: answer 416), or -1 when the field is to
 * be ignored: malformed, another unit, or more ranges than MAX_RANGES or
 * more bytes than the file (RFC 9110 14.2 lets a server ignore those). */
static int parse_ranges(const char *s, size_t n, uint64_t size, ff_range *out)
{
    size_t i = 0;
    int k = 0, specs = 0;
    uint64_t total = 0;
    if (n < 6 || strncasecmp(s, "bytes=", 6) != 0)
        return -1;
    i = 6;
    for (;;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        uint64_t a = 0, b = 0;
        int has_a = 0, has_b = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (a > (UINT64_MAX - 9) / 10)
                return -1;
            a = a * 10 + (uint64_t)(s[i++] - '0');
            has_a = 1;
        }
        if (i >= n || s[i++] != '-')
            return -1;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (b > (UINT64_MAX - 9) / 10)
                return -1;
            b = b * 10 + (uint64_t)(s[i++] - '0');
            has_b = 1;
        }
        if (!has_a && !has_b)
            return -1;
        if (has_a && has_b && b < a)
            return -1;
        if (++specs > MAX_RANGES)
            return -1;
        ff_range rg;
        int ok = 1;
        if (!has_a) { /* suffix: the last b bytes */
            ok = b > 0 && size > 0;
            rg.first = b >= size ? 0 : size - b;
            rg.last = size - 1;
        } else {
            ok = a < size;
            rg.first = a;
            rg.last = has_b && b < size ? b : size - 1;
        }
        if (ok) {
            total += rg.last - rg.first + 1;
            if (total > size)
                return -1;
            out[k++] = rg;
        }
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i == n)
            return k;
        if (s[i++] != ',')
            return -1;
    }
}

/* If-Range: the range applies only while the client's validator is still
 * the file's (an exact ETag or Last-Modified). */
static int if_range_holds(const ff_req *r, const ff_validators *v)
{
    size_t n = 0;
    const char *s = req_header(r, "if-range", &n);
    if (!s)
        return 1;
    if (n && s[0] == '"')
        return n == strlen(v->etag) && memcmp(s, v->etag, n) == 0;
    return n == strlen(v->lastmod) && memcmp(s, v->lastmod, n) == 0;
}

/* ---- the response ---- */

/* Content-Disposition with the name both as a quoted ASCII fallback and,
 * when it is not plain ASCII, as RFC 8187 filename*. */
static int put_disposition(ff_buf *out, const char *kind, const char *name, size_t n)
{
    int ascii = 1;
    for (size_t i = 0; i < n; i++)
        ascii &= (unsigned char)name[i] >= 0x20 && (unsigned char)name[i] < 0x7f;
    if (ff_buf_puts(out, "Content-Disposition: ") < 0 || ff_buf_puts(out, kind) < 0 ||
        ff_buf_puts(out, "; filename=\"") < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        char ch = c < 0x20 || c >= 0x7f ? '_' : (char)c;
        if ((ch == '"' || ch == '\\') && ff_buf_append(out, "\\", 1) < 0)
            return -1;
        if (ff_buf_append(out, &ch, 1) < 0)
            return -1;
    }
    if (ff_buf_append(out, "\"", 1) < 0)
        return -1;
    if (!ascii) {
        static const char hex[] = "0123456789ABCDEF";
        if (ff_buf_puts(out, "; filename*=UTF-8''") < 0)
            return -1;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)name[i];
            int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || strchr("!#$&+-.^_`|~", c);
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            if (plain && c ? ff_buf_append(out, (char *)&c, 1) < 0 : ff_buf_append(out, esc, 3) < 0)
                return -1;
        }
    }
    return ff_buf_append(out, "\r\n", 2);
}

/* Writes the response for an open regular file (fd is taken over: kept in
 * e->src, or closed). What the request asks decides the status: 304 when
 * the client's copy is current, 206 for satisfiable ranges, 416 for none,
 * else 200. Returns the status, or -1 when out of memory (nothing left in
 * out). */
int ff_file_respond(ff_env *e, const ff_req *r, ff_buf *out, const ff_file_opts *o)
{
    int fd = o->fd;
    ff_validators v;
    ff_range ranges[MAX_RANGES];
    int nr = -1, status = o->status ? o->status : 200;
    size_t mark = ff_buf_used(out);
    ff_buf *mp = &e->scratch;
    validators(o->st, &v);
    int get_like = r->method == FF_M_GET || r->method == FF_M_HEAD;
    if (get_like && status == 200 && not_modified(r, &v)) {
        status = 304;
    } else if (r->method == FF_M_GET && status == 200) {
        size_t n;
        const char *rh = req_header(r, "range", &n);
        if (rh && if_range_holds(r, &v))
            nr = parse_ranges(rh, n, v.size, ranges);
        status = nr == 0 ? 416 : nr > 0 ? 206 : 200;
    }
    uint64_t body_len = status == 304 ? 0 : status == 416 ? 0 : v.size;
    char boundary[40] = "";
    mp->off = mp->len = 0;
    if (status == 206 && nr == 1) {
        body_len = ranges[0].last - ranges[0].first + 1;
    } else if (status == 206) {
        /* multipart/byteranges, assembled in memory: at most the file's size in data */
        snprintf(boundary, sizeof boundary, "ff-%llx", (unsigned long long)v.mtime ^ v.size);
        for (int i = 0; i < nr; i++) {
            uint64_t len = ranges[i].last - ranges[i].first + 1;
            char head[256];
            int hl = snprintf(head, sizeof head,
                              "\r\n--%s\r\nContent-Type: %s\r\nContent-Range: bytes %llu-%llu/%llu"
                              "\r\n\r\n",
                              boundary, o->ctype, (unsigned long long)ranges[i].first,
                              (unsigned long long)ranges[i].last, (unsigned long long)v.size);
            if (ff_buf_append(mp, head, (size_t)hl) < 0 || ff_buf_reserve(mp, (size_t)len) < 0)
                goto oom;
            ssize_t k = pread(fd, mp->data + mp->len, (size_t)len, (off_t)ranges[i].first);
            if (k != (ssize_t)len) { /* the file changed under us: send it whole */
                status = 200;
                body_len = v.size;
                break;
            }
            mp->len += (size_t)len;
        }
        if (status == 206 && (ff_buf_puts(mp, "\r\n--") < 0 || ff_buf_puts(mp, boundary) < 0 ||
                              ff_buf_puts(mp, "--\r\n") < 0))
            goto oom;
        if (status == 206)
            body_len = mp->len;
    }
    char line[160];
    ff_headers_seen seen = {.content_length = -1};
    if (ff_response_begin(out, status, NULL, 0, e->date) < 0 || ff_buf_puts(out, "ETag: ") < 0 ||
        ff_buf_puts(out, v.etag) < 0 || ff_buf_puts(out, "\r\nLast-Modified: ") < 0 ||
        ff_buf_puts(out, v.lastmod) < 0 ||
        ff_buf_puts(out, "\r\nAccept-Ranges: bytes\r\n") < 0)
        goto oom;
    if (o->gzip && (ff_buf_puts(out, "Content-Encoding: gzip\r\n") < 0))
        goto oom;
    if (o->vary && ff_buf_puts(out, "Vary: Accept-Encoding\r\n") < 0)
        goto oom;
    if (o->filename && put_disposition(out, o->disposition, o->filename, o->filename_len) < 0)
        goto oom;
    if (o->headers && ff_put_headers(out, o->headers, &seen) < 0)
        goto oom;
    if (status == 206 && nr == 1) {
        int n = snprintf(line, sizeof line, "Content-Range: bytes %llu-%llu/%llu\r\n",
                         (unsigned long long)ranges[0].first, (unsigned long long)ranges[0].last,
                         (unsigned long long)v.size);
        if (ff_buf_append(out, line, (size_t)n) < 0)
            goto oom;
    } else if (status == 416) {
        int n = snprintf(line, sizeof line, "Content-Range: bytes */%llu\r\n",
                         (unsigned long long)v.size);
        if (ff_buf_append(out, line, (size_t)n) < 0)
            goto oom;
    }
    const char *ctype = status == 304 || status == 416 ? NULL : o->ctype;
    char mptype[80];
    if (status == 206 && nr > 1) {
        snprintf(mptype, sizeof mptype, "multipart/byteranges; boundary=%s", boundary);
        ctype = mptype;
    }
    if (ff_response_finish_head(out, seen.content_type ? NULL : ctype,
                                status == 304 ? (size_t)-1 : (size_t)body_len, r->keep_alive,
                                r->http10) < 0)
        goto oom;
    if (r->head_only || status == 304 || status == 416 || body_len == 0) {
        close(fd);
        return status;
    }
    if (status == 206 && nr > 1) {
        close(fd);
        return ff_buf_append(out, mp->data, mp->len) < 0 ? (out->len = out->off + mark, -1)
                                                         : status;
    }
    e->src.kind = FF_BODY_FILE;
    e->src.fd = fd;
    e->src.off = status == 206 ? ranges[0].first : 0;
    e->src.left = body_len;
    return status;
oom:
    close(fd);
    out->len = out->off + mark;
    return -1;
}

/* ---- static folders ---- */

static int open_beneath(int dirfd, const char *rel)
{
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
    return fd;
}

/* Accept-Encoding lists gzip with a non-zero q (or "*"). */
static int accepts_gzip(const ff_req *r)
{
    size_t n = 0;
    const char *s = req_header(r, "accept-encoding", &n);
    size_t i = 0;
    while (s && i < n) {
        while (i < n && (s[i] == ' ' || s[i] == ','))
            i++;
        size_t b = i;
        while (i < n && s[i] != ',' && s[i] != ';' && s[i] != ' ')
            i++;
        int gz = (i - b == 4 && strncasecmp(s + b, "gzip", 4) == 0) || (i - b == 1 && s[b] == '*');
        while (i < n && s[i] == ' ')
            i++;
        int zero = 0;
        if (i < n && s[i] == ';') {
            size_t q = i + 1;
            while (q < n && s[q] == ' ')
                q++;
            if (q + 2 < n && (s[q] == 'q' || s[q] == 'Q') && s[q + 1] == '=') {
                q += 2;
                zero = s[q] == '0';
                for (q++; zero && q < n && s[q] != ','; q++)
                    zero = s[q] == '.' || s[q] == '0' || s[q] == ' ';
            }
            while (i < n && s[i] != ',')
                i++;
        }
        if (gz && !zero)
            return 1;
    }
    return 0;
}

/* Serves the file that `rest` (the request path after the mount's prefix,
 * still percent-encoded) names below the folder. Traversal is refused
 * before the kernel is asked: a NUL, a backslash, a "." or ".." segment or a
 * hidden name (".git", ".env") after decoding is a 404, like a file that is
 * not there; RESOLVE_BENEATH then keeps symlinks from leading out. */
int ff_static_serve(ff_env *e, const ff_req *r, ff_buf *out, const ff_static *m,
                    const char *rest, size_t n)
{
    char rel[4096 + 8];
    long dl;
    if (r->method != FF_M_GET && r->method != FF_M_HEAD) {
        size_t mark = ff_buf_used(out);
        if (ff_response_begin(out, 405, NULL, 0, e->date) < 0 ||
            ff_buf_puts(out, "Allow: GET, HEAD\r\n") < 0 ||
            ff_response_finish_head(out, "application/json", 31, r->keep_alive, r->http10) < 0 ||
            (!r->head_only && ff_buf_puts(out, "{\"detail\":\"Method Not Allowed\"}") < 0)) {
            out->len = out->off + mark;
            return -1;
        }
        return 405;
    }
    if (n == 0 || rest[0] != '/' || n >= 4096 || (dl = ff_percent_decode(rel, rest + 1, n - 1)) < 0)
        goto not_found;
    rel[dl] = '\0';
    if (dl == 0 || memchr(rel, '\0', (size_t)dl) || memchr(rel, '\\', (size_t)dl))
        goto not_found;
    for (long i = 0; i < dl;) {
        long j = i;
        while (j < dl && rel[j] != '/')
            j++;
        if (j == i || rel[i] == '.') /* empty, ".", "..", or a hidden name */
            goto not_found;
        i = j + 1;
    }
    if (rel[dl - 1] == '/')
        goto not_found;
    int fd = -1, gz = 0;
    struct stat sb;
    if (m->precompressed && accepts_gzip(r)) {
        memcpy(rel + dl, ".gz", 4);
        fd = open_beneath(m->dirfd, rel);
        rel[dl] = '\0';
        if (fd >= 0 && (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))) {
            close(fd);
            fd = -1;
        }
        gz = fd >= 0;
    }
    if (fd < 0) {
        fd = open_beneath(m->dirfd, rel);
        if (fd < 0)
            goto not_found;
        if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
            close(fd);
            goto not_found;
        }
    }
    ff_file_opts o = {.fd = fd, .st = &sb, .ctype = media_type(rel, (size_t)dl), .gzip = gz,
                      .vary = m->precompressed};
    return ff_file_respond(e, r, out, &o);
not_found:
    return ff_response_error(out, 404, "Not Found", e->date, r->keep_alive, r->http10,
                             r->head_only) < 0 ? -1 : 404;
}

/* FileResponse(path, filename=None, media_type=None, status=200,
 * headers=None, content_disposition_type="attachment"): the attributes of
 * the frostfork.FileResponse object the handler returned. */
int ff_file_response(ff_env *e, const ff_req *r, ff_buf *out, PyObject *resp)
{
    PyObject *path = PyObject_GetAttrString(resp, "path");
    PyObject *filename = path ? PyObject_GetAttrString(resp, "filename") : NULL;
    PyObject *mtype = filename ? PyObject_GetAttrString(resp, "media_type") : NULL;
    PyObject *headers = mtype ? PyObject_GetAttrString(resp, "headers") : NULL;
    PyObject *status = headers ? PyObject_GetAttrString(resp, "status") : NULL;
    PyObject *kind = status ? PyObject_GetAttrString(resp, "content_disposition_type") : NULL;
    PyObject *fspath = kind ? PyOS_FSPath(path) : NULL;
    PyObject *bpath = fspath ? PyUnicode_Check(fspath) ? PyUnicode_EncodeFSDefault(fspath)
                                                       : Py_NewRef(fspath)
                             : NULL;
    int rc = -1;
    if (!bpath || !PyBytes_Check(bpath))
        goto done;
    const char *p = PyBytes_AS_STRING(bpath);
    Py_ssize_t pl = PyBytes_GET_SIZE(bpath);
    const char *fn = NULL, *mt = NULL, *kd = "attachment";
    Py_ssize_t fnl = 0;
    if (filename != Py_None && !(fn = PyUnicode_AsUTF8AndSize(filename, &fnl)))
        goto done;
    if (mtype != Py_None && !(mt = PyUnicode_AsUTF8(mtype)))
        goto done;
    if (kind != Py_None && !(kd = PyUnicode_AsUTF8(kind)))
        goto done;
    long st = PyLong_AsLong(status);
    if (st == -1 && PyErr_Occurred())
        goto done;
    struct stat sb;
    int gz = 0, fd = -1;
    if (ff_mw_gzip_stream(e->mw, r, NULL) && (size_t)pl < 4000) {
        /* with gzip on, a precompressed sibling (name.gz) is sent in its place */
        char gzpath[4100];
        memcpy(gzpath, p, (size_t)pl);
        memcpy(gzpath + pl, ".gz", 4);
        fd = open(gzpath, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd >= 0 && (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))) {
            close(fd);
            fd = -1;
        }
        gz = fd >= 0;
    }
    if (fd < 0)
        fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (!gz && fd >= 0 && (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))) {
        close(fd);
        fd = -1;
        errno = EISDIR;
    }
    if (fd < 0) {
        PyErr_Format(PyExc_FileNotFoundError, "FileResponse: cannot send %R: %s", path,
                     strerror(errno));
        goto done;
    }
    if (!mt)
        mt = media_type(fn ? fn : p, fn ? (size_t)fnl : (size_t)pl);
    ff_file_opts o = {.fd = fd, .st = &sb, .ctype = mt, .filename = fn,
                      .filename_len = (size_t)fnl, .disposition = kd,
                      .headers = headers == Py_None ? NULL : headers, .status = (int)st,
                      .gzip = gz, .vary = gz};
    rc = ff_file_respond(e, r, out, &o);
    if (rc < 0)
        PyErr_NoMemory();
done:
    Py_XDECREF(path);
    Py_XDECREF(filename);
    Py_XDECREF(mtype);
    Py_XDECREF(headers);
    Py_XDECREF(status);
    Py_XDECREF(kind);
    Py_XDECREF(fspath);
    Py_XDECREF(bpath);
    return rc;
}
