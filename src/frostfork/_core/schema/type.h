/* schema/type.h — a compiled type: the validator program the JSON decoder,
 * the string converters (path/query/header values) and the encoder follow.
 *
 * Built once from the Python type tree (frostfork/typenode.py) by
 * schema/compile.c and owned by a Schema object; per request nothing here is
 * allocated or changed. */
#ifndef FF_SCHEMA_TYPE_H
#define FF_SCHEMA_TYPE_H

#include "module.h"

typedef enum {
    FF_T_ANY, FF_T_NONE, FF_T_BOOL, FF_T_INT, FF_T_FLOAT, FF_T_STR, FF_T_BYTES,
    FF_T_DATETIME, FF_T_DATE, FF_T_TIME, FF_T_UUID, FF_T_DECIMAL,
    FF_T_LIST, FF_T_SET, FF_T_FROZENSET, FF_T_VARTUPLE, FF_T_TUPLE, FF_T_DICT,
    FF_T_UNION, FF_T_LITERAL, FF_T_ENUM, FF_T_MODEL,
} ff_kind;

enum {
    FF_C_GT = 1u << 0, FF_C_GE = 1u << 1, FF_C_LT = 1u << 2, FF_C_LE = 1u << 3,
    FF_C_MULT = 1u << 4, FF_C_MINLEN = 1u << 5, FF_C_MAXLEN = 1u << 6, FF_C_PATTERN = 1u << 7,
    FF_C_SENSITIVE = 1u << 8,
};

enum { FF_MODEL_DATACLASS, FF_MODEL_TYPEDDICT, FF_MODEL_FROSTFORK };

typedef struct ff_type ff_type;

typedef struct {
    PyObject *name;      /* str: attribute / dict key */
    const char *key;     /* its UTF-8, for matching JSON keys without objects */
    Py_ssize_t key_len;
    int key_plain;       /* key has no '"', '\\' or control byte: it is its own JSON text */
    /* a plain key of up to 14 bytes as its quoted JSON text ("key", qlen
     * bytes) in two overlapping words, qmask the first qlen bytes of a word
     * when qlen <= 8; qlen 0 when the key is longer or not plain */
    uint64_t qword[2], qmask;
    size_t qlen;
    ff_type *type;
    PyObject *default_value;   /* NULL when none */
    PyObject *default_factory; /* NULL when none */
    int required;        /* absent -> "missing" error (else: default, or left out) */
    Py_ssize_t offset;   /* frostfork.Model: slot offset in the instance */
    int vix;             /* dataclass: index in the instance's inline values (dc_keys) */
} ff_field;

struct ff_type {
    ff_kind kind;
    unsigned cons;         /* FF_C_* */
    /* numeric bounds: as Python numbers (exact for int and Decimal) and as
     * doubles for the float fast path */
    PyObject *gt, *ge, *lt, *le, *mult;
    double fgt, fge, flt, fle, fmult;
    Py_ssize_t min_len, max_len;
    PyObject *pattern_search; /* bound re.Pattern.search */
    PyObject *pattern_src;    /* str, for messages */
    ff_type **args;
    Py_ssize_t nargs;
    PyObject *values;      /* LITERAL: tuple; ENUM: dict value -> member */
    PyObject *cls;         /* ENUM / MODEL class */
    ff_field *fields;
    Py_ssize_t nfields;
    int model_kind;
    int forbid_extra;
    /* dataclass: its fields are stored straight into a new instance's inline
     * values (compat.h) while the class still has this key table (NULL: never)
     * and this version tag, i.e. no data descriptor can have appeared since */
    void *dc_keys;
    unsigned int dc_version;
    /* dataclass: what its __init__ does beyond the fields it takes — its
     * init=False fields (those with a default set after the others), then
     * __post_init__ called when post_init */
    ff_field *late;
    Py_ssize_t nlate;
    int post_init;
    unsigned token_mask;   /* which JSON tokens this type can start with (unions) */
};

/* JSON token classes, for union dispatch. */
enum { FF_TOK_NULL = 1, FF_TOK_BOOL = 2, FF_TOK_NUM = 4, FF_TOK_STR = 8, FF_TOK_ARR = 16,
       FF_TOK_OBJ = 32, FF_TOK_ALL = 63 };

/* The Python object owning a compiled tree (all nodes live in its arena). */
typedef struct {
    PyObject_HEAD
    ff_type *root;
    ff_type **arena;
    Py_ssize_t narena, cap;
    PyObject *node; /* the typenode.Node it came from */
} ff_Schema;

extern PyType_Spec ff_schema_spec;

/* compile(node) -> Schema */
PyObject *ff_py_compile(PyObject *module, PyObject *node);

/* Each name's index in the inline values of tp's instances (ix[i]), and the
 * shared key table they index; NULL when tp's instances have no such layout
 * or a name is a data descriptor (schema/compile.c). At most
 * FF_VALUE_INDEX_MAX names. */
#define FF_VALUE_INDEX_MAX 30
void *ff_value_index(PyTypeObject *tp, PyObject *const *names, Py_ssize_t n, int *ix);

#endif
