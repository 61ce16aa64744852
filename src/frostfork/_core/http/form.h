/* http/form.h — request bodies of HTML forms: application/x-www-form-urlencoded
 * (form.c) and multipart/form-data (multipart.c, RFC 7578 on RFC 2046).
 *
 * Pure C: no Python, no allocation. Results point into the caller's buffer.
 * Both codecs keep the contract of http/parse.h:
 *   >= 0  bytes consumed (with what they held described in the out-struct),
 *   -2    need more bytes: nothing was consumed, call again with the same
 *         bytes and more appended,
 *   -1    malformed or over a limit; *err names the reason and
 *         ff_form_error_status() maps it to 400 or 413.
 * What a caller has to keep between calls is bounded by the limits: one
 * urlencoded field, or one part's header section, or a boundary's length.
 */
#ifndef FF_HTTP_FORM_H
#define FF_HTTP_FORM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "parse.h"

enum ff_form_error {
    FF_FORM_OK = 0,
    FF_FORM_E_TOO_MANY_FIELDS,   /* 413 more fields (urlencoded) or parts than max_fields */
    FF_FORM_E_FIELD_TOO_LARGE,   /* 413 a name or value (urlencoded), or a non-file part's data, over the limit */
    FF_FORM_E_ESCAPE,            /* 400 '%' not followed by two hex digits */
    FF_FORM_E_BOUNDARY,          /* 400 Content-Type has no valid boundary parameter */
    FF_FORM_E_DELIMITER,         /* 400 a boundary not followed by CRLF or "--" */
    FF_FORM_E_PART_HEADERS_TOO_LARGE, /* 413 a part's header section over max_part_header_bytes */
    FF_FORM_E_TOO_MANY_PART_HEADERS,  /* 413 a part with more header fields than max_part_headers */
    FF_FORM_E_PART_HEADER,       /* 400 malformed header line in a part */
    FF_FORM_E_DISPOSITION,       /* 400 missing, repeated or malformed Content-Disposition */
    FF_FORM_E_TRUNCATED,         /* 400 the body ended before the close delimiter */
    FF_FORM_E__COUNT
};

int ff_form_error_status(enum ff_form_error err);
const char *ff_form_error_text(enum ff_form_error err);

typedef struct {
    size_t max_fields;    /* urlencoded fields / multipart parts in one body */
    size_t max_name;      /* bytes of a urlencoded name as sent */
    size_t max_value;     /* bytes of a urlencoded value as sent, and of a non-file part's data */
    size_t max_part_header_bytes; /* bytes of one part's header section, final CRLF included */
    size_t max_part_headers;      /* header fields of one part; capacity of the headers[] array */
} ff_form_limits;

/* The body kinds ff_form_media_type() recognises. */
enum { FF_FORM_NONE = 0, FF_FORM_URLENCODED = 1, FF_FORM_MULTIPART = 2 };

/* Classifies a Content-Type value: its media type, compared without regard to
 * case, with or without parameters. */
int ff_form_media_type(const char *ct, size_t len);

/* Internal to the form codecs: 1 when s[0..n) equals the lower-case literal
 * lit, ignoring the case of ASCII letters in s. */
int ff__form_ieq(const char *s, size_t n, const char *lit);

/* ---- application/x-www-form-urlencoded ----------------------------------- */

enum {
    FF_FORM_F_ESCAPED = 1u << 0, /* name or value holds '%' or '+': ff_form_unescape it */
    FF_FORM_F_VALUE = 1u << 1,   /* the field had an '=' (else value is empty) */
};

typedef struct {
    const char *name; /* as sent, still escaped */
    size_t name_len;
    const char *value;
    size_t value_len;
    unsigned flags;   /* FF_FORM_F_* */
} ff_form_field;

typedef struct {
    size_t fields; /* fields returned so far, checked against max_fields */
} ff_form;

void ff_form_init(ff_form *f);

/* Returns the next field of buf[0..len): the bytes consumed (the field, its
 * '&' and any empty fields before it), 0 when final is set and only empty
 * fields are left, -2 when the field's end has not arrived (final unset), -1
 * on error. final says buf runs to the end of the body. Every '%' escape is
 * checked here, so ff_form_unescape() cannot fail afterwards. */
ssize_t ff_form_next(ff_form *f, const char *buf, size_t len, int final,
                     const ff_form_limits *lim, ff_form_field *out, enum ff_form_error *err);

/* Decodes a checked name or value ('+' to space, %XX to its byte) into dst,
 * which may be src itself, and returns the decoded length (never more than
 * n). */
size_t ff_form_unescape(char *dst, const char *src, size_t n);

/* ---- multipart/form-data -------------------------------------------------- */

#define FF_MP_MAX_BOUNDARY 70 /* RFC 2046 5.1.1 */
#define FF_MP_MAX_PADDING 256 /* transport padding after a boundary */

/* Finds the boundary parameter of a multipart Content-Type value (quoted or
 * not) and checks it against RFC 2046's grammar. Returns 0 with *b pointing
 * into ct (without quotes), or -1. */
int ff_mp_boundary(const char *ct, size_t len, const char **b, size_t *blen);

enum ff_mp_event_type {
    FF_MP_NONE = 0, /* bytes consumed that carry nothing (preamble, padding, epilogue) */
    FF_MP_PART,     /* a part's header section: headers, name, filename, content type */
    FF_MP_DATA,     /* a run of the current part's data */
    FF_MP_PART_END, /* the current part's data is complete */
    FF_MP_DONE,     /* the close delimiter: every later byte is epilogue */
};

enum {
    FF_MP_F_FILENAME = 1u << 0,   /* Content-Disposition had a filename parameter */
    FF_MP_F_NAME_QUOTED = 1u << 1, /* name holds backslash escapes: ff_mp_unquote it */
    FF_MP_F_FILENAME_QUOTED = 1u << 2,
};

typedef struct {
    enum ff_mp_event_type type;
    /* FF_MP_PART: all point into the buffer of that call */
    ff_http_header *headers; /* the caller's array */
    size_t num_headers;
    const char *name;        /* the name parameter, without quotes */
    size_t name_len;
    const char *filename;    /* NULL unless FF_MP_F_FILENAME */
    size_t filename_len;
    const char *content_type; /* NULL when the part has none */
    size_t content_type_len;
    unsigned flags;          /* FF_MP_F_* */
    /* FF_MP_DATA */
    const char *data;
    size_t data_len;
} ff_mp_event;

typedef struct {
    char delim[4 + FF_MP_MAX_BOUNDARY]; /* CR LF "--" boundary */
    size_t delim_len;
    uint64_t part_bytes; /* data bytes of the current part */
    size_t parts;        /* parts begun, checked against max_fields */
    int state;           /* internal */
    int is_file;         /* the current part has a filename */
    int err;             /* the error returned, once state is failed */
} ff_multipart;

/* Prepares a parser for a body with this boundary (checked by
 * ff_mp_boundary; 1..70 bytes). */
void ff_mp_init(ff_multipart *p, const char *boundary, size_t blen);

/* Parses the next event from buf[0..len). headers must hold
 * lim->max_part_headers entries. */
ssize_t ff_mp_next(ff_multipart *p, const char *buf, size_t len, const ff_form_limits *lim,
                   ff_http_header *headers, ff_mp_event *ev, enum ff_form_error *err);

/* 1 once the close delimiter has been consumed: a body that ends before
 * that is FF_FORM_E_TRUNCATED. */
int ff_mp_done(const ff_multipart *p);

/* Removes backslash escapes from a quoted parameter value into dst (which
 * may be src) and returns the new length. */
size_t ff_mp_unquote(char *dst, const char *src, size_t n);

#endif
