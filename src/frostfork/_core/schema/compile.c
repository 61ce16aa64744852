/* schema/compile.c — typenode.Node tree -> ff_type tree, once per type.
 *
 * Reads each Node's attributes a single time and keeps what validation needs
 * in C structs: constraint bits, bounds, field tables with UTF-8 keys,
 * member offsets of frostfork.Model slots. Recursive models are allowed: a
 * memo maps each Node to its ff_type so a cycle closes on itself. */
#include "schema/type.h"

#include <structmember.h>

static const struct { const char *name; ff_kind kind; unsigned tokens; } KINDS[] = {
    {"any", FF_T_ANY, FF_TOK_ALL},         {"none", FF_T_NONE, FF_TOK_NULL},
    {"bool", FF_T_BOOL, FF_TOK_BOOL},      {"int", FF_T_INT, FF_TOK_NUM},
    {"float", FF_T_FLOAT, FF_TOK_NUM},     {"str", FF_T_STR, FF_TOK_STR},
    {"bytes", FF_T_BYTES, FF_TOK_STR},     {"datetime", FF_T_DATETIME, FF_TOK_STR},
    {"date", FF_T_DATE, FF_TOK_STR},       {"time", FF_T_TIME, FF_TOK_STR},
    {"uuid", FF_T_UUID, FF_TOK_STR},       {"decimal", FF_T_DECIMAL, FF_TOK_NUM | FF_TOK_STR},
    {"list", FF_T_LIST, FF_TOK_ARR},       {"set", FF_T_SET, FF_TOK_ARR},
    {"frozenset", FF_T_FROZENSET, FF_TOK_ARR}, {"vartuple", FF_T_VARTUPLE, FF_TOK_ARR},
    {"tuple", FF_T_TUPLE, FF_TOK_ARR},     {"dict", FF_T_DICT, FF_TOK_OBJ},
    {"union", FF_T_UNION, 0},              {"literal", FF_T_LITERAL, 0},
    {"enum", FF_T_ENUM, 0},                {"model", FF_T_MODEL, FF_TOK_OBJ},
};

typedef struct {
    ff_Schema *owner;
    PyObject *memo; /* Node -> PyLong(ff_type *) */
    PyObject *re_compile;
} compiler;

static ff_type *new_type(compiler *c)
{
    ff_Schema *s = c->owner;
    if (s->narena == s->cap) {
        Py_ssize_t cap = s->cap ? s->cap * 2 : 8;
        ff_type **a = PyMem_Realloc(s->arena, (size_t)cap * sizeof(*a));
        if (!a)
            return (ff_type *)PyErr_NoMemory();
        s->arena = a;
        s->cap = cap;
    }
    ff_type *t = PyMem_Calloc(1, sizeof(*t));
    if (!t)
        return (ff_type *)PyErr_NoMemory();
    t->min_len = t->max_len = -1;
    s->arena[s->narena++] = t;
    return t;
}

static void free_type(ff_type *t)
{
    Py_XDECREF(t->gt);
    Py_XDECREF(t->ge);
    Py_XDECREF(t->lt);
    Py_XDECREF(t->le);
    Py_XDECREF(t->mult);
    Py_XDECREF(t->pattern_search);
    Py_XDECREF(t->pattern_src);
    Py_XDECREF(t->values);
    Py_XDECREF(t->cls);
    for (Py_ssize_t i = 0; i < t->nfields; i++) {
        Py_XDECREF(t->fields[i].name);
        Py_XDECREF(t->fields[i].default_value);
        Py_XDECREF(t->fields[i].default_factory);
    }
    for (Py_ssize_t i = 0; i < t->nlate; i++) {
        Py_XDECREF(t->late[i].name);
        Py_XDECREF(t->late[i].default_value);
        Py_XDECREF(t->late[i].default_factory);
    }
    PyMem_Free(t->fields);
    PyMem_Free(t->late);
    PyMem_Free(t->args);
    PyMem_Free(t);
}

static ff_type *compile_node(compiler *c, PyObject *node);

static int get_bound(PyObject *cons, const char *key, PyObject **obj, double *f, unsigned bit,
                     unsigned *flags)
{
    PyObject *v = PyDict_GetItemString(cons, key); /* borrowed */
    if (!v)
        return 0;
    double d = PyFloat_AsDouble(v);
    if (d == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        d = 0; /* Decimal bounds still compare exactly through *obj */
    }
    *obj = Py_NewRef(v);
    *f = d;
    *flags |= bit;
    return 0;
}

static int compile_constraints(compiler *c, ff_type *t, PyObject *node)
{
    PyObject *cons = PyObject_GetAttrString(node, "constraints");
    if (!cons)
        return -1;
    int rc = -1;
    if (!PyDict_Check(cons)) {
        PyErr_SetString(PyExc_TypeError, "Node.constraints must be a dict");
        goto done;
    }
    get_bound(cons, "gt", &t->gt, &t->fgt, FF_C_GT, &t->cons);
    get_bound(cons, "ge", &t->ge, &t->fge, FF_C_GE, &t->cons);
    get_bound(cons, "lt", &t->lt, &t->flt, FF_C_LT, &t->cons);
    get_bound(cons, "le", &t->le, &t->fle, FF_C_LE, &t->cons);
    get_bound(cons, "multiple_of", &t->mult, &t->fmult, FF_C_MULT, &t->cons);
    PyObject *v;
    if ((v = PyDict_GetItemString(cons, "min_len"))) {
        t->min_len = PyLong_AsSsize_t(v);
        t->cons |= FF_C_MINLEN;
    }
    if ((v = PyDict_GetItemString(cons, "max_len"))) {
        t->max_len = PyLong_AsSsize_t(v);
        t->cons |= FF_C_MAXLEN;
    }
    if (PyErr_Occurred())
        goto done;
    if ((v = PyDict_GetItemString(cons, "pattern"))) {
        PyObject *pat = PyObject_CallOneArg(c->re_compile, v);
        if (!pat)
            goto done;
        t->pattern_search = PyObject_GetAttrString(pat, "search");
        Py_DECREF(pat);
        if (!t->pattern_search)
            goto done;
        t->pattern_src = Py_NewRef(v);
        t->cons |= FF_C_PATTERN;
    }
    rc = 0;
done:
    Py_DECREF(cons);
    return rc;
}

static int compile_args(compiler *c, ff_type *t, PyObject *node)
{
    PyObject *args = PyObject_GetAttrString(node, "args");
    if (!args)
        return -1;
    PyObject *seq = PySequence_Fast(args, "Node.args must be a sequence");
    Py_DECREF(args);
    if (!seq)
        return -1;
    t->nargs = PySequence_Fast_GET_SIZE(seq);
    t->args = PyMem_Calloc((size_t)t->nargs + 1, sizeof(ff_type *));
    int rc = t->args ? 0 : -1;
    for (Py_ssize_t i = 0; rc == 0 && i < t->nargs; i++)
        if (!(t->args[i] = compile_node(c, PySequence_Fast_GET_ITEM(seq, i))))
            rc = -1;
    Py_DECREF(seq);
    return rc;
}

/* JSON tokens a literal/enum value can come from. */
static unsigned value_tokens(PyObject *v)
{
    if (v == Py_None)
        return FF_TOK_NULL;
    if (PyBool_Check(v))
        return FF_TOK_BOOL;
    if (PyLong_Check(v) || PyFloat_Check(v))
        return FF_TOK_NUM;
    if (PyUnicode_Check(v))
        return FF_TOK_STR;
    return FF_TOK_ALL;
}

static int compile_values(ff_type *t, PyObject *node)
{
    PyObject *values = PyObject_GetAttrString(node, "values");
    if (!values)
        return -1;
    PyObject *tuple = PySequence_Tuple(values);
    Py_DECREF(values);
    if (!tuple)
        return -1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(tuple); i++)
        t->token_mask |= value_tokens(PyTuple_GET_ITEM(tuple, i));
    if (t->kind == FF_T_LITERAL) {
        t->values = tuple;
        return 0;
    }
    /* ENUM: value -> member, built from the class so aliases resolve */
    PyObject *map = PyDict_New();
    PyObject *members = map ? PyObject_GetIter(t->cls) : NULL;
    PyObject *m;
    int rc = members ? 0 : -1;
    while (rc == 0 && members && (m = PyIter_Next(members))) {
        PyObject *val = PyObject_GetAttrString(m, "value");
        rc = val ? PyDict_SetItem(map, val, m) : -1;
        Py_XDECREF(val);
        Py_DECREF(m);
    }
    Py_XDECREF(members);
    Py_DECREF(tuple);
    if (rc < 0 || PyErr_Occurred()) {
        Py_XDECREF(map);
        return -1;
    }
    t->values = map;
    return 0;
}

/* One field of a model (or a dataclass's init=False field with a default,
 * which the decoder sets without reading it): its name and key text, whether
 * it is required, its default, its type and, on a frostfork.Model, its slot. */
static int compile_field(compiler *c, ff_type *t, PyObject *f, ff_field *fd, PyObject *missing)
{
    PyObject *fnode = PyObject_GetAttrString(f, "node");
    PyObject *def = fnode ? PyObject_GetAttrString(f, "default") : NULL;
    PyObject *fac = def ? PyObject_GetAttrString(f, "default_factory") : NULL;
    fd->name = fac ? PyObject_GetAttrString(f, "name") : NULL;
    if (fd->name && !PyUnicode_Check(fd->name))
        PyErr_Format(PyExc_TypeError, "a field name must be a str, not %.100s",
                     Py_TYPE(fd->name)->tp_name);
    else if (fd->name) {
        PyUnicode_InternInPlace(&fd->name);
        fd->key = PyUnicode_AsUTF8AndSize(fd->name, &fd->key_len);
        fd->key_plain = fd->key != NULL;
        for (Py_ssize_t k = 0; fd->key && k < fd->key_len; k++) {
            unsigned char ch = (unsigned char)fd->key[k];
            if (ch == '"' || ch == '\\' || ch < 0x20)
                fd->key_plain = 0;
        }
        if (fd->key_plain && fd->key_len <= 14) {
            /* the quoted key as words, for decode.c's expected_key */
            char q[16] = {0}, m[8] = {0};
            size_t ql = (size_t)fd->key_len + 2;
            q[0] = '"';
            memcpy(q + 1, fd->key, (size_t)fd->key_len);
            q[ql - 1] = '"';
            memset(m, 0xff, ql < 8 ? ql : 8);
            memcpy(&fd->qword[0], q, 8);
            memcpy(&fd->qword[1], ql >= 8 ? q + ql - 8 : q, 8);
            memcpy(&fd->qmask, m, 8);
            fd->qlen = ql;
        }
    }
    if (fd->key) {
        PyObject *req = PyObject_GetAttrString(f, "required");
        PyObject *opt = req ? PyObject_GetAttrString(f, "optional_key") : NULL;
        if (!opt && req && PyErr_ExceptionMatches(PyExc_AttributeError)) {
            PyErr_Clear();
            opt = Py_NewRef(Py_False);
        }
        fd->required = req && opt && PyObject_IsTrue(req) && !PyObject_IsTrue(opt);
        Py_XDECREF(req);
        Py_XDECREF(opt);
        fd->default_value = def != missing ? Py_NewRef(def) : NULL;
        fd->default_factory = fac != Py_None ? Py_NewRef(fac) : NULL;
        fd->type = compile_node(c, fnode);
    }
    Py_XDECREF(fnode);
    Py_XDECREF(def);
    Py_XDECREF(fac);
    if (!fd->type)
        return -1;
    if (t->model_kind == FF_MODEL_FROSTFORK) {
        PyObject *descr = PyObject_GetAttr(t->cls, fd->name);
        if (!descr)
            return -1;
        if (!Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
            Py_DECREF(descr);
            PyErr_Format(PyExc_TypeError, "%R.%U is not a slot", t->cls, fd->name);
            return -1;
        }
        fd->offset = ((PyMemberDescrObject *)descr)->d_member->offset;
        Py_DECREF(descr);
    }
    return 0;
}

/* A sequence attribute of a model Node (`fields`, `late`) as an array of
 * fields, with one zeroed entry after the last. */
static int compile_field_list(compiler *c, ff_type *t, PyObject *node, const char *attr,
                              PyObject *missing, ff_field **out, Py_ssize_t *count)
{
    PyObject *fields = PyObject_GetAttrString(node, attr);
    PyObject *seq = fields ? PySequence_Fast(fields, "Node fields must be a sequence") : NULL;
    Py_XDECREF(fields);
    if (!seq)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    *out = PyMem_Calloc((size_t)n + 1, sizeof(ff_field));
    if (!*out) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    *count = n; /* only now: free_type walks this many entries */
    int rc = 0;
    for (Py_ssize_t i = 0; rc == 0 && i < *count; i++)
        rc = compile_field(c, t, PySequence_Fast_GET_ITEM(seq, i), &(*out)[i], missing);
    Py_DECREF(seq);
    return rc;
}

static int compile_fields(compiler *c, ff_type *t, PyObject *node)
{
    PyObject *kind = PyObject_GetAttrString(node, "model_kind");
    PyObject *forbid = kind ? PyObject_GetAttrString(node, "forbid_extra") : NULL;
    PyObject *typenode = NULL, *missing = NULL, *post = NULL;
    int rc = -1;
    if (!forbid)
        goto done;
    t->forbid_extra = PyObject_IsTrue(forbid);
    t->model_kind = PyUnicode_CompareWithASCIIString(kind, "typeddict") == 0 ? FF_MODEL_TYPEDDICT
                    : PyUnicode_CompareWithASCIIString(kind, "model") == 0   ? FF_MODEL_FROSTFORK
                                                                             : FF_MODEL_DATACLASS;
    typenode = PyImport_ImportModule("frostfork.typenode");
    missing = typenode ? PyObject_GetAttrString(typenode, "MISSING") : NULL;
    if (!missing || compile_field_list(c, t, node, "fields", missing, &t->fields, &t->nfields) < 0)
        goto done;
    if (t->model_kind == FF_MODEL_DATACLASS) {
        post = PyObject_GetAttrString(node, "post_init");
        if (!post || compile_field_list(c, t, node, "late", missing, &t->late, &t->nlate) < 0)
            goto done;
        t->post_init = PyObject_IsTrue(post);
    }
    rc = 0;
done:
    Py_XDECREF(post);
    Py_XDECREF(missing);
    Py_XDECREF(typenode);
    Py_XDECREF(kind);
    Py_XDECREF(forbid);
    return rc;
}

/* Where each of n attribute names lives in the inline values of tp's
 * instances: ix[i] is names[i]'s index in the class's shared key table,
 * which is returned (NULL: no such layout, or a surprise). Found by setting
 * the names, in order, on a probe instance made as the decoder makes them
 * (object.__new__) and reading back the order its values array recorded;
 * a data descriptor on a name (a property, a slot), a __del__ (it would run
 * on the probe), a dict materialised, a count or value that does not match,
 * all give NULL. Never raises: whatever
 * goes wrong only loses the shortcut. Used by the decoder to store fields
 * and by the encoder to read them. */
void *ff_value_index(PyTypeObject *tp, PyObject *const *names, Py_ssize_t n, int *ix)
{
    if (!FF_HAVE_INLINE_VALUES || n < 1 || n > FF_VALUE_INDEX_MAX)
        return NULL;
    void *keys = ff_shared_keys(tp);
    if (!keys || tp->tp_finalize || tp->tp_del)
        return NULL; /* (a __del__ would run on the blank probe instance) */
    int ok = 1;
    for (Py_ssize_t i = 0; ok && i < n; i++) {
        PyObject *descr = _PyType_Lookup(tp, names[i]); /* borrowed */
        ok = !descr || !Py_TYPE(descr)->tp_descr_set;
    }
    PyObject *args = ok ? PyTuple_New(0) : NULL;
    PyObject *obj = args ? PyBaseObject_Type.tp_new(tp, args, NULL) : NULL;
    Py_XDECREF(args);
    PyObject *tags[FF_VALUE_INDEX_MAX] = {0};
    for (Py_ssize_t i = 0; obj && i < n; i++) {
        /* distinct objects, recognisable by identity in the values array */
        if (!(tags[i] = PyLong_FromSsize_t(1000 + i)) ||
            PyObject_GenericSetAttr(obj, names[i], tags[i]) < 0)
            Py_CLEAR(obj);
    }
    void *iv = obj ? ff_inline_values(obj, 0) : NULL;
    ok = iv && ff_values_count(iv) == n && ff_shared_keys(tp) == keys;
    for (Py_ssize_t i = 0; ok && i < n; i++) {
        ix[i] = ff_values_order(iv, (int)i);
        ok = ix[i] >= 0 && ff_values_array(iv)[ix[i]] == tags[i];
    }
    Py_XDECREF(obj);
    for (Py_ssize_t i = 0; i < n; i++)
        Py_XDECREF(tags[i]);
    PyErr_Clear();
    return ok ? keys : NULL;
}

/* The decoder's use of ff_value_index: a dataclass's fields stored straight
 * into a new instance's inline values instead of through a generic setattr
 * per field (a type lookup and a key-table search each, a third of the cost
 * of decoding into dataclasses); __post_init__, if any, runs after them
 * (json/decode.c). Leaves t->dc_keys NULL when it cannot be used. */
static void probe_inline_values(ff_type *t)
{
    t->dc_keys = NULL;
    if (!PyType_Check(t->cls) || t->nfields < 1 || t->nfields > FF_VALUE_INDEX_MAX)
        return;
    PyTypeObject *tp = (PyTypeObject *)t->cls;
    PyObject *names[FF_VALUE_INDEX_MAX];
    int ix[FF_VALUE_INDEX_MAX];
    for (Py_ssize_t i = 0; i < t->nfields; i++)
        names[i] = t->fields[i].name;
    void *keys = ff_value_index(tp, names, t->nfields, ix);
    if (!keys)
        return;
    for (Py_ssize_t i = 0; i < t->nfields; i++)
        t->fields[i].vix = ix[i];
    t->dc_keys = keys;
    t->dc_version = ff_type_version(tp); /* 0 (none): decode.c looks again */
}

static ff_type *compile_node(compiler *c, PyObject *node)
{
    PyObject *known = PyDict_GetItemWithError(c->memo, node);
    if (known)
        return PyLong_AsVoidPtr(known);
    if (PyErr_Occurred())
        return NULL;
    ff_type *t = new_type(c);
    if (!t)
        return NULL;
    PyObject *ptr = PyLong_FromVoidPtr(t);
    if (!ptr || PyDict_SetItem(c->memo, node, ptr) < 0) {
        Py_XDECREF(ptr);
        return NULL;
    }
    Py_DECREF(ptr);
    PyObject *kind = PyObject_GetAttrString(node, "kind");
    if (!kind)
        return NULL;
    size_t k;
    for (k = 0; k < sizeof KINDS / sizeof *KINDS; k++)
        if (PyUnicode_CompareWithASCIIString(kind, KINDS[k].name) == 0)
            break;
    if (k == sizeof KINDS / sizeof *KINDS) {
        PyErr_Format(PyExc_TypeError, "unknown Node kind %R", kind);
        Py_DECREF(kind);
        return NULL;
    }
    Py_DECREF(kind);
    t->kind = KINDS[k].kind;
    t->token_mask = KINDS[k].tokens;
    PyObject *sens = PyObject_GetAttrString(node, "sensitive");
    if (!sens)
        return NULL;
    if (PyObject_IsTrue(sens))
        t->cons |= FF_C_SENSITIVE;
    Py_DECREF(sens);
    t->cls = PyObject_GetAttrString(node, "cls");
    if (!t->cls || compile_constraints(c, t, node) < 0 || compile_args(c, t, node) < 0)
        return NULL;
    if ((t->kind == FF_T_LITERAL || t->kind == FF_T_ENUM) && compile_values(t, node) < 0)
        return NULL;
    if (t->kind == FF_T_MODEL && compile_fields(c, t, node) < 0)
        return NULL;
    if (t->kind == FF_T_MODEL && t->model_kind == FF_MODEL_DATACLASS)
        probe_inline_values(t);
    if (t->kind == FF_T_UNION)
        for (Py_ssize_t i = 0; i < t->nargs; i++)
            t->token_mask |= t->args[i]->token_mask ? t->args[i]->token_mask : FF_TOK_ALL;
    return t;
}

static int schema_traverse(ff_Schema *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->node);
    return 0;
}

static void schema_dealloc(ff_Schema *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    for (Py_ssize_t i = 0; i < self->narena; i++)
        free_type(self->arena[i]);
    PyMem_Free(self->arena);
    Py_CLEAR(self->node);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyMemberDef schema_members[] = {
    {"node", T_OBJECT, offsetof(ff_Schema, node), READONLY, "the type tree it was compiled from"},
    {NULL},
};

static PyType_Slot schema_slots[] = {
    {Py_tp_dealloc, schema_dealloc},
    {Py_tp_traverse, schema_traverse},
    {Py_tp_members, schema_members},
    {Py_tp_doc, "A compiled type: what the C decoder validates against."},
    {0, NULL},
};

PyType_Spec ff_schema_spec = {
    .name = "frostfork.Schema",
    .basicsize = sizeof(ff_Schema),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE |
             Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = schema_slots,
};

PyObject *ff_py_compile(PyObject *module, PyObject *node)
{
    ff_state *st = ff_get_state(module);
    ff_Schema *s = PyObject_GC_New(ff_Schema, st->Schema_type);
    if (!s)
        return NULL;
    s->root = NULL;
    s->arena = NULL;
    s->narena = s->cap = 0;
    s->node = Py_NewRef(node);
    PyObject_GC_Track(s);
    compiler c = {s, PyDict_New(), NULL};
    PyObject *re = PyImport_ImportModule("re");
    c.re_compile = re ? PyObject_GetAttrString(re, "compile") : NULL;
    Py_XDECREF(re);
    if (c.memo && c.re_compile)
        s->root = compile_node(&c, node);
    Py_XDECREF(c.memo);
    Py_XDECREF(c.re_compile);
    if (!s->root) {
        Py_DECREF(s);
        return NULL;
    }
    return (PyObject *)s;
}
