"""RFC 9112 message framing and parsing, table-driven, over real sockets.

Each row is raw bytes sent in one write to `native_basic:app`, the statuses
of the final responses expected back, and whether the server must then have
closed the connection. After an error response the server must close (the
read after the response returns EOF); after a good keep-alive response it
must not (a short read times out).

Routes of tests/apps/native_basic.py used here: GET / (a fixed JSON body),
GET|POST /items (echoes method, body length, query and content-type), GET
/text, GET /users/{id}.
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field

import pytest

from conftest import SLOW, Resp, parse_one

INDEX_BODY = b'{"message":"Hello, World!"}'


# ---------------------------------------------------------------------------
# the client side
# ---------------------------------------------------------------------------

def exchange(port: int, data: bytes, finals: int, *, no_body: frozenset = frozenset(),
             shut: bool = False, expect_close: bool = True, timeout: float = 5.0):
    """Sends `data` in one write and reads until `finals` final responses
    have arrived (or the server closes). Then decides whether the server
    closed the connection: waits up to 3 s for EOF when a close is expected;
    otherwise sends one more request (GET /, Connection: close), whose answer
    must come next, whole, followed by the close: the connection was open and
    in step (with `shut`, where nothing more can be sent, it waits 0.5 s).
    Returns (interim, finals, closed, trailing_bytes)."""
    interim: list[Resp] = []
    got: list[Resp] = []
    buf = b""
    closed = False
    with socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW) as s:
        try:
            s.sendall(data)
            if shut:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early and closed; read what it said
        deadline = time.monotonic() + timeout * SLOW
        while len(got) < finals:
            parsed = parse_one(buf, len(got) in no_body)
            if parsed:
                r, buf = parsed
                (interim if r.status < 200 else got).append(r)
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                closed = True
                break
            buf += chunk
        if not closed and not expect_close and not shut and len(got) == finals:
            closed, buf = _follow_up(s, buf)
        elif not closed:
            s.settimeout((3.0 if expect_close else 0.5) * SLOW)
            try:
                while True:  # bounded: stops at EOF, timeout or ~64 KiB extra
                    chunk = s.recv(65536)
                    if not chunk:
                        closed = True
                        break
                    buf += chunk
                    if len(buf) > 65536:
                        break
            except socket.timeout:
                pass
            except ConnectionResetError:
                closed = True
    return interim, got, closed, buf


def _follow_up(s: socket.socket, buf: bytes) -> tuple[bool, bytes]:
    """(closed, trailing bytes) of a connection that should still be open: one
    more request, and its answer alone (then EOF) proves it; anything the
    server sent before that answer is returned as trailing bytes."""
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        return True, buf
    s.settimeout(5 * SLOW)
    try:
        while chunk := s.recv(65536):  # bounded: the server closes after its answer
            buf += chunk
    except ConnectionResetError:
        pass
    parsed = parse_one(buf)
    if parsed and parsed[0].status == 200 and parsed[0].body == INDEX_BODY and not parsed[1]:
        return False, b""
    return not buf, buf


# ---------------------------------------------------------------------------
# the table
# ---------------------------------------------------------------------------

@dataclass
class Row:
    id: str
    data: bytes
    statuses: list[int]
    closed: bool
    checks: list[dict | None] = field(default_factory=list)  # per final response
    server: str = "default"  # or "max1k" (--max-body 1k)
    no_body: frozenset = frozenset()  # indexes of HEAD responses
    shut: bool = False
    bug: str | None = None  # a known server bug: the row is a strict xfail


def post(headers: bytes, body: bytes = b"", target: bytes = b"/items") -> bytes:
    return b"POST " + target + b" HTTP/1.1\r\nHost: t\r\n" + headers + b"\r\n" + body


def get(target: bytes = b"/", headers: bytes = b"", version: bytes = b"HTTP/1.1",
        host: bool = True) -> bytes:
    return (b"GET " + target + b" " + version + b"\r\n" + (b"Host: t\r\n" if host else b"")
            + headers + b"\r\n")


def chunked(body: bytes, extra: bytes = b"") -> bytes:
    return post(b"Transfer-Encoding: chunked\r\n" + extra, body)


def ok(n=None, **kw):
    """Check for a 200 from /items: the body length the app saw, etc."""
    d = dict(kw)
    if n is not None:
        d["len"] = n
    return {"json": d}


INDEX = {"body": INDEX_BODY}
ERR_CLOSE = {"headers": {"connection": "close"}, "json_keys": ["detail"]}


def bad(i: str, data: bytes, status: int = 400, server: str = "default",
        bug: str | None = None) -> Row:
    """A request the server must refuse with `status` and then close."""
    return Row(i, data, [status], True, [ERR_CLOSE], server, bug=bug)


def good(i: str, data: bytes, check: dict | None = None, server: str = "default") -> Row:
    return Row(i, data, [200], False, [check], server)


HEX17 = b"0" * 16 + b"5"
HEX16 = b"0" * 15 + b"5"


def head_of(size: int) -> bytes:
    """A GET / whose head (request line to the blank line) is `size` bytes."""
    base = b"GET / HTTP/1.1\r\nHost: t\r\nX-Pad: \r\n\r\n"
    return base.replace(b"X-Pad: ", b"X-Pad: " + b"p" * (size - len(base)))


def reqline_of(size: int) -> bytes:
    """A GET whose request line (without CRLF) is `size` bytes."""
    n = size - len(b"GET / HTTP/1.1")
    return b"GET /" + b"a" * n + b" HTTP/1.1\r\nHost: t\r\n\r\n"


def n_headers(n: int) -> bytes:
    """A GET with n header fields in all (Host included)."""
    return b"GET / HTTP/1.1\r\nHost: t\r\n" + b"".join(
        b"X-H%d: v\r\n" % i for i in range(n - 1)) + b"\r\n"


ROWS = [
    # --- Content-Length (RFC 9112 6.3, RFC 9110 8.6) ---
    good("cl-valid", post(b"Content-Length: 5\r\n", b"hello"), ok(5, method="POST")),
    good("cl-zero", post(b"Content-Length: 0\r\n"), ok(0)),
    good("cl-leading-zeros", post(b"Content-Length: 005\r\n", b"hello"), ok(5)),
    good("cl-ows-trimmed", post(b"Content-Length: \t 5 \t\r\n", b"hello"), ok(5)),
    good("cl-duplicate-equal",
         post(b"Content-Length: 5\r\nContent-Length: 5\r\n", b"hello"), ok(5)),
    good("cl-list-equal", post(b"Content-Length: 5, 5\r\n", b"hello"), ok(5)),
    good("cl-on-get", get(b"/items", b"Content-Length: 3\r\n") + b"abc", ok(3, method="GET")),
    bad("cl-duplicate-differing", post(b"Content-Length: 5\r\nContent-Length: 6\r\n", b"hello!")),
    bad("cl-list-differing", post(b"Content-Length: 5, 6\r\n", b"hello!")),
    bad("cl-list-trailing-comma", post(b"Content-Length: 5,\r\n", b"hello")),
    bad("cl-non-digit", post(b"Content-Length: abc\r\n", b"hello")),
    bad("cl-digit-suffix", post(b"Content-Length: 5a\r\n", b"hello")),
    bad("cl-plus-sign", post(b"Content-Length: +5\r\n", b"hello")),
    bad("cl-hex", post(b"Content-Length: 0x5\r\n", b"hello")),
    bad("cl-negative", post(b"Content-Length: -1\r\n", b"hello")),
    bad("cl-empty", post(b"Content-Length:\r\n", b"hello")),
    bad("cl-inner-space", post(b"Content-Length: 5 5\r\n", b"hello")),
    bad("cl-decimal", post(b"Content-Length: 5.0\r\n", b"hello")),
    bad("cl-19-digits", post(b"Content-Length: 1000000000000000005\r\n", b"hello")),
    bad("cl-18-digits-over-max-body", post(b"Content-Length: 100000000000000005\r\n", b"h"), 413),
    bad("cl-over-default-16m", post(b"Content-Length: 16777217\r\n"), 413),
    good("cl-uppercase-name", post(b"CONTENT-LENGTH: 5\r\n", b"hello"), ok(5)),

    # --- Content-Length together with Transfer-Encoding (6.1, 6.3) ---
    bad("cl-and-te", post(b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                          b"0\r\n\r\n")),
    bad("te-and-cl", post(b"Transfer-Encoding: chunked\r\nContent-Length: 0\r\n",
                          b"0\r\n\r\n")),

    # --- Transfer-Encoding (6.1, 7) ---
    good("te-chunked", chunked(b"5\r\nhello\r\n0\r\n\r\n"), ok(5)),
    good("te-chunked-many-chunks", chunked(b"3\r\nhel\r\n1\r\nl\r\n1\r\no\r\n0\r\n\r\n"), ok(5)),
    good("te-chunked-case-insensitive",
         post(b"Transfer-Encoding: ChUnKeD\r\n", b"A\r\n0123456789\r\n0\r\n\r\n"), ok(10)),
    good("te-chunked-upper-hex", chunked(b"Fa\r\n" + b"x" * 250 + b"\r\n0\r\n\r\n"), ok(250)),
    good("te-chunked-empty-body", chunked(b"0\r\n\r\n"), ok(0)),
    good("te-chunked-empty-list-elements",
         post(b"Transfer-Encoding: , chunked ,\r\n", b"5\r\nhello\r\n0\r\n\r\n"), ok(5)),
    good("te-chunked-trailer", chunked(b"5\r\nhello\r\n0\r\nX-Trailer: v\r\nX-T2: w\r\n\r\n"),
         ok(5)),
    good("te-chunked-extensions",
         chunked(b"5;a=b;flag\r\nhello\r\n1 ; q=\"x y\\\"z\"\r\n!\r\n0;last\r\n\r\n"), ok(6)),
    good("te-chunked-16-hex-digits", chunked(HEX16 + b"\r\nhello\r\n0\r\n\r\n"), ok(5)),
    good("te-chunked-ext-1024-bytes",
         chunked(b"5;" + b"e" * 1023 + b"\r\nhello\r\n0\r\n\r\n"), ok(5)),
    bad("te-gzip-final", post(b"Transfer-Encoding: gzip\r\n", b"hello")),
    bad("te-identity", post(b"Transfer-Encoding: identity\r\n", b"hello")),
    bad("te-chunked-then-gzip", post(b"Transfer-Encoding: chunked, gzip\r\n", b"0\r\n\r\n")),
    bad("te-gzip-chunked-501", post(b"Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n"), 501),
    bad("te-gzip-chunked-two-fields-501",
        post(b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"), 501),
    bad("te-chunked-twice-list", post(b"Transfer-Encoding: chunked, chunked\r\n", b"0\r\n\r\n")),
    bad("te-chunked-twice-fields",
        post(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n")),
    bad("te-empty-value", post(b"Transfer-Encoding:\r\n", b"0\r\n\r\n")),
    bad("te-on-http10", b"POST /items HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),

    # --- chunked decoding (7.1) ---
    bad("chunk-size-17-hex-digits", chunked(HEX17 + b"\r\nhello\r\n0\r\n\r\n")),
    bad("chunk-size-invalid-hex", chunked(b"5g\r\nhello\r\n0\r\n\r\n")),
    bad("chunk-size-not-hex", chunked(b"x\r\nhello\r\n0\r\n\r\n")),
    bad("chunk-size-empty", chunked(b"\r\nhello\r\n0\r\n\r\n")),
    bad("chunk-size-negative", chunked(b"-5\r\nhello\r\n0\r\n\r\n")),
    bad("chunk-size-0x-prefix", chunked(b"0x5\r\nhello\r\n0\r\n\r\n")),
    bad("chunk-size-trailing-space", chunked(b"5 \r\nhello\r\n0\r\n\r\n")),
    bad("chunk-size-leading-space", chunked(b" 5\r\nhello\r\n0\r\n\r\n")),
    bad("chunk-ext-1025-bytes", chunked(b"5;" + b"e" * 1024 + b"\r\nhello\r\n0\r\n\r\n")),
    bad("chunk-ext-4k-bytes", chunked(b"5;" + b"e" * 4096 + b"\r\nhello\r\n0\r\n\r\n")),
    bad("chunk-ext-no-name", chunked(b"5;\r\nhello\r\n0\r\n\r\n")),
    bad("chunk-ext-ctl", chunked(b"5;a\x01\r\nhello\r\n0\r\n\r\n")),
    bad("chunk-bare-lf-size-line", chunked(b"5\nhello\r\n0\r\n\r\n")),
    bad("chunk-bare-lf-after-data", chunked(b"5\r\nhello\n0\r\n\r\n")),
    bad("chunk-bare-lf-last-chunk", chunked(b"5\r\nhello\r\n0\n\r\n")),
    bad("chunk-bare-lf-final-line", chunked(b"5\r\nhello\r\n0\r\n\n")),
    bad("chunk-bare-cr-size-line", chunked(b"5\rhello\r\n0\r\n\r\n")),
    bad("chunk-missing-crlf-after-data", chunked(b"5\r\nhelloXX\r\n0\r\n\r\n")),
    bad("chunk-data-shorter-than-size", chunked(b"5\r\nhel\r\n0\r\n\r\n")),
    bad("chunk-trailer-obs-fold", chunked(b"0\r\nX-T: a\r\n b\r\n\r\n")),
    bad("chunk-trailer-no-colon", chunked(b"0\r\nX-T\r\n\r\n")),
    bad("chunk-trailer-ctl-in-value", chunked(b"0\r\nX-T: a\x00b\r\n\r\n")),
    # parse.h documents FF_HTTP_E_TRAILER as "400/431", the table maps it to 400.
    bad("chunk-trailer-over-16k", chunked(b"0\r\nX-T: " + b"t" * 17000 + b"\r\n\r\n")),

    # --- request line (3) ---
    good("reqline-simple", get(), INDEX),
    good("reqline-leading-empty-lines", b"\r\n\r\n" + get(), INDEX),
    good("reqline-absolute-form", get(b"http://t/"), INDEX),
    good("reqline-absolute-form-no-path", get(b"http://t"), INDEX),
    good("reqline-absolute-form-https-query", get(b"HTTPS://t:8443/items?a=b"),
         ok(0, query="a=b")),
    good("reqline-at-8190-limit-404", reqline_of(8190)),  # 404: see fixups below
    bad("reqline-too-many-leading-empty-lines", b"\r\n" * 5 + get()),
    bad("reqline-leading-bare-lf", b"\n" + get()),
    bad("reqline-double-space", b"GET  / HTTP/1.1\r\nHost: t\r\n\r\n"),
    bad("reqline-trailing-space", b"GET / HTTP/1.1 \r\nHost: t\r\n\r\n"),
    bad("reqline-tab-separator", b"GET\t/ HTTP/1.1\r\nHost: t\r\n\r\n"),
    bad("reqline-missing-target", b"GET HTTP/1.1\r\nHost: t\r\n\r\n"),
    bad("reqline-no-version-http09", b"GET /\r\nHost: t\r\n\r\n"),
    bad("reqline-bare-lf", b"GET / HTTP/1.1\nHost: t\r\n\r\n"),
    bad("reqline-bare-cr", b"GET / HTTP/1.1\rHost: t\r\n\r\n"),
    bad("reqline-all-bare-lf", b"GET / HTTP/1.1\nHost: t\n\n"),
    bad("method-not-token", b"G(T / HTTP/1.1\r\nHost: t\r\n\r\n"),
    bad("method-nul", b"G\x00T / HTTP/1.1\r\nHost: t\r\n\r\n"),
    bad("target-nul", get(b"/a\x00b")),
    bad("target-control-byte", get(b"/a\x01b")),
    bad("target-del", get(b"/a\x7fb")),
    bad("target-high-byte", get(b"/caf\xc3\xa9")),
    bad("target-fragment", get(b"/#frag")),
    bad("target-inner-space", get(b"/a b")),
    bad("target-absolute-userinfo", get(b"http://user@t/")),
    bad("target-absolute-no-host", get(b"http:///x")),
    bad("target-authority-form", b"CONNECT t:443 HTTP/1.1\r\nHost: t:443\r\n\r\n"),
    bad("target-asterisk-not-options", get(b"*")),
    bad("target-relative", get(b"items")),
    bad("target-absolute-ftp-scheme", get(b"ftp://t/")),
    bad("reqline-over-8190-limit", reqline_of(8191), 414),
    bad("reqline-20k-no-crlf", b"GET /" + b"a" * 20000, 414),

    # --- HTTP version (2.3, RFC 9110 15.6.6) ---
    bad("version-http2", get(version=b"HTTP/2.0"), 505),
    bad("version-http3", get(version=b"HTTP/3.0"), 505),
    bad("version-http12", get(version=b"HTTP/1.2"), 505),
    bad("version-http09", get(version=b"HTTP/0.9"), 505),
    bad("version-garbage", get(version=b"HTTP/x.y")),
    bad("version-lowercase", get(version=b"http/1.1")),
    bad("version-no-dot", get(version=b"HTTP/11")),
    bad("version-two-minor-digits", get(version=b"HTTP/1.10")),
    bad("version-wrong-protocol", get(version=b"HTTPS/1.1")),

    # --- header fields (5) ---
    good("hdr-tab-in-value", get(headers=b"X-A: a\tb\r\n"), INDEX),
    good("hdr-obs-text-in-value", get(headers=b"X-A: caf\xc3\xa9 \xff\r\n"), INDEX),
    good("hdr-empty-value", get(headers=b"X-Empty:\r\n"), INDEX),
    good("hdr-no-space-after-colon", post(b"Content-Type:text/x\r\nContent-Length:1\r\n", b"!"),
         ok(1, ct="text/x")),
    bad("hdr-nul-in-value", get(headers=b"X-A: a\x00b\r\n")),
    bad("hdr-ctl-in-value", get(headers=b"X-A: a\x01b\r\n")),
    bad("hdr-esc-in-value", get(headers=b"X-A: a\x1b[31mred\r\n")),
    bad("hdr-del-in-value", get(headers=b"X-A: a\x7fb\r\n")),
    bad("hdr-bare-cr-in-value", get(headers=b"X-A: a\rb\r\n")),
    bad("hdr-bare-cr-line-end", get(headers=b"X-A: a\rX-B: b\r\n")),
    bad("hdr-bare-lf-line-end", get(headers=b"X-A: a\nX-B: b\r\n")),
    bad("hdr-bare-lf-blank-line", b"GET / HTTP/1.1\r\nHost: t\r\n\n"),
    bad("hdr-obs-fold-space", get(headers=b"X-A: a\r\n b\r\n")),
    bad("hdr-obs-fold-tab", get(headers=b"X-A: a\r\n\tb\r\n")),
    bad("hdr-whitespace-before-first-field", b"GET / HTTP/1.1\r\n Host: t\r\n\r\n"),
    bad("hdr-space-before-colon", b"GET / HTTP/1.1\r\nHost : t\r\n\r\n"),
    bad("hdr-tab-before-colon", b"GET / HTTP/1.1\r\nHost\t: t\r\n\r\n"),
    bad("hdr-space-before-colon-cl", post(b"Content-Length : 5\r\n", b"hello")),
    bad("hdr-empty-name", get(headers=b": v\r\n")),
    bad("hdr-name-not-token", get(headers=b"X(A): v\r\n")),
    bad("hdr-name-nul", get(headers=b"X\x00A: v\r\n")),
    bad("hdr-name-high-byte", get(headers=b"X\xe9: v\r\n")),
    bad("hdr-no-colon", get(headers=b"X-A\r\n")),

    # --- Host (RFC 9112 3.2) ---
    good("host-empty-value", b"GET / HTTP/1.1\r\nHost:\r\n\r\n", INDEX),
    bad("host-missing-http11", get(host=False)),
    bad("host-missing-absolute-form", get(b"http://t/", host=False)),
    bad("host-duplicate", get(headers=b"Host: u\r\n")),
    bad("host-duplicate-same-value", get(headers=b"Host: t\r\n")),
    bad("host-duplicate-case", get(headers=b"hOsT: t\r\n")),
    Row("host-missing-http10-ok", get(version=b"HTTP/1.0", host=False), [200], True,
        [{"body": INDEX_BODY, "headers": {"connection": "close"}}]),
    # RFC 9112 3.2: "A server MUST respond with a 400 (Bad Request) status code to
    # any HTTP/1.1 request message that lacks a Host header field and to any
    # request message that contains more than one Host header field line or a
    # Host header field with an invalid field value."
    bad("host-duplicate-http10", get(version=b"HTTP/1.0", host=False,
                                     headers=b"Host: a\r\nHost: b\r\n")),
    bad("host-invalid-space", get(host=False, headers=b"Host: a b\r\n")),
    bad("host-invalid-userinfo", get(host=False, headers=b"Host: user@t\r\n")),
    bad("host-invalid-path", get(host=False, headers=b"Host: t/x\r\n")),

    # --- limits: 414 / 431 (defaults 8190 / 100 fields / 16384 bytes) ---
    good("headers-100-fields-ok", n_headers(100), INDEX),
    bad("headers-101-fields", n_headers(101), 431),
    good("head-16384-bytes-ok", head_of(16384), INDEX),
    bad("head-16385-bytes", head_of(16385), 431),
    bad("head-20k-unterminated", b"GET / HTTP/1.1\r\nHost: t\r\nX-Pad: " + b"p" * 20000, 431),
    bad("head-many-small-fields-over-bytes", b"GET / HTTP/1.1\r\nHost: t\r\n"
        + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 400) for i in range(50)) + b"\r\n", 431),

    # --- body limit: --max-body 1k (RFC 9110 15.5.14) ---
    good("max1k-cl-at-limit", post(b"Content-Length: 1024\r\n", b"b" * 1024), ok(1024),
         server="max1k"),
    bad("max1k-cl-over", post(b"Content-Length: 1025\r\n", b"b" * 1025), 413, server="max1k"),
    bad("max1k-cl-over-no-body-sent", post(b"Content-Length: 1000000\r\n"), 413,
        server="max1k"),
    good("max1k-chunked-at-limit", chunked(b"400\r\n" + b"c" * 1024 + b"\r\n0\r\n\r\n"),
         ok(1024), server="max1k"),
    good("max1k-chunked-two-chunks-at-limit",
         chunked(b"200\r\n" + b"c" * 512 + b"\r\n200\r\n" + b"d" * 512 + b"\r\n0\r\n\r\n"),
         ok(1024), server="max1k"),
    bad("max1k-chunked-one-chunk-over",
        chunked(b"401\r\n" + b"c" * 1025 + b"\r\n0\r\n\r\n"), 413, server="max1k"),
    bad("max1k-chunked-sum-over",
        chunked(b"200\r\n" + b"c" * 512 + b"\r\n201\r\n" + b"d" * 513 + b"\r\n0\r\n\r\n"),
        413, server="max1k"),
    bad("max1k-chunked-huge-size-before-data", chunked(b"ffffffff\r\n"), 413, server="max1k"),

    # --- persistence (9.3) ---
    Row("ka-http11-default-open", get(), [200], False,
        [{"body": INDEX_BODY, "headers": {"connection": None}}]),
    Row("ka-http11-connection-close", get(headers=b"Connection: close\r\n"), [200], True,
        [{"body": INDEX_BODY, "headers": {"connection": "close"}}]),
    Row("ka-http11-connection-close-case", get(headers=b"Connection: CLOSE\r\n"), [200], True,
        [{"headers": {"connection": "close"}}]),
    Row("ka-http11-close-in-list", get(headers=b"Connection: keep-alive, close\r\n"), [200],
        True, [{"headers": {"connection": "close"}}]),
    Row("ka-http11-close-second-field",
        get(headers=b"Connection: keep-alive\r\nConnection: close\r\n"), [200], True,
        [{"headers": {"connection": "close"}}]),
    Row("ka-http10-default-close", get(version=b"HTTP/1.0"), [200], True,
        [{"body": INDEX_BODY, "headers": {"connection": "close"}}]),
    Row("ka-http10-keep-alive", get(version=b"HTTP/1.0", headers=b"Connection: keep-alive\r\n"),
        [200], False, [{"body": INDEX_BODY, "headers": {"connection": "keep-alive"}}]),
    Row("ka-404-stays-open", get(b"/nope"), [404], False,
        [{"headers": {"connection": None}, "json_keys": ["detail"]}]),
    Row("ka-405-stays-open", b"DELETE / HTTP/1.1\r\nHost: t\r\n\r\n", [405], False,
        [{"headers": {"allow": "GET, HEAD"}}]),
    Row("status-204-no-content-length", get(b"/status/204") + get(), [204, 200], False,
        [{"body": b"", "headers": {"content-length": None}}, INDEX]),
    Row("status-304-no-body", get(b"/status/304") + get(), [304, 200], False,
        [{"body": b""}, INDEX]),

    # --- HEAD (RFC 9110 9.3.2) ---
    Row("head-no-body", b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n", [200], False,
        [{"body": b"", "headers": {"content-length": str(len(INDEX_BODY))}}],
        no_body=frozenset({0})),
    Row("head-then-get-pipelined", b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n" + get(), [200, 200],
        False, [{"body": b"", "headers": {"content-length": str(len(INDEX_BODY))}}, INDEX],
        no_body=frozenset({0})),

    # --- pipelining (9.3.2) ---
    Row("pipeline-3-gets", get() + get(b"/text") + get(b"/users/7"), [200, 200, 200], False,
        [INDEX, {"body": "h\u00e9llo".encode()}, {"json": {"id": 7, "type": "int"}}]),
    Row("pipeline-post-then-get",
        post(b"Content-Length: 5\r\n", b"hello") + get(b"/items?x=1"), [200, 200], False,
        [ok(5, method="POST"), ok(0, method="GET", query="x=1")]),
    Row("pipeline-chunked-then-get",
        chunked(b"5\r\nhello\r\n0\r\n\r\n") + get(b"/items?after=chunked"), [200, 200], False,
        [ok(5, method="POST"), ok(0, query="after=chunked")]),
    Row("pipeline-good-then-bad", get() + get(version=b"HTTP/2.0") + get(), [200, 505], True,
        [INDEX, ERR_CLOSE]),
    Row("pipeline-close-stops-processing",
        get(headers=b"Connection: close\r\n") + get(b"/text"), [200], True,
        [{"headers": {"connection": "close"}}]),
    Row("pipeline-extra-crlf-after-body",
        post(b"Content-Length: 5\r\n", b"hello") + b"\r\n" + get(), [200, 200], False,
        [ok(5), INDEX]),

    # --- the client gives up mid-message: no response, just the close ---
    Row("eof-mid-head", b"GET / HTTP/1.1\r\nHost: t\r\n", [], True, shut=True),
    Row("eof-mid-body", post(b"Content-Length: 10\r\n", b"hello"), [], True, shut=True),
    Row("eof-mid-chunked", chunked(b"5\r\nhel"), [], True, shut=True),
]

# The 8190-byte request line is valid but names no route: 404, kept open.
for _r in ROWS:
    if _r.id == "reqline-at-8190-limit-404":
        _r.statuses = [404]
        _r.checks = [{"json_keys": ["detail"]}]


def check(resp: Resp, want: dict | None, row: Row) -> None:
    if not want:
        return
    if "body" in want:
        assert resp.body == want["body"], f"{row.id}: body {resp.body[:200]!r}"
    for k, v in want.get("headers", {}).items():
        assert resp.header(k) == v, f"{row.id}: header {k}={resp.header(k)!r}, want {v!r}"
    if "json" in want or "json_keys" in want:
        assert resp.header("content-type") == "application/json", row.id
        doc = json.loads(resp.body)
        for k in want.get("json_keys", []):
            assert k in doc, f"{row.id}: {k!r} missing from {doc}"
        for k, v in want.get("json", {}).items():
            assert doc.get(k) == v, f"{row.id}: {k}={doc.get(k)!r}, want {v!r} in {doc}"


SERVER_ARGS = {"default": (), "max1k": ("--max-body", "1k")}


def _params():
    for r in ROWS:
        marks = [pytest.mark.xfail(strict=True, reason=r.bug)] if r.bug else []
        yield pytest.param(r, id=r.id, marks=marks)


@pytest.mark.parametrize("row", list(_params()))
def test_conformance(serve, row: Row):
    s = serve("native_basic:app", *SERVER_ARGS[row.server])
    interim, got, closed, rest = exchange(s.port, row.data, len(row.statuses),
                                          no_body=row.no_body, shut=row.shut,
                                          expect_close=row.closed)
    assert interim == [], f"unexpected interim responses {interim}"
    assert [r.status for r in got] == row.statuses, (
        f"statuses {[r.status for r in got]}, want {row.statuses}; "
        f"bodies {[r.body[:120] for r in got]}; unparsed {rest[:200]!r}")
    assert rest == b"", f"bytes after the expected responses: {rest[:300]!r}"
    assert closed == row.closed, (
        "server closed the connection" if closed else "server kept the connection open")
    for resp, want in zip(got, row.checks):
        check(resp, want, row)
    for resp in got:
        n = resp.header("content-length")
        if resp.status >= 200 and resp.status not in (204, 304):
            assert n is not None, f"{row.id}: no Content-Length"
        if not row.no_body and n is not None:
            assert int(n) == len(resp.body)
    s.check_clean()


def test_table_is_large_and_ids_unique():
    ids = [r.id for r in ROWS]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 60


# ---------------------------------------------------------------------------
# Expect: 100-continue (RFC 9110 10.1.1) — needs two writes, so not a row
# ---------------------------------------------------------------------------

def _recv_until(sock: socket.socket, pred, timeout: float) -> bytes:
    buf = b""
    deadline = time.monotonic() + timeout * SLOW
    while not pred(buf):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
    return buf


CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_expect_100_continue_interim_then_final(serve, framing):
    s = serve("native_basic:app")
    if framing == "content-length":
        head = post(b"Content-Length: 5\r\nExpect: 100-continue\r\n")
        body = b"hello"
    else:
        head = post(b"Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n")
        body = b"5\r\nhello\r\n0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", s.port), timeout=5 * SLOW) as sock:
        sock.sendall(head)
        first = _recv_until(sock, lambda b: b"\r\n\r\n" in b, 5)
        assert first == CONTINUE, first
        sock.sendall(body)
        rest = _recv_until(sock, lambda b: parse_one(b, False) is not None, 5)
        resp, extra = parse_one(rest, False)
        assert extra == b""
        assert resp.status == 200
        assert json.loads(resp.body)["len"] == 5
        # and the connection is still good
        sock.sendall(get())
        again = _recv_until(sock, lambda b: parse_one(b, False) is not None, 5)
        assert parse_one(again, False)[0].body == INDEX_BODY


def test_expect_100_continue_oversized_gets_413_without_100(serve):
    s = serve("native_basic:app", "--max-body", "1k")
    with socket.create_connection(("127.0.0.1", s.port), timeout=5 * SLOW) as sock:
        sock.sendall(post(b"Content-Length: 2048\r\nExpect: 100-continue\r\n"))
        data = _recv_until(sock, lambda b: False, 3)  # until the server closes
    assert not data.startswith(b"HTTP/1.1 100"), data
    assert b" 100 Continue" not in data
    resp, extra = parse_one(data, False)
    assert resp.status == 413 and extra == b""
    assert resp.header("connection") == "close"


def test_expect_100_continue_ignored_on_http10(serve):
    s = serve("native_basic:app")
    with socket.create_connection(("127.0.0.1", s.port), timeout=5 * SLOW) as sock:
        sock.sendall(b"POST /items HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        early = _recv_until(sock, lambda b: False, 0.5)
        assert early == b""  # RFC 9110 10.1.1: no 100 to an HTTP/1.0 client
        sock.sendall(b"hello")
        data = _recv_until(sock, lambda b: False, 3)
    resp, extra = parse_one(data, False)
    assert resp.status == 200 and json.loads(resp.body)["len"] == 5 and extra == b""


def test_expect_with_body_already_sent(serve):
    """The body arrived with the head: any 100 must come before the 200."""
    s = serve("native_basic:app")
    data = post(b"Content-Length: 5\r\nExpect: 100-continue\r\n", b"hello") + get(
        headers=b"Connection: close\r\n")
    interim, got, closed, rest = exchange(s.port, data, 2)
    assert [r.status for r in interim] in ([], [100])
    assert [r.status for r in got] == [200, 200] and closed and rest == b""
    assert json.loads(got[0].body)["len"] == 5


# ---------------------------------------------------------------------------
# the same requests delivered in pieces: the parser is resumable
# ---------------------------------------------------------------------------

SPLIT_CASES = [
    ("get", get(), 200, False),
    ("post-cl", post(b"Content-Length: 11\r\n", b"hello world"), 200, False),
    ("post-chunked", chunked(b"5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nT: v\r\n\r\n"), 200, False),
    ("bad-chunk-framing", chunked(b"5\r\nhelloXX\r\n0\r\n\r\n"), 400, True),
    ("obs-fold", get(headers=b"X-A: a\r\n b\r\n"), 400, True),
    ("http2", get(version=b"HTTP/2.0"), 505, True),
]


@pytest.mark.parametrize("name,data,status,closed", SPLIT_CASES, ids=[c[0] for c in SPLIT_CASES])
@pytest.mark.parametrize("piece", [1, 3])
def test_byte_by_byte_delivery_gives_same_answer(serve, name, data, status, closed, piece):
    s = serve("native_basic:app")
    with socket.create_connection(("127.0.0.1", s.port), timeout=5 * SLOW) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sent = 0
        for i in range(0, len(data), piece):  # bounded by len(data) (< 200 bytes)
            try:
                sock.sendall(data[i:i + piece])
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 1
            time.sleep(0.002)  # the behaviour under test: each piece its own read
        buf = _recv_until(sock, lambda b: parse_one(b, False) is not None, 5)
        parsed = parse_one(buf, False)
        assert parsed, buf
        resp, extra = parsed
        assert resp.status == status and extra == b""
        if status == 200 and b"/items" in data:
            assert json.loads(resp.body)["len"] in (5, 11)
        if closed:
            sock.settimeout(3 * SLOW)
            try:
                got_eof = sock.recv(1) == b""
            except socket.timeout:
                got_eof = False
            except ConnectionResetError:
                got_eof = True
            assert got_eof, "server kept the connection open"
        else:  # open and in step: a next request gets its own answer
            closed_now, rest = _follow_up(sock, b"")
            assert not closed_now and rest == b"", rest[:300]


def test_many_pipelined_requests_in_one_write(serve):
    s = serve("native_basic:app")
    n = 50
    data = b"".join(get(b"/users/%d" % i) for i in range(n)) + get(
        b"/users/999", b"Connection: close\r\n")
    interim, got, closed, rest = exchange(s.port, data, n + 1)
    assert [r.status for r in got] == [200] * (n + 1)
    assert [json.loads(r.body)["id"] for r in got] == list(range(n)) + [999]
    assert closed and rest == b""


def test_keepalive_connection_serves_many_sequential_requests(serve):
    s = serve("native_basic:app")
    with socket.create_connection(("127.0.0.1", s.port), timeout=5 * SLOW) as sock:
        for i in range(25):
            sock.sendall(post(b"Content-Length: %d\r\n" % i, b"x" * i))
            buf = _recv_until(sock, lambda b: parse_one(b, False) is not None, 5)
            resp, extra = parse_one(buf, False)
            assert resp.status == 200 and extra == b""
            assert json.loads(resp.body)["len"] == i


def test_every_split_point_of_a_pipelined_stream(serve):
    """One stream of four pipelined requests (chunked with extension and
    trailer, Content-Length with Expect, chunked, GET), delivered in two
    writes split at every possible byte: always the same four answers."""
    s = serve("native_basic:app")
    msg = (chunked(b"3;e=1\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n")
           + post(b"Content-Length: 4\r\nExpect: 100-continue\r\n", b"wxyz")
           + chunked(b"1\r\nz\r\n0\r\n\r\n")
           + get(b"/items?end=1"))
    failures = []
    for split in range(1, len(msg)):  # bounded: len(msg) - 1 connections
        with socket.create_connection(("127.0.0.1", s.port), timeout=5 * SLOW) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(msg[:split])
            time.sleep(0.002)  # the behaviour under test: the two parts in two reads
            sock.sendall(msg[split:])
            buf = b""
            finals: list[Resp] = []
            interims: list[tuple[int, int]] = []  # (status, finals before it)
            deadline = time.monotonic() + 5 * SLOW
            while len(finals) < 4 and time.monotonic() < deadline:
                parsed = parse_one(buf, False)
                if parsed:
                    r, buf = parsed
                    if r.status < 200:
                        interims.append((r.status, len(finals)))
                    else:
                        finals.append(r)
                    continue
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                try:
                    chunk = sock.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                buf += chunk
        got = [(r.status, json.loads(r.body).get("len")) for r in finals]
        # A 100 may only come for the Expect request, i.e. after the first answer.
        if got != [(200, 5), (200, 4), (200, 1), (200, 0)] or buf or interims not in (
                [], [(100, 1)]):
            failures.append((split, got, interims, buf[:80]))
    assert failures == []
