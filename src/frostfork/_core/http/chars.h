/* http/chars.h — the byte classes of HTTP/1.1's grammar, one table shared by
 * the request parser (parse.c), the chunked decoder (chunked.c) and the form
 * codecs (form.c, multipart.c), so a token or a field value means the same
 * thing in a head, a trailer and a multipart part's head.
 *
 * Pure C. One bit per class; FF_HTTP_IS(c, FF_C_TCHAR | FF_C_WS) tests any. */
#ifndef FF_HTTP_CHARS_H
#define FF_HTTP_CHARS_H

#define FF_C_TCHAR 0x01  /* token character (RFC 9110 5.6.2) */
#define FF_C_TARGET 0x02 /* request-target byte: VCHAR except '#' */
#define FF_C_VALUE 0x04  /* field-value byte, also quoted-pair: VCHAR, obs-text, SP, HTAB */
#define FF_C_WS 0x08     /* OWS / BWS: SP, HTAB */
#define FF_C_EOL 0x10    /* CR, LF */
#define FF_C_QDTEXT 0x20 /* quoted-string text: HTAB, SP, VCHAR except '"' and '\\', obs-text */
#define FF_C_HEX 0x40    /* HEXDIG, either case */
#define FF_C_BCHAR 0x80  /* multipart boundary character except space (RFC 2046 5.1.1) */

extern const unsigned char ff_http_char_class[256];

#define FF_HTTP_IS(c, k) (ff_http_char_class[(unsigned char)(c)] & (k))

#endif
