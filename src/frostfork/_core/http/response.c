/* http/response.c — response heads (see response.h). */
#include "http/response.h"

#include <stdio.h>
#include <string.h>

void ff_date_update(ff_date_cache *d, time_t now)
{
    if (d->len && d->sec == now)
        return;
    struct tm tm;
    gmtime_r(&now, &tm);
    d->len = strftime(d->line, sizeof d->line, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    d->sec = now;
}

const char *ff_status_reason(int status)
{
    switch (status) { /* RFC 9110 section 15, and the registered extras (418, 429, 431, 451...) */
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 103: return "Early Hints";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 207: return "Multi-Status";
    case 208: return "Already Reported";
    case 226: return "IM Used";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 305: return "Use Proxy";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 418: return "I'm a teapot";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 423: return "Locked";
    case 424: return "Failed Dependency";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 506: return "Variant Also Negotiates";
    case 507: return "Insufficient Storage";
    case 508: return "Loop Detected";
    case 510: return "Not Extended";
    case 511: return "Network Authentication Required";
    default: return "Unknown";
    }
}

int ff_response_begin(ff_buf *out, int status, const char *reason, size_t reason_len,
                      const ff_date_cache *d)
{
    if (!reason) {
        reason = ff_status_reason(status);
        reason_len = strlen(reason);
    }
    if (status < 100 || status > 999)
        status = 500;
    if (ff_buf_reserve(out, 13 + reason_len + 21 + d->len) < 0)
        return -1;
    char line[13] = "HTTP/1.1 ";
    line[9] = (char)('0' + status / 100);
    line[10] = (char)('0' + status / 10 % 10);
    line[11] = (char)('0' + status % 10);
    line[12] = ' ';
    /* the room is reserved above: these appends cannot fail */
    ff_buf_append(out, line, 13);
    ff_buf_append(out, reason, reason_len);
    ff_buf_append(out, "\r\nServer: frostfork\r\n", 21);
    ff_buf_append(out, d->line, d->len);
    return 0;
}

int ff_response_finish_head(ff_buf *out, const char *ctype, size_t body_len, int keep_alive,
                            int http10)
{
    if (ctype && (ff_buf_puts(out, "Content-Type: ") < 0 || ff_buf_puts(out, ctype) < 0 ||
                  ff_buf_append(out, "\r\n", 2) < 0))
        return -1;
    if (body_len != (size_t)-1 && (ff_buf_puts(out, "Content-Length: ") < 0 ||
                                   ff_buf_put_u64(out, body_len) < 0 ||
                                   ff_buf_append(out, "\r\n", 2) < 0))
        return -1;
    const char *conn = !keep_alive ? "Connection: close\r\n\r\n"
                       : http10    ? "Connection: keep-alive\r\n\r\n"
                                   : "\r\n";
    return ff_buf_puts(out, conn);
}

/* msg as a JSON string body: quotes, backslashes and control bytes escaped
 * (parser messages quote the input, e.g. "invalid \u escape"). */
static size_t json_detail(char *out, size_t cap, const char *msg)
{
    static const char head[] = "{\"detail\":\"";
    size_t n = sizeof head - 1;
    memcpy(out, head, n);
    for (const char *p = msg; *p && n + 8 < cap; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n++] = '"';
    out[n++] = '}';
    return n;
}

int ff_response_error(ff_buf *out, int status, const char *msg, const ff_date_cache *d,
                      int keep_alive, int http10, int head_only)
{
    char body[320];
    size_t n = json_detail(body, sizeof body, msg);
    size_t mark = ff_buf_used(out);
    if (ff_response_begin(out, status, NULL, 0, d) < 0 ||
        ff_response_finish_head(out, "application/json", n, keep_alive, http10) < 0 ||
        (!head_only && ff_buf_append(out, body, n) < 0)) {
        out->len = out->off + mark; /* all of it or none: never half a response */
        return -1;
    }
    return 0;
}
