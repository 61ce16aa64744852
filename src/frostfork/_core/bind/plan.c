/* bind/plan.c — the Plan type and binding a request to it (see plan.h). */
#include "bind/plan.h"
#include "util/hex.h"
#include "obj/objects.h"
#include "life/finalize.h"
#include "bind/form.h"
#include "obj/upload.h"

#include <limits.h>
#include <strings.h>

/* Arguments of one call that fit in ff_plan_call's stack array; a callable
 * with more gets a heap array per call (not a limit). */
#define STACK_ARGS 32

static const char *const SRC_NAMES[] = {"path", "query", "header", "cookie", "body", "body",
                                        "request", "dependency", "security", "body", "body",
                                        "body"};

/* ---- the Plan type ---- */

static void clear_args(ff_Plan *p)
{
    for (Py_ssize_t i = 0; i < p->nargs; i++) {
        ff_arg *a = &p->args[i];
        Py_CLEAR(a->name);
        Py_CLEAR(a->loc_name);
        Py_CLEAR(a->schema);
        Py_CLEAR(a->default_value);
        Py_CLEAR(a->dep);
        Py_CLEAR(a->challenge);
        Py_CLEAR(a->sec_cls);
    }
    PyMem_Free(p->args);
    p->args = NULL;
    p->nargs = 0;
}

static int plan_clear(ff_Plan *p)
{
    clear_args(p);
    Py_CLEAR(p->callable);
    Py_CLEAR(p->kwnames);
    Py_CLEAR(p->body_schema);
    Py_CLEAR(p->app_value);
    Py_CLEAR(p->label);
    return 0;
}

static int plan_traverse(ff_Plan *p, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(p));
    Py_VISIT(p->callable);
    Py_VISIT(p->body_schema);
    Py_VISIT(p->app_value);
    for (Py_ssize_t i = 0; i < p->nargs; i++) {
        Py_VISIT(p->args[i].schema);
        Py_VISIT(p->args[i].default_value);
        Py_VISIT(p->args[i].dep);
        Py_VISIT(p->args[i].sec_cls);
    }
    return 0;
}

static void plan_dealloc(ff_Plan *p)
{
    PyTypeObject *tp = Py_TYPE(p);
    PyObject_GC_UnTrack(p);
    plan_clear(p);
    tp->tp_free(p);
    Py_DECREF(tp);
}

/* Plan(callable, args, body_schema=None, app_scope=False, label=None,
 * generator=False), where args holds (name, src, loc_name, capture, schema,
 * required, default, is_list, dep[, security]) tuples in call order;
 * security is (kind, challenge, credential class) for FF_SRC_SECURITY.
 * Arguments named "" (route dependencies run for their side effects) come
 * first and are not passed. */
static PyObject *plan_new(PyTypeObject *type, PyObject *targs, PyObject *kw)
{
    static char *kwlist[] = {"callable", "args", "body_schema", "app_scope", "label",
                             "generator", NULL};
    PyObject *callable, *args, *body = Py_None, *label = Py_None;
    int app_scope = 0, generator = 0;
    if (!PyArg_ParseTupleAndKeywords(targs, kw, "OO!|OpOp:Plan", kwlist, &callable, &PyList_Type,
                                     &args, &body, &app_scope, &label, &generator))
        return NULL;
    ff_Plan *p = (ff_Plan *)type->tp_alloc(type, 0);
    if (!p)
        return NULL;
    p->callable = Py_NewRef(callable);
    p->body_schema = body == Py_None ? NULL : Py_NewRef(body);
    p->app_scope = app_scope;
    p->generator = generator;
    p->label = label == Py_None ? PyObject_Repr(callable) : Py_NewRef(label);
    Py_ssize_t n = PyList_GET_SIZE(args);
    p->args = PyMem_Calloc((size_t)n + 1, sizeof(ff_arg));
    PyObject *names = NULL;
    if (!p->args || !p->label)
        goto fail;
    p->nargs = n;
    for (Py_ssize_t i = 0; i < n; i++) {
        ff_arg *a = &p->args[i];
        PyObject *name, *loc, *schema, *def, *dep, *sec = Py_None;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(args, i), "UiUiOpOpO|O:Plan arg", &name, &a->src,
                              &loc, &a->capture, &schema, &a->required, &def, &a->is_list, &dep,
                              &sec))
            goto fail;
        if (a->src < FF_SRC_PATH || a->src > FF_SRC_WEBSOCKET) {
            PyErr_Format(PyExc_ValueError, "bad source %d", a->src);
            goto fail;
        }
        if (PyUnicode_GET_LENGTH(name) == 0) {
            if (p->nside != i) {
                PyErr_SetString(PyExc_ValueError, "unnamed Plan args must come first");
                goto fail;
            }
            p->nside++;
        }
        if (a->src == FF_SRC_SECURITY) {
            PyObject *challenge, *cls;
            if (!PyTuple_Check(sec) ||
                !PyArg_ParseTuple(sec, "iUO:Plan security", &a->sec_kind, &challenge, &cls))
                goto fail;
            if (a->sec_kind < FF_SEC_KEY_HEADER || a->sec_kind > FF_SEC_BASIC) {
                PyErr_Format(PyExc_ValueError, "bad security kind %d", a->sec_kind);
                goto fail;
            }
            a->challenge = Py_NewRef(challenge);
            a->sec_cls = Py_NewRef(cls);
        }
        a->name = Py_NewRef(name);
        a->loc_name = Py_NewRef(loc);
        if (!(a->key = PyUnicode_AsUTF8AndSize(loc, &a->key_len)))
            goto fail;
        if (schema != Py_None) {
            ff_state *st = PyType_GetModuleState(type);
            if (!Py_IS_TYPE(schema, st->Schema_type)) {
                PyErr_SetString(PyExc_TypeError, "Plan arg schema must be a Schema");
                goto fail;
            }
            a->schema = Py_NewRef(schema);
            a->type = ((ff_Schema *)schema)->root;
        }
        a->default_value = Py_NewRef(def);
        a->dep = dep == Py_None ? NULL : Py_NewRef(dep);
        if ((a->src == FF_SRC_DEP && (!a->dep || !Py_IS_TYPE(a->dep, type))) ||
            ((a->src <= FF_SRC_BODY || a->src == FF_SRC_FORM || a->src == FF_SRC_FORM_MODEL) &&
             !a->schema)) {
            PyErr_Format(PyExc_ValueError, "Plan arg %R is incomplete", name);
            goto fail;
        }
    }
    if (n > p->nside) {
        if (!(names = PyTuple_New(n - p->nside)))
            goto fail;
        for (Py_ssize_t i = p->nside; i < n; i++)
            PyTuple_SET_ITEM(names, i - p->nside, Py_NewRef(p->args[i].name));
        p->kwnames = names;
    }
    return (PyObject *)p;
fail:
    Py_XDECREF(names);
    Py_DECREF(p);
    return NULL;
}

static PyType_Slot plan_slots[] = {
    {Py_tp_new, plan_new},
    {Py_tp_dealloc, plan_dealloc},
    {Py_tp_traverse, plan_traverse},
    {Py_tp_clear, plan_clear},
    {Py_tp_doc, "A compiled binding plan (made by frostfork.app at registration)."},
    {0, NULL},
};

PyType_Spec ff_plan_spec = {
    .name = "frostfork.Plan",
    .basicsize = sizeof(ff_Plan),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = plan_slots,
};

/* ---- per-request binding ---- */

void ff_bind_init(ff_bind *b, ff_state *st, const ff_req *r, const ff_slice *caps, size_t ncaps,
                  PyObject *path_names)
{
    b->st = st;
    b->r = r;
    b->caps = caps;
    b->ncaps = ncaps;
    ff_dec_init(&b->dec, st, r->body, r->body_len, NULL);
    b->dec.secrets = st->secrets;
    b->body = NULL;
    b->body_state = 0;
    b->request = NULL;
    b->websocket = NULL;
    b->path_names = path_names;
    b->query = b->query_inline;
    b->nquery = -1;
    b->query_cap = FF_BIND_QUERY_INLINE;
    b->query_buf = NULL;
    b->deps = b->deps_inline;
    b->ndeps = 0;
    b->deps_cap = FF_BIND_DEPS_INLINE;
    b->unauth = 0;
    b->challenge = NULL;
    b->gens = NULL;
    b->form = NULL;
    b->form_status = 0;
    b->form_msg = NULL;
}

void ff_bind_free(ff_bind *b)
{
    ff_dec_free(&b->dec);
    Py_CLEAR(b->body);
    Py_CLEAR(b->request);
    Py_CLEAR(b->gens);
    Py_CLEAR(b->form);
    for (int i = 0; i < b->ndeps; i++)
        Py_CLEAR(b->deps[i].value);
    if (b->deps != b->deps_inline)
        PyMem_Free(b->deps);
    if (b->query != b->query_inline)
        PyMem_Free(b->query);
    PyMem_Free(b->query_buf);
}

static int fatal(ff_bind *b)
{
    return b->dec.in.err || b->unauth || b->form_status || PyErr_Occurred();
}

/* application/x-www-form-urlencoded decoding: '+' is a space, bad escapes
 * stay as written. */
static size_t form_decode(char *dst, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            dst[o++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && ff_hexval(s[i + 1]) >= 0 && ff_hexval(s[i + 2]) >= 0) {
            dst[o++] = (char)(ff_hexval(s[i + 1]) * 16 + ff_hexval(s[i + 2]));
            i += 2;
        } else {
            dst[o++] = s[i];
        }
    }
    return o;
}

/* Called when the query has more pairs than the inline array holds: moves
 * the pairs to a heap array big enough for every pair still to come (at
 * most one per '&' left, plus one), so this happens once per request. */
static int grow_query(ff_bind *b, const char *s, const char *end)
{
    size_t more = 1;
    for (const char *p = s; (p = memchr(p, '&', (size_t)(end - p))) != NULL; p++)
        more++;
    size_t cap = (size_t)b->query_cap + more;
    if (cap > INT_MAX) {
        PyErr_NoMemory();
        return -1;
    }
    ff_pair *q = PyMem_Malloc(cap * sizeof(ff_pair));
    if (!q) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(q, b->query, (size_t)b->nquery * sizeof(ff_pair));
    if (b->query != b->query_inline)
        PyMem_Free(b->query);
    b->query = q;
    b->query_cap = (int)cap;
    return 0;
}

/* Splits and decodes the query string once per request, on first use. Every
 * pair is kept: the request line's length limit (414) is what bounds them. */
static int parse_query(ff_bind *b)
{
    const ff_http_request *h = b->r->http;
    b->nquery = 0;
    if (!h->query || !h->query_len)
        return 0;
    if (!(b->query_buf = PyMem_Malloc(h->query_len))) {
        PyErr_NoMemory();
        return -1;
    }
    const char *s = h->query, *end = h->query + h->query_len;
    char *out = b->query_buf;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(s, '=', (size_t)(stop - s));
        if (stop > s) {
            if (b->nquery == b->query_cap && grow_query(b, s, end) < 0)
                return -1;
            ff_pair *pr = &b->query[b->nquery++];
            const char *kend = eq ? eq : stop;
            pr->k = out;
            pr->kn = form_decode(out, s, (size_t)(kend - s));
            out += pr->kn;
            pr->v = out;
            pr->vn = eq ? form_decode(out, eq + 1, (size_t)(stop - eq - 1)) : 0;
            out += pr->vn;
        }
        s = stop + 1;
    }
    return 0;
}

/* The raw values of a query key, header or cookie: the first `cap` are
 * stored in `found`, and matching stops after `max` of them. Returns how
 * many matched (which may exceed cap, so a caller can make room and ask
 * again), or -1 with an exception. */
static int gather(ff_bind *b, const ff_arg *a, ff_pair *found, int cap, int max)
{
    int n = 0;
#define FOUND(pair)              \
    do {                         \
        if (n < cap)             \
            found[n] = (pair);   \
        n++;                     \
    } while (0)
    const ff_http_request *h = b->r->http;
    if (a->src == FF_SRC_QUERY) {
        if (b->nquery < 0 && parse_query(b) < 0)
            return -1;
        for (int i = 0; i < b->nquery && n < max; i++)
            if (b->query[i].kn == (size_t)a->key_len && memcmp(b->query[i].k, a->key, b->query[i].kn) == 0)
                FOUND(b->query[i]);
    } else if (a->src == FF_SRC_HEADER) {
        for (size_t i = 0; i < h->num_headers && n < max; i++)
            if (h->headers[i].name_len == (size_t)a->key_len &&
                strncasecmp(h->headers[i].name, a->key, (size_t)a->key_len) == 0)
                FOUND(((ff_pair){NULL, 0, h->headers[i].value, h->headers[i].value_len}));
    } else { /* cookie: "a=1; b=2" in any Cookie field */
        for (size_t i = 0; i < h->num_headers && n < max; i++) {
            if (h->headers[i].name_len != 6 || strncasecmp(h->headers[i].name, "cookie", 6) != 0)
                continue;
            const char *s = h->headers[i].value, *end = s + h->headers[i].value_len;
            while (s < end && n < max) {
                while (s < end && (*s == ' ' || *s == ';'))
                    s++;
                const char *semi = memchr(s, ';', (size_t)(end - s));
                const char *next = semi ? semi : end;
                const char *eq = memchr(s, '=', (size_t)(next - s));
                if (eq && (size_t)(eq - s) == (size_t)a->key_len && memcmp(s, a->key, (size_t)a->key_len) == 0)
                    FOUND(((ff_pair){NULL, 0, eq + 1, (size_t)(next - eq - 1)}));
                s = next;
            }
        }
    }
#undef FOUND
    return n;
}

/* ("query", "page"), ("header", "x-id") ...; the whole body is just ("body",). */
static PyObject *loc_prefix(const ff_arg *a)
{
    if (a->src == FF_SRC_BODY)
        return Py_BuildValue("(s)", "body");
    return Py_BuildValue("(sO)", SRC_NAMES[a->src], a->loc_name);
}

/* A str converted to the arg's type (an item of it for lists, at `index`);
 * str NULL means the text was not UTF-8. Failures become 422 entries. */
static PyObject *convert_value(ff_bind *b, const ff_arg *a, PyObject *str, Py_ssize_t index)
{
    PyObject *prefix = loc_prefix(a);
    if (!prefix)
        return NULL;
    if (index >= 0) {
        PyObject *i = PyLong_FromSsize_t(index);
        Py_SETREF(prefix, i ? Py_BuildValue("(sOO)", SRC_NAMES[a->src], a->loc_name, i) : NULL);
        Py_XDECREF(i);
        if (!prefix)
            return NULL;
    }
    b->dec.prefix = prefix;
    PyObject *v = NULL;
    if (!str)
        ff_dec_error(&b->dec, "string_unicode",
                     PyUnicode_FromString("Input should be a valid string, unable to parse raw "
                                          "data as a unicode string"),
                     NULL, NULL);
    else
        v = ff_convert_str(&b->dec, a->type, str);
    b->dec.prefix = NULL;
    Py_DECREF(prefix);
    return v;
}

/* Text from the URL or a header, made a str and converted (see
 * convert_value). */
static PyObject *convert(ff_bind *b, const ff_arg *a, const char *s, size_t n, Py_ssize_t index)
{
    PyObject *str = PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "strict");
    if (!str && !PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
        return NULL;
    PyErr_Clear();
    PyObject *v = convert_value(b, a, str, index);
    Py_XDECREF(str);
    return v;
}

static PyObject *missing(ff_bind *b, const ff_arg *a)
{
    if (!a->required)
        return Py_NewRef(a->default_value);
    PyObject *prefix = loc_prefix(a);
    if (!prefix)
        return NULL;
    b->dec.prefix = prefix;
    ff_dec_error(&b->dec, "missing", PyUnicode_FromString("Field required"), NULL, NULL);
    b->dec.prefix = NULL;
    Py_DECREF(prefix);
    return NULL;
}

/* Adds a converted item (stolen; NULL when it failed, counted in *bad) to
 * list. Returns list, or NULL with list released when the failure was fatal
 * or the append failed. */
static PyObject *add_item(ff_bind *b, PyObject *list, PyObject *v, int *bad)
{
    *bad |= v == NULL;
    if ((!v && fatal(b)) || (v && PyList_Append(list, v) < 0))
        Py_CLEAR(list);
    Py_XDECREF(v);
    return list;
}

/* A query/header/cookie argument: the first value, or for a list every
 * value given (more than fit on the stack are gathered again into a heap
 * array: nothing is dropped). */
static PyObject *from_pairs(ff_bind *b, const ff_arg *a)
{
    ff_pair stack[FF_BIND_QUERY_INLINE], *found = stack;
    int n = a->is_list ? gather(b, a, stack, FF_BIND_QUERY_INLINE, INT_MAX)
                       : gather(b, a, stack, 1, 1);
    if (n < 0)
        return NULL;
    if (n == 0)
        return missing(b, a);
    if (!a->is_list)
        return convert(b, a, found[0].v, found[0].vn, -1);
    if (n > FF_BIND_QUERY_INLINE) {
        if (!(found = PyMem_Malloc((size_t)n * sizeof(ff_pair))))
            return PyErr_NoMemory();
        gather(b, a, found, n, n);
    }
    PyObject *list = PyList_New(0);
    int bad = 0;
    for (int i = 0; list && i < n; i++) {
        list = add_item(b, list, convert(b, a, found[i].v, found[i].vn, i), &bad);
    }
    if (bad)
        Py_CLEAR(list);
    if (found != stack)
        PyMem_Free(found);
    return list;
}

static PyObject *from_path(ff_bind *b, const ff_arg *a)
{
    const ff_slice *c = &b->caps[a->capture];
    char stack[256];
    char *tmp = c->n <= sizeof stack ? stack : PyMem_Malloc(c->n);
    if (!tmp)
        return PyErr_NoMemory();
    long n = ff_percent_decode(tmp, c->p, c->n);
    PyObject *v = n < 0 ? convert(b, a, c->p, c->n, -1) : convert(b, a, tmp, (size_t)n, -1);
    if (tmp != stack)
        PyMem_Free(tmp);
    return v;
}

/* The body, decoded once with the plan's whole-body type. */
static int ensure_body(ff_bind *b, PyObject *schema, int embedded)
{
    if (b->body_state)
        return b->body_state;
    static const char empty_object[] = "{}";
    const char *buf = b->r->body;
    size_t len = b->r->body_len;
    if (len == 0 && embedded) {
        buf = empty_object;
        len = 2;
    }
    PyObject *prefix = Py_BuildValue("(s)", "body");
    if (!prefix)
        return -1;
    ff_dec_reset_input(&b->dec, buf, len, prefix);
    b->body = ff_json_decode(&b->dec, ((ff_Schema *)schema)->root);
    b->dec.prefix = NULL;
    Py_DECREF(prefix);
    b->body_state = b->body ? 1 : -1;
    return b->body_state;
}

/* The body read as a form, once per request; a refused one (400/413) is
 * fatal for the request like invalid JSON. Returns 0 or -1. */
static int ensure_form(ff_bind *b)
{
    if (b->form)
        return 0;
    if (b->form_status)
        return -1;
    int rc = ff_form_read(b->st, b->r, &b->form, &b->form_msg);
    if (rc > 0)
        b->form_status = rc;
    return rc == 0 ? 0 : -1;
}

/* A Form() field: its text values (files sent under the name are passed
 * over), the first or all of them, converted as query values are. A File
 * parameter: the UploadFile values. */
static PyObject *from_form(ff_bind *b, const ff_arg *a)
{
    if (ensure_form(b) < 0)
        return NULL;
    PyObject *got = PyDict_GetItemWithError(b->form, a->loc_name);
    if (!got && PyErr_Occurred())
        return NULL;
    PyObject *list = PyList_New(0);
    Py_ssize_t n = got ? PyList_GET_SIZE(got) : 0;
    int want_file = a->src == FF_SRC_FILE, bad = 0;
    for (Py_ssize_t i = 0; list && i < n; i++) {
        PyObject *item = PyList_GET_ITEM(got, i);
        if (want_file != Py_IS_TYPE(item, b->st->UploadFile_type))
            continue;
        if (!a->is_list && PyList_GET_SIZE(list) == 1)
            break;
        list = add_item(b, list,
                        want_file ? Py_NewRef(item)
                                  : convert_value(b, a, item, a->is_list ? PyList_GET_SIZE(list) : -1),
                        &bad);
    }
    if (!list)
        return NULL;
    if (bad) {
        Py_DECREF(list);
        return NULL;
    }
    if (PyList_GET_SIZE(list) == 0) {
        Py_DECREF(list);
        return missing(b, a);
    }
    if (a->is_list)
        return list;
    PyObject *first = Py_NewRef(PyList_GET_ITEM(list, 0));
    Py_DECREF(list);
    return first;
}

static PyObject *form_model(ff_bind *b, const ff_arg *a)
{
    if (ensure_form(b) < 0)
        return NULL;
    PyObject *prefix = Py_BuildValue("(s)", "body");
    if (!prefix)
        return NULL;
    b->dec.prefix = prefix;
    PyObject *v = ff_convert_model(&b->dec, a->type, b->form);
    b->dec.prefix = NULL;
    Py_DECREF(prefix);
    return v;
}

static PyObject *resolve_dep(ff_bind *b, ff_Plan *p);
static int grow_deps(ff_bind *b);

/* Made once per request, on first use (a handler, a dependency, middleware
 * or an exception handler may ask), with the path parameters decoded. */
PyObject *ff_bind_request(ff_bind *b)
{
    if (!b->request) {
        PyObject *params = PyDict_New();
        for (size_t i = 0; params && i < b->ncaps; i++) {
            const ff_slice *c = &b->caps[i];
            char *tmp = PyMem_Malloc(c->n + 1);
            long n = tmp ? ff_percent_decode(tmp, c->p, c->n) : -1;
            PyObject *s = n < 0 ? PyUnicode_DecodeLatin1(c->p, (Py_ssize_t)c->n, NULL)
                                : PyUnicode_DecodeUTF8(tmp, n, "surrogateescape");
            PyMem_Free(tmp);
            if (!s || PyDict_SetItem(params, PyTuple_GET_ITEM(b->path_names, (Py_ssize_t)i), s) < 0)
                Py_CLEAR(params);
            Py_XDECREF(s);
        }
        b->request = params ? ff_request_new(b->st, b->r, params) : NULL;
        Py_XDECREF(params);
    }
    return Py_XNewRef(b->request);
}

/* A credential value joins the request's secrets: tracebacks and log lines
 * of this request show it masked. */
static int keep_secret(ff_bind *b, PyObject *s)
{
    return PyUnicode_GET_LENGTH(s) ? PyList_Append(b->st->secrets, s) : 0;
}

/* "user:password" from the base64 of a Basic credential, made into the
 * scheme's class; NULL without an exception when it is malformed. */
static PyObject *basic_credentials(ff_bind *b, const ff_arg *a, const char *s, size_t n)
{
    PyObject *raw = PyBytes_FromStringAndSize(s, (Py_ssize_t)n);
    PyObject *dec = raw ? PyObject_CallOneArg(b->st->b64decode, raw) : NULL;
    Py_XDECREF(raw);
    if (!dec) {
        if (PyErr_ExceptionMatches(PyExc_ValueError)) /* binascii.Error */
            PyErr_Clear();
        return NULL;
    }
    const char *d = PyBytes_AS_STRING(dec);
    Py_ssize_t dn = PyBytes_GET_SIZE(dec);
    const char *colon = memchr(d, ':', (size_t)dn);
    PyObject *res = NULL;
    if (colon) {
        PyObject *user = PyUnicode_DecodeUTF8(d, colon - d, "strict");
        PyObject *pw = user ? PyUnicode_DecodeUTF8(colon + 1, dn - (colon - d) - 1, "strict")
                            : NULL;
        if (pw && keep_secret(b, pw) == 0)
            res = PyObject_CallFunctionObjArgs(a->sec_cls, user, pw, NULL);
        Py_XDECREF(user);
        Py_XDECREF(pw);
        if (!res && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
            PyErr_Clear();
    }
    Py_DECREF(dec);
    return res;
}

/* A security scheme's credential: an API key as str, or an Authorization
 * header made into HTTPAuthorizationCredentials / HTTPBasicCredentials.
 * Missing (or for HTTP schemes, another scheme's or malformed) without
 * auto_error is the default; with it, the request is answered 401. */
static PyObject *from_security(ff_bind *b, const ff_arg *a)
{
    ff_arg look = *a;
    look.src = a->sec_kind == FF_SEC_KEY_QUERY    ? FF_SRC_QUERY
               : a->sec_kind == FF_SEC_KEY_COOKIE ? FF_SRC_COOKIE
                                                  : FF_SRC_HEADER;
    ff_pair found = {NULL, 0, NULL, 0};
    int n = gather(b, &look, &found, 1, 1);
    if (n < 0)
        return NULL;
    PyObject *res = NULL;
    int bad = 0;
    const char *v = found.v;
    size_t vn = n ? found.vn : 0;
    if (vn == 0) {
        bad = 1;
    } else if (a->sec_kind <= FF_SEC_KEY_COOKIE) {
        res = look.src == FF_SRC_HEADER ? PyUnicode_DecodeLatin1(v, (Py_ssize_t)vn, NULL)
                                        : PyUnicode_DecodeUTF8(v, (Py_ssize_t)vn, "strict");
        if (!res && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
            PyErr_Clear();
            bad = 2;
        }
    } else {
        const char *sp = memchr(v, ' ', vn);
        const char *want = a->sec_kind == FF_SEC_BEARER ? "bearer" : "basic";
        size_t sl = sp ? (size_t)(sp - v) : vn;
        const char *cred = sp ? sp + 1 : v + vn;
        while (cred < v + vn && *cred == ' ')
            cred++;
        size_t cn = (size_t)(v + vn - cred);
        if (sl != strlen(want) || strncasecmp(v, want, sl) != 0 || cn == 0) {
            bad = 1;
        } else if (a->sec_kind == FF_SEC_BEARER) {
            PyObject *scheme = PyUnicode_DecodeLatin1(v, (Py_ssize_t)sl, NULL);
            PyObject *token = scheme ? PyUnicode_DecodeLatin1(cred, (Py_ssize_t)cn, NULL) : NULL;
            if (token && keep_secret(b, token) == 0)
                res = PyObject_CallFunctionObjArgs(a->sec_cls, scheme, token, NULL);
            Py_XDECREF(scheme);
            Py_XDECREF(token);
        } else if (!(res = basic_credentials(b, a, cred, cn)) && !PyErr_Occurred()) {
            bad = 2;
        }
    }
    if (res && PyUnicode_Check(res) && keep_secret(b, res) < 0)
        Py_CLEAR(res);
    if (!bad)
        return res;
    if (!a->required)
        return Py_NewRef(a->default_value);
    b->unauth = bad;
    b->challenge = a->challenge;
    return NULL;
}

static PyObject *arg_value(ff_bind *b, ff_Plan *plan, const ff_arg *a)
{
    switch (a->src) {
    case FF_SRC_PATH:
        return from_path(b, a);
    case FF_SRC_QUERY:
    case FF_SRC_HEADER:
    case FF_SRC_COOKIE:
        return from_pairs(b, a);
    case FF_SRC_BODY:
        if (b->r->body_len == 0)
            return missing(b, a);
        return ensure_body(b, a->schema, 0) > 0 ? Py_NewRef(b->body) : NULL;
    case FF_SRC_BODY_FIELD: {
        if (ensure_body(b, plan->body_schema, 1) <= 0)
            return NULL;
        PyObject *v = PyDict_GetItemWithError(b->body, a->name);
        return v ? Py_NewRef(v) : PyErr_Occurred() ? NULL : Py_NewRef(a->default_value);
    }
    case FF_SRC_REQUEST:
        return ff_bind_request(b);
    case FF_SRC_SECURITY:
        return from_security(b, a);
    case FF_SRC_DEP:
        return resolve_dep(b, (ff_Plan *)a->dep);
    case FF_SRC_FORM:
    case FF_SRC_FILE:
        return from_form(b, a);
    case FF_SRC_FORM_MODEL:
        return form_model(b, a);
    case FF_SRC_WEBSOCKET:
        if (!b->websocket) {
            PyErr_SetString(PyExc_RuntimeError, "a WebSocket parameter outside a websocket route");
            return NULL;
        }
        return Py_NewRef(b->websocket);
    }
    return NULL;
}

/* Doubles the request's dependency cache, moving it to the heap: every
 * request-scoped dependency is remembered, so each is made once per request
 * however many a handler needs. */
static int grow_deps(ff_bind *b)
{
    if (b->deps_cap > INT_MAX / 2) {
        PyErr_NoMemory();
        return -1;
    }
    int cap = b->deps_cap * 2;
    ff_bind_dep *d = PyMem_Malloc((size_t)cap * sizeof(ff_bind_dep));
    if (!d) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(d, b->deps, (size_t)b->ndeps * sizeof(ff_bind_dep));
    if (b->deps != b->deps_inline)
        PyMem_Free(b->deps);
    b->deps = d;
    b->deps_cap = cap;
    return 0;
}

/* A generator dependency: its first yield is the value, remembered for the
 * request like any request-scoped dependency; the generator is kept for
 * ff_bind_finish. Takes the generator's reference. */
static PyObject *first_yield(ff_bind *b, ff_Plan *p, PyObject *gen)
{
    PyObject *v = PyIter_Check(gen) ? PyIter_Next(gen) : NULL;
    if (!v && !PyErr_Occurred())
        PyErr_Format(PyExc_RuntimeError, "dependency %U %s", p->label,
                     PyIter_Check(gen) ? "did not yield a value" : "is not a generator");
    if (v && ((!b->gens && !(b->gens = PyList_New(0))) || PyList_Append(b->gens, gen) < 0))
        Py_CLEAR(v);
    Py_DECREF(gen);
    if (!v)
        return NULL;
    if (b->ndeps == b->deps_cap && grow_deps(b) < 0) {
        Py_DECREF(v);
        return NULL;
    }
    b->deps[b->ndeps].plan = p;
    b->deps[b->ndeps++].value = Py_NewRef(v);
    return v;
}

/* A dependency: app scope is made once per worker and kept; request scope
 * once per request (shared by everything in it) and, when it has close(),
 * closed after the response is written — also when the handler raised. */
static PyObject *resolve_dep(ff_bind *b, ff_Plan *p)
{
    if (p->app_scope && p->app_value)
        return Py_NewRef(p->app_value);
    for (int i = 0; i < b->ndeps; i++)
        if (b->deps[i].plan == p)
            return Py_NewRef(b->deps[i].value);
    PyObject *v = ff_plan_call(b, p);
    if (!v)
        return NULL;
    if (p->generator) /* the value is what it yields; the rest runs after the response */
        return first_yield(b, p, v);
    if (p->app_scope) {
        p->app_value = Py_NewRef(v);
        return v;
    }
    if (b->ndeps == b->deps_cap && grow_deps(b) < 0) {
        Py_DECREF(v);
        return NULL;
    }
    b->deps[b->ndeps].plan = p;
    b->deps[b->ndeps++].value = Py_NewRef(v);
    PyObject *close = PyObject_GetAttr(v, b->st->str_close);
    if (close) {
        int rc = ff_defer(b->st, close, b->st->empty_tuple);
        Py_DECREF(close);
        if (rc < 0) {
            Py_DECREF(v);
            return NULL;
        }
    } else if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
    } else {
        Py_DECREF(v);
        return NULL;
    }
    return v;
}

/* Builds every argument of the plan (collecting all 422 errors before
 * giving up) and calls its callable. A callable with more parameters than
 * the stack array holds gets a heap array for the call. */
PyObject *ff_plan_call(ff_bind *b, ff_Plan *p)
{
    PyObject *stack[STACK_ARGS + 1] = {NULL};
    PyObject **base = stack;
    if (p->nargs > STACK_ARGS && !(base = PyMem_Calloc((size_t)p->nargs + 1, sizeof(PyObject *))))
        return PyErr_NoMemory();
    PyObject **args = base + 1; /* base[0] is scratch for PY_VECTORCALL_ARGUMENTS_OFFSET */
    Py_ssize_t built = 0;
    int bad = 0;
    PyObject *res = NULL;
    for (; built < p->nargs; built++) {
        args[built] = arg_value(b, p, &p->args[built]);
        if (!args[built]) {
            if (fatal(b)) {
                built++;
                goto done;
            }
            bad = 1;
        }
    }
    /* the side-effect dependencies' values are built (checked) but not passed;
     * args[nside - 1] is theirs, so it may serve as the vectorcall scratch slot */
    if (!bad)
        res = PyObject_Vectorcall(p->callable, args + p->nside,
                                  (size_t)0 | PY_VECTORCALL_ARGUMENTS_OFFSET, p->kwnames);
done:
    for (Py_ssize_t i = 0; i < built; i++)
        Py_XDECREF(args[i]);
    if (base != stack)
        PyMem_Free(base);
    return res;
}

/* ---- generator dependencies ---- */

/* _finish_dependency(gen, exc): resumes a generator dependency once the
 * response is written: sends None, or throws the handler's exception in.
 * Finishing (StopIteration, or re-raising that same exception) is quiet; a
 * second yield or another exception is reported by the finalizer runner. */
static PyObject *finish_dependency(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_finish_dependency(gen, exc)");
        return NULL;
    }
    PyObject *gen = args[0], *exc = args[1], *res = NULL;
    if (exc == Py_None) {
        PySendResult r = PyIter_Send(gen, Py_None, &res);
        if (r == PYGEN_RETURN) {
            Py_DECREF(res);
            Py_RETURN_NONE;
        }
        if (r == PYGEN_ERROR)
            return NULL;
    } else {
        res = PyObject_CallMethod(gen, "throw", "O", exc);
        if (!res) {
            PyObject *type, *value, *tb;
            PyErr_Fetch(&type, &value, &tb);
            PyErr_NormalizeException(&type, &value, &tb);
            int quiet = value == exc || (value && PyErr_GivenExceptionMatches(
                                                      value, PyExc_StopIteration));
            if (quiet) {
                Py_XDECREF(type);
                Py_XDECREF(value);
                Py_XDECREF(tb);
                Py_RETURN_NONE;
            }
            PyErr_Restore(type, value, tb);
            return NULL;
        }
    }
    Py_DECREF(res);
    PyObject *close = PyObject_CallMethod(gen, "close", NULL);
    Py_XDECREF(close);
    if (close)
        PyErr_SetString(PyExc_RuntimeError, "a dependency generator yielded more than once");
    return NULL;
}

static PyMethodDef finish_def = {"_finish_dependency", (PyCFunction)(void (*)(void))finish_dependency,
                                 METH_FASTCALL, "resume a generator dependency after its request"};

int ff_bind_finish(ff_bind *b, PyObject *exc)
{
    if (!b->gens)
        return 0;
    PyObject *fn = PyCFunction_New(&finish_def, NULL);
    if (!fn)
        return -1;
    int rc = 0;
    for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(b->gens); i++) {
        PyObject *args = PyTuple_Pack(2, PyList_GET_ITEM(b->gens, i), exc ? exc : Py_None);
        rc = args ? ff_defer(b->st, fn, args) : -1;
        Py_XDECREF(args);
    }
    Py_DECREF(fn);
    Py_CLEAR(b->gens);
    return rc;
}
