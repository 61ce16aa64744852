"""WebSocket conformance (RFC 6455, RFC 7692) over real sockets: the opening handshake,
framing, fragmentation, control frames, UTF-8, the closing handshake, the message limit
and permessage-deflate, sent byte by byte with wsraw; then echoes through the `websockets`
client library. Every case runs against frostfork's native echo route and against the
raw ASGI echo app under frostfork --asgi (and, with FROSTFORK_WS_REFERENCE=1, the same
ASGI app under uvicorn, the reference the expectations were checked on)."""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import zlib

import pytest

import wsraw
from wsraw import BINARY, CLOSE, CONT, PING, PONG, TEXT, connect, frame, handshake, upgrade_request
from wsservers import LIMIT, close_path, ws_server  # noqa: F401  (a fixture)

ECHO = "/echo"


def refused(hs: wsraw.Handshake) -> None:
    """The handshake was answered, and not with 101."""
    assert hs.conn is None and 400 <= hs.resp.status < 500, hs.resp


def echo(conn: wsraw.Conn, opcode: int, data: bytes, compress: bool = False) -> None:
    conn.send_message(opcode, data, compress)
    assert conn.read_message() == (opcode, data)


def fails_with(conn: wsraw.Conn, *codes: int) -> wsraw.Frame:
    """The server answers a protocol violation with a close frame carrying one of
    `codes`, then closes the TCP connection."""
    f = conn.expect_close()
    assert f.code in codes, f"close {f.code} {f.reason!r}, expected {codes}"
    return f


# ---- the opening handshake (RFC 6455 §4.2) ---------------------------------------------

def test_handshake_accepts(ws_server):
    key = wsraw.new_key()
    hs = handshake(ws_server.port, upgrade_request(ECHO, key))
    assert hs.resp.status == 101
    assert hs.header("upgrade").lower() == "websocket"
    assert "upgrade" in hs.header("connection").lower()
    assert hs.header("sec-websocket-accept") == wsraw.accept_value(key)
    assert hs.header("sec-websocket-protocol") is None
    echo(hs.conn, TEXT, b"hi")
    hs.conn.close()


def test_handshake_accept_value_of_the_rfc_example(ws_server):
    hs = handshake(ws_server.port, upgrade_request(ECHO, "dGhlIHNhbXBsZSBub25jZQ=="))
    assert hs.header("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    hs.conn.close()


@pytest.mark.parametrize("key", [
    "", "short", "AAAAAAAAAAAAAAAAAAAA",  # 15 bytes
    "AAAAAAAAAAAAAAAAAAAAAAA=",  # 17 bytes' length but padding wrong
    "!!!!!!!!!!!!!!!!!!!!!!==", "dGhlIHNhbXBsZSBub25jZQ==dGhl",
], ids=["empty", "short", "15-bytes", "bad-padding", "not-base64", "too-long"])
def test_handshake_bad_key_is_400(ws_server, key):
    hs = handshake(ws_server.port, upgrade_request(ECHO, key))
    assert hs.resp.status == 400, hs.resp


def test_handshake_missing_key_is_400(ws_server):
    req = upgrade_request(ECHO).replace(b"Sec-WebSocket-Key", b"X-Not-The-Key")
    assert handshake(ws_server.port, req).resp.status == 400


@pytest.mark.parametrize("version", ["8", "12", "14", "7", "abc"])
def test_handshake_other_version_is_426(ws_server, version):
    hs = handshake(ws_server.port, upgrade_request(ECHO, version=version))
    if ws_server.kind == "uvicorn":  # the reference answers 400 without the header
        assert hs.resp.status == 400
        return
    assert hs.resp.status == 426, hs.resp
    assert "13" in [v.strip() for v in hs.header("sec-websocket-version").split(",")]


def test_handshake_missing_version_is_refused(ws_server):
    hs = handshake(ws_server.port, upgrade_request(ECHO, version=None))
    refused(hs)
    assert hs.resp.status in (400, 426)


@pytest.mark.parametrize("upgrade,connection", [
    (None, "Upgrade"), ("h2c", "Upgrade"), ("websocket", None), ("websocket", "keep-alive"),
], ids=["no-upgrade", "upgrade-h2c", "no-connection", "connection-keep-alive"])
def test_handshake_without_upgrade_tokens_is_refused(ws_server, upgrade, connection):
    refused(handshake(ws_server.port, upgrade_request(ECHO, upgrade=upgrade,
                                                      connection=connection)))


@pytest.mark.parametrize("upgrade,connection", [
    ("WebSocket", "Upgrade"), ("websocket", "upgrade"), ("websocket", "keep-alive, Upgrade"),
    ("websocket", "Upgrade, keep-alive"),
], ids=["mixed-case-upgrade", "lower-connection", "token-list-last", "token-list-first"])
def test_handshake_token_forms_are_accepted(ws_server, upgrade, connection):
    hs = handshake(ws_server.port, upgrade_request(ECHO, upgrade=upgrade, connection=connection))
    assert hs.resp.status == 101, hs.resp
    echo(hs.conn, TEXT, b"ok")
    hs.conn.close()


def test_handshake_post_is_refused(ws_server):
    refused(handshake(ws_server.port, upgrade_request(ECHO, method="POST")))


def test_handshake_http10_is_refused(ws_server):
    try:
        hs = handshake(ws_server.port, upgrade_request(ECHO, http="HTTP/1.0"))
    except wsraw.Closed:
        return  # closing without an answer refuses too
    if ws_server.kind == "uvicorn":  # the reference upgrades an HTTP/1.0 request
        return
    assert hs.resp.status != 101


def test_plain_get_of_a_websocket_route_is_not_upgraded(ws_server):
    with socket.create_connection(("127.0.0.1", ws_server.port), timeout=5) as s:
        s.sendall(b"GET /echo HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        data = b"".join(iter(lambda: s.recv(65536), b""))
    status = int(data.split(b" ", 2)[1])
    assert 400 <= status < 500, data[:200]


@pytest.mark.parametrize("offer,chosen", [
    ("chat", "chat"), ("other, chat", "chat"), ("chat, other", "chat"), ("other", None),
    ("other,  chat ", "chat"),
], ids=["only", "second", "first", "none-acceptable", "spaces"])
def test_subprotocol_negotiation(ws_server, offer, chosen):
    hs = handshake(ws_server.port, upgrade_request(ECHO, protocols=offer))
    assert hs.resp.status == 101
    assert hs.header("sec-websocket-protocol") == chosen
    hs.conn.close()


def test_subprotocol_offered_in_two_headers(ws_server):
    req = upgrade_request(ECHO, protocols="other", extra=[("Sec-WebSocket-Protocol", "chat")])
    hs = handshake(ws_server.port, req)
    assert hs.resp.status == 101 and hs.header("sec-websocket-protocol") == "chat"
    hs.conn.close()


# permessage-deflate offers (RFC 7692 §7.1): accepted (with what the answer must or must
# not hold) or declined (101 without the extension)
ACCEPTED_OFFERS = [
    ("permessage-deflate", {}),
    ("permessage-deflate; client_max_window_bits", {}),
    ("permessage-deflate; server_no_context_takeover", {"server_no_context_takeover": None}),
    ("permessage-deflate; client_no_context_takeover", {}),
    ("permessage-deflate; server_max_window_bits=10", {"server_max_window_bits": "<=10"}),
    ("permessage-deflate; server_max_window_bits=15", {"server_max_window_bits": "<=15"}),
    ("permessage-deflate; client_max_window_bits=9", {"client_max_window_bits": "<=9?"}),
    ("permessage-deflate; client_max_window_bits=15; server_no_context_takeover",
     {"server_no_context_takeover": None}),
    ("permessage-deflate; server_max_window_bits=7, permessage-deflate", {}),
    ("x-unknown, permessage-deflate", {}),
    ("permessage-deflate; client_max_window_bits=\"12\"", {}),
]
DECLINED_OFFERS = [
    "permessage-deflate; server_max_window_bits=7",
    "permessage-deflate; server_max_window_bits=16",
    "permessage-deflate; server_max_window_bits",
    "permessage-deflate; client_max_window_bits=7",
    "permessage-deflate; client_max_window_bits=16",
    "permessage-deflate; client_max_window_bits=abc",
    "permessage-deflate; server_no_context_takeover=1",
    "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    "permessage-deflate; unknown_param",
    "x-webkit-deflate-frame",
    "deflate-frame",
]


@pytest.mark.parametrize("offer,must", ACCEPTED_OFFERS, ids=[o for o, _ in ACCEPTED_OFFERS])
def test_deflate_offer_accepted(ws_server, offer, must):
    conn, hs = connect(ws_server.port, ECHO, deflate=offer)
    params = wsraw.parse_extension(hs.header("sec-websocket-extensions") or "")
    assert params is not None, hs.header("sec-websocket-extensions")
    for name, want in must.items():
        if want is None:
            assert name in params
        elif want.startswith("<="):
            limit = int(want[2:].rstrip("?"))
            if want.endswith("?") and name not in params:
                continue
            assert 8 <= int(params[name]) <= limit
    if "client_max_window_bits" in params:
        assert "client_max_window_bits" in offer  # only when the client offered it
    echo(conn, TEXT, b"compressed " * 20, compress=True)
    conn.close()


@pytest.mark.parametrize("offer", DECLINED_OFFERS)
def test_deflate_offer_declined(ws_server, offer):
    hs = handshake(ws_server.port, upgrade_request(ECHO, extensions=offer))
    assert hs.resp.status == 101, hs.resp
    assert hs.header("sec-websocket-extensions") is None
    # without the extension, RSV1 is a protocol error
    hs.conn.send_frame(TEXT, wsraw.Deflater().compress(b"x"), rsv=4)
    fails_with(hs.conn, 1002)


# ---- framing (RFC 6455 §5.2) -----------------------------------------------------------

SIZES = [0, 1, 125, 126, 127, 65535, 65536, 100_000]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("opcode", [TEXT, BINARY], ids=["text", "binary"])
def test_echo_lengths(ws_server, opcode, size):
    conn, _ = connect(ws_server.port, ECHO)
    data = (b"abcdefghij" * (size // 10 + 1))[:size] if opcode == TEXT else os.urandom(size)
    echo(conn, opcode, data)
    conn.send_close(1000)
    assert conn.expect_close().code == 1000


@pytest.mark.parametrize("form", ["16", "64"])
def test_non_minimal_length_encoding_is_read(ws_server, form):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send_frame(TEXT, b"hello", length=form)
    assert conn.read_message() == (TEXT, b"hello")
    conn.close()


def test_unmasked_frame_is_1002(ws_server):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send_frame(TEXT, b"not masked", mask=False)
    fails_with(conn, 1002)


def test_all_zero_mask_is_fine(ws_server):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send_frame(TEXT, b"zero key", key=b"\0\0\0\0")
    assert conn.read_message() == (TEXT, b"zero key")
    conn.close()


@pytest.mark.parametrize("rsv", range(1, 8))
def test_rsv_bits_without_extension_are_1002(ws_server, rsv):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send_frame(TEXT, b"rsv", rsv=rsv)
    fails_with(conn, 1002)


@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_reserved_opcodes_are_1002(ws_server, opcode):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send_frame(opcode, b"x")
    fails_with(conn, 1002)


def test_reserved_opcode_after_a_good_message_is_1002(ws_server):
    conn, _ = connect(ws_server.port, ECHO)
    echo(conn, TEXT, b"first")
    conn.send_frame(0xB, b"")
    fails_with(conn, 1002)


def test_64bit_length_with_top_bit_is_refused(ws_server):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send(bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 1 << 63) + b"\1\2\3\4")
    fails_with(conn, 1002, 1009)


def test_frames_in_one_write_are_all_answered(ws_server):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send(b"".join(frame(TEXT, f"m{i}".encode()) for i in range(50)))
    for i in range(50):
        assert conn.read_message() == (TEXT, f"m{i}".encode())
    conn.close()


def test_frame_sent_byte_by_byte(ws_server):
    conn, _ = connect(ws_server.port, ECHO)
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for b in frame(BINARY, b"dribbled" * 4):
        conn.send(bytes([b]))
    assert conn.read_message() == (BINARY, b"dribbled" * 4)
    conn.close()


# ---- fragmentation (RFC 6455 §5.4) -----------------------------------------------------

def send_fragments(conn: wsraw.Conn, opcode: int, parts: list[bytes], rsv: int = 0) -> None:
    for i, part in enumerate(parts):
        conn.send_frame(opcode if i == 0 else CONT, part, fin=i == len(parts) - 1,
                        rsv=rsv if i == 0 else 0)


@pytest.mark.parametrize("n", [1, 2, 3, 10, 64])
@pytest.mark.parametrize("opcode", [TEXT, BINARY], ids=["text", "binary"])
def test_fragmented_message_is_reassembled(ws_server, opcode, n):
    conn, _ = connect(ws_server.port, ECHO)
    data = b"fragment-" * 30
    step = -(-len(data) // n)
    parts = [data[i * step:(i + 1) * step] for i in range(n)]
    send_fragments(conn, opcode, parts)
    assert conn.read_message() == (opcode, data)
    conn.close()


@pytest.mark.parametrize("parts", [[b"", b"abc"], [b"abc", b""], [b"", b"", b""]],
                         ids=["empty-first", "empty-last", "all-empty"])
def test_empty_fragments(ws_server, parts):
    conn, _ = connect(ws_server.port, ECHO)
    send_fragments(conn, TEXT, parts)
    assert conn.read_message() == (TEXT, b"".join(parts))
    conn.close()


@pytest.mark.parametrize("opcode", [TEXT, BINARY], ids=["text", "binary"])
def test_ping_between_fragments_is_answered_first(ws_server, opcode):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send_frame(opcode, b"one ", fin=False)
    conn.send_frame(PING, b"in between")
    f = conn.read_frame()
    assert (f.opcode, f.payload) == (PONG, b"in between")
    conn.send_frame(CONT, b"two ", fin=False)
    conn.send_frame(PING, b"again")
    conn.send_frame(CONT, b"three")
    f = conn.read_frame()
    assert (f.opcode, f.payload) == (PONG, b"again")
    assert conn.read_message() == (opcode, b"one two three")
    conn.close()


def test_pong_between_fragments_is_ignored(ws_server):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send_frame(TEXT, b"a", fin=False)
    conn.send_frame(PONG, b"unsolicited")
    conn.send_frame(CONT, b"b")
    f = conn.read_frame()
    assert (f.opcode, f.payload) == (TEXT, b"ab")
    conn.close()


def test_close_between_fragments_is_answered(ws_server):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send_frame(TEXT, b"half", fin=False)
    conn.send_close(1000)
    assert conn.expect_close(reply=False).code == 1000


@pytest.mark.parametrize("fin", [True, False], ids=["final", "not-final"])
def test_continuation_without_a_start_is_1002(ws_server, fin):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send_frame(CONT, b"orphan", fin=fin)
    fails_with(conn, 1002)


def test_continuation_after_a_whole_message_is_1002(ws_server):
    conn, _ = connect(ws_server.port, ECHO)
    echo(conn, TEXT, b"whole")
    conn.send_frame(CONT, b"late")
    fails_with(conn, 1002)


@pytest.mark.parametrize("inner", [TEXT, BINARY], ids=["text", "binary"])
@pytest.mark.parametrize("outer", [TEXT, BINARY], ids=["in-text", "in-binary"])
def test_new_message_inside_a_fragmented_one_is_1002(ws_server, outer, inner):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send_frame(outer, b"started", fin=False)
    conn.send_frame(inner, b"intruder")
    fails_with(conn, 1002)


# ---- control frames (RFC 6455 §5.5) ----------------------------------------------------

@pytest.mark.parametrize("payload", [b"", b"x", b"p" * 125, bytes(range(100)),
                                     "κόσμε".encode()],
                         ids=["empty", "one", "125", "binary", "utf8"])
def test_ping_gets_a_pong_with_the_same_payload(ws_server, payload):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send_frame(PING, payload)
    f = conn.read_frame()
    assert (f.opcode, f.payload, f.fin) == (PONG, payload, True)
    conn.close()


def test_many_pings_get_as_many_pongs(ws_server):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send(b"".join(frame(PING, str(i).encode()) for i in range(20)))
    got = [conn.read_frame() for _ in range(20)]
    assert [(f.opcode, f.payload) for f in got] == [(PONG, str(i).encode()) for i in range(20)]
    conn.close()


@pytest.mark.parametrize("payload", [b"", b"q" * 125], ids=["empty", "125"])
def test_unsolicited_pong_is_ignored(ws_server, payload):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send_frame(PONG, payload)
    conn.send_frame(TEXT, b"after the pong")
    f = conn.read_frame()
    assert (f.opcode, f.payload) == (TEXT, b"after the pong")
    conn.close()


@pytest.mark.parametrize("size", [126, 200, 1000])
@pytest.mark.parametrize("opcode", [PING, PONG, CLOSE], ids=["ping", "pong", "close"])
def test_control_frame_over_125_bytes_is_1002(ws_server, opcode, size):
    conn, _ = connect(ws_server.port, ECHO)
    payload = struct.pack("!H", 1000) + b"r" * (size - 2) if opcode == CLOSE else b"p" * size
    conn.send_frame(opcode, payload)
    fails_with(conn, 1002)


@pytest.mark.parametrize("opcode", [PING, PONG, CLOSE], ids=["ping", "pong", "close"])
def test_fragmented_control_frame_is_1002(ws_server, opcode):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send_frame(opcode, struct.pack("!H", 1000) if opcode == CLOSE else b"frag", fin=False)
    fails_with(conn, 1002)


# ---- UTF-8 (RFC 6455 §8.1) -------------------------------------------------------------

VALID_UTF8 = ["", "ascii", "κόσμε", "€", "𝄞", "\ufeffbom", "\uffff", "\U0010ffff", "\u0800",
              "\ud7ff", "\ue000", "mixed ü € 𝄞 end"]
INVALID_UTF8 = {
    "lone-ff": b"\xff", "lone-fe": b"\xfe", "lone-continuation": b"\x80",
    "overlong-slash-2": b"\xc0\xaf", "overlong-nul": b"\xc0\x80", "overlong-3": b"\xe0\x80\xaf",
    "overlong-4": b"\xf0\x80\x80\xaf", "surrogate-high": b"\xed\xa0\x80",
    "surrogate-low": b"\xed\xbf\xbf", "above-10ffff": b"\xf4\x90\x80\x80",
    "f5-lead": b"\xf5\x80\x80\x80", "truncated-end": b"hello\xc3",
    "truncated-middle": b"\xce\xba\xe1 x", "cesu-pair": b"\xed\xa0\xbd\xed\xb2\xa9",
}


@pytest.mark.parametrize("text", VALID_UTF8, ids=[t.encode().hex() or "empty" for t in VALID_UTF8])
def test_valid_utf8_is_echoed(ws_server, text):
    conn, _ = connect(ws_server.port, ECHO)
    echo(conn, TEXT, text.encode())
    conn.close()


@pytest.mark.parametrize("data", list(INVALID_UTF8.values()), ids=list(INVALID_UTF8))
def test_invalid_utf8_is_1007(ws_server, data):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send_frame(TEXT, data)
    fails_with(conn, 1007)


def test_invalid_utf8_in_binary_is_fine(ws_server):
    conn, _ = connect(ws_server.port, ECHO)
    echo(conn, BINARY, b"\xff\xfe\xed\xa0\x80")
    conn.close()


SPLIT = "€𝄞".encode()  # 3 + 4 bytes: every split point cuts inside a code point but one


@pytest.mark.parametrize("at", range(1, len(SPLIT)))
def test_utf8_split_across_fragments_is_valid(ws_server, at):
    conn, _ = connect(ws_server.port, ECHO)
    send_fragments(conn, TEXT, [SPLIT[:at], SPLIT[at:]])
    assert conn.read_message() == (TEXT, SPLIT)
    conn.close()


def test_utf8_in_one_byte_fragments(ws_server):
    conn, _ = connect(ws_server.port, ECHO)
    data = "κόσμε 𝄞".encode()
    send_fragments(conn, TEXT, [bytes([b]) for b in data])
    assert conn.read_message() == (TEXT, data)
    conn.close()


@pytest.mark.parametrize("parts", [
    [b"\xce", b"\xff"], [b"\xed", b"\xa0\x80"], [b"ok \xe2\x82", b""], [b"\xf0\x90", b"\x80"],
    [b"abc", b"\xc0\xaf"],
], ids=["bad-continuation", "surrogate-split", "truncated-at-end", "truncated-4", "overlong-late"])
def test_utf8_split_invalid_is_1007(ws_server, parts):
    conn, _ = connect(ws_server.port, ECHO)
    send_fragments(conn, TEXT, parts)
    fails_with(conn, 1007)


def test_invalid_utf8_in_a_first_fragment_fails(ws_server):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send_frame(TEXT, b"\xff bad start", fin=False)
    try:
        conn.send_frame(CONT, b" end")
    except OSError:
        pass  # it may have failed the connection already (fail fast)
    fails_with(conn, 1007)


# ---- the closing handshake (RFC 6455 §5.5.1, §7.4) ------------------------------------

VALID_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
               3000, 3999, 4000, 4999]
INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]


@pytest.mark.parametrize("code", VALID_CODES)
def test_close_code_is_echoed(ws_server, code):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send_close(code, b"reason")
    f = conn.expect_close(reply=False)
    assert f.code == code


@pytest.mark.parametrize("code", INVALID_CODES)
def test_invalid_close_code_is_1002(ws_server, code):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send_close(code)
    fails_with(conn, 1002)


def test_close_without_payload_is_answered(ws_server):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send_close(None)
    f = conn.expect_close(reply=False)
    assert f.code in (None, 1000)


def test_close_with_one_byte_payload_is_1002(ws_server):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send_frame(CLOSE, b"\x03")
    fails_with(conn, 1002)


@pytest.mark.parametrize("reason", [b"bye", "κόσμε".encode(), b"r" * 123],
                         ids=["ascii", "utf8", "123-bytes"])
def test_close_with_reason(ws_server, reason):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send_close(1000, reason)
    assert conn.expect_close(reply=False).code == 1000


@pytest.mark.parametrize("reason", [b"\xff", b"ok\xed\xa0\x80", b"\xc0\xaf"],
                         ids=["ff", "surrogate", "overlong"])
def test_close_reason_not_utf8_is_1007(ws_server, reason):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send_close(1000, reason)
    fails_with(conn, 1007, 1002)


def test_frames_after_the_close_are_ignored(ws_server):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send(frame(CLOSE, struct.pack("!H", 1000)) + frame(TEXT, b"too late"))
    f = conn.expect_close(reply=False)
    assert f.code == 1000


def test_echo_then_close(ws_server):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send(frame(TEXT, b"last") + frame(CLOSE, struct.pack("!H", 1000)))
    f = conn.read_frame()
    if f.opcode == TEXT:  # RFC 6455 §5.5.1 lets the close go out before the echo is sent
        assert f.payload == b"last"
        f = conn.read_frame()
    assert (f.opcode, f.code) == (CLOSE, 1000)
    conn.expect_eof()


@pytest.mark.parametrize("code,reason", [(1000, ""), (1001, "going away"), (4001, "custom κ")])
def test_server_initiated_close(ws_server, code, reason):
    conn, _ = connect(ws_server.port, close_path(ws_server.kind, code, reason))
    f = conn.expect_close()  # answered, then the server closes the TCP connection
    assert (f.code, f.reason.decode()) == (code, reason)


def test_client_drops_tcp_and_the_server_goes_on(ws_server):
    for _ in range(3):
        conn, _ = connect(ws_server.port, ECHO)
        conn.send_frame(TEXT, b"half a message", fin=False)
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()  # a reset
    conn, _ = connect(ws_server.port, ECHO)
    echo(conn, TEXT, b"still serving")
    conn.close()


def test_eof_mid_frame_and_the_server_goes_on(ws_server):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send(frame(BINARY, b"x" * 1000)[:500])
    conn.sock.shutdown(socket.SHUT_WR)
    conn.expect_eof()
    conn.close()
    conn, _ = connect(ws_server.port, ECHO)
    echo(conn, TEXT, b"fine")
    conn.close()


# ---- the message limit (--ws-max-message) ----------------------------------------------

@pytest.mark.parametrize("parts", [1, 4])
def test_message_at_the_limit_is_echoed(ws_server, parts):
    conn, _ = connect(ws_server.port, ECHO)
    data = os.urandom(LIMIT)
    step = LIMIT // parts
    send_fragments(conn, BINARY, [data[i * step:(i + 1) * step] for i in range(parts)])
    assert conn.read_message(timeout=20) == (BINARY, data)
    conn.close()


@pytest.mark.parametrize("parts", [1, 4])
def test_message_over_the_limit_is_1009(ws_server, parts):
    conn, _ = connect(ws_server.port, ECHO)
    data = b"o" * (LIMIT + 1)
    step = -(-len(data) // parts)
    try:
        send_fragments(conn, BINARY, [data[i * step:(i + 1) * step] for i in range(parts)])
    except OSError:
        pass  # failed before it had all of it: fine
    fails_with(conn, 1009)


def test_declared_huge_length_is_1009_without_the_payload(ws_server):
    conn, _ = connect(ws_server.port, ECHO)
    conn.send(bytes([0x82, 0x80 | 127]) + struct.pack("!Q", 1 << 40) + b"\1\2\3\4")
    fails_with(conn, 1009)


def test_compressed_at_the_limit_is_echoed(ws_server):
    conn, _ = connect(ws_server.port, ECHO, deflate="permessage-deflate")
    assert conn.deflater
    echo(conn, BINARY, b"\0" * LIMIT, compress=True)
    conn.close()


@pytest.mark.parametrize("inflated", [LIMIT + 1, 64 * LIMIT], ids=["just-over", "bomb"])
def test_compressed_over_the_limit_is_1009(ws_server, inflated):
    conn, _ = connect(ws_server.port, ECHO, deflate="permessage-deflate")
    assert conn.deflater
    conn.send_message(BINARY, b"\0" * inflated, compress=True)
    fails_with(conn, 1009)


# ---- permessage-deflate (RFC 7692) -----------------------------------------------------

@pytest.mark.parametrize("size", [0, 10, 1000, 100_000])
@pytest.mark.parametrize("opcode", [TEXT, BINARY], ids=["text", "binary"])
def test_compressed_echo(ws_server, opcode, size):
    conn, _ = connect(ws_server.port, ECHO, deflate="permessage-deflate")
    data = (b"compress me " * (size // 12 + 1))[:size]
    echo(conn, opcode, data, compress=True)
    conn.close()


def test_incompressible_echo(ws_server):
    conn, _ = connect(ws_server.port, ECHO, deflate="permessage-deflate")
    echo(conn, BINARY, os.urandom(50_000), compress=True)
    conn.close()


def test_context_takeover_across_messages(ws_server):
    conn, _ = connect(ws_server.port, ECHO, deflate="permessage-deflate")
    data = b"the same sentence, again and again. " * 10
    sizes = []
    for _ in range(4):
        payload = conn.deflater.compress(data)
        sizes.append(len(payload))
        conn.send_frame(TEXT, payload, rsv=4)
        assert conn.read_message() == (TEXT, data)
    assert sizes[1] < sizes[0]  # the second refers back to the first: the server kept it
    conn.close()


def test_client_no_context_takeover(ws_server):
    conn, hs = connect(ws_server.port, ECHO,
                       deflate="permessage-deflate; client_no_context_takeover",
                       client_takeover=False)
    for _ in range(3):
        echo(conn, TEXT, b"reset each time " * 8, compress=True)
    conn.close()


def test_server_no_context_takeover(ws_server):
    conn, hs = connect(ws_server.port, ECHO, deflate="permessage-deflate; server_no_context_takeover")
    assert "server_no_context_takeover" in wsraw.parse_extension(
        hs.header("sec-websocket-extensions"))
    assert not conn.inflater.takeover  # a fresh inflater per message: the server must reset
    for _ in range(3):
        echo(conn, TEXT, b"the server resets each time " * 8, compress=True)
    conn.close()


@pytest.mark.parametrize("bits", [9, 10, 12, 15])
def test_client_max_window_bits(ws_server, bits):
    conn, hs = connect(ws_server.port, ECHO,
                       deflate=f"permessage-deflate; client_max_window_bits={bits}",
                       client_bits=bits)
    data = os.urandom(300) * 20  # repeats 300 bytes apart: fit any window
    echo(conn, BINARY, data, compress=True)
    conn.close()


@pytest.mark.parametrize("bits", [9, 10, 12, 15])
def test_server_max_window_bits(ws_server, bits):
    conn, hs = connect(ws_server.port, ECHO,
                       deflate=f"permessage-deflate; server_max_window_bits={bits}")
    agreed = int(wsraw.parse_extension(hs.header("sec-websocket-extensions"))
                 ["server_max_window_bits"])
    assert 8 <= agreed <= bits
    conn.inflater.z = zlib.decompressobj(wbits=-max(agreed, 9))  # what the client promised
    data = (os.urandom(2000) + b"tail") * 8  # back-references 2004 bytes apart
    conn.send_message(BINARY, data)
    op, got = conn.read_message()
    assert (op, got) == (BINARY, data)
    conn.close()


def test_rsv1_on_a_control_frame_is_1002(ws_server):
    conn, _ = connect(ws_server.port, ECHO, deflate="permessage-deflate")
    conn.send_frame(PING, b"compressed?", rsv=4)
    fails_with(conn, 1002)


def test_rsv1_on_a_continuation_is_1002(ws_server):
    conn, _ = connect(ws_server.port, ECHO, deflate="permessage-deflate")
    payload = conn.deflater.compress(b"two parts of a message")
    conn.send_frame(TEXT, payload[:5], fin=False, rsv=4)
    conn.send_frame(CONT, payload[5:], rsv=4)
    fails_with(conn, 1002)


@pytest.mark.parametrize("rsv", [2, 1, 6])
def test_rsv2_rsv3_with_deflate_are_1002(ws_server, rsv):
    conn, _ = connect(ws_server.port, ECHO, deflate="permessage-deflate")
    conn.send_frame(TEXT, b"x", rsv=rsv)
    fails_with(conn, 1002)


def test_fragmented_compressed_message(ws_server):
    conn, _ = connect(ws_server.port, ECHO, deflate="permessage-deflate")
    data = b"fragments of a compressed message " * 50
    payload = conn.deflater.compress(data)
    third = len(payload) // 3
    send_fragments(conn, TEXT, [payload[:third], payload[third:2 * third], payload[2 * third:]],
                   rsv=4)
    assert conn.read_message() == (TEXT, data)
    conn.close()


def test_compressed_and_plain_messages_interleaved(ws_server):
    conn, _ = connect(ws_server.port, ECHO, deflate="permessage-deflate")
    for i in range(6):
        echo(conn, TEXT if i % 3 else BINARY, f"message {i} ".encode() * 20, compress=i % 2 == 0)
    conn.close()


def test_compressed_invalid_utf8_is_1007(ws_server):
    conn, _ = connect(ws_server.port, ECHO, deflate="permessage-deflate")
    conn.send_message(TEXT, b"ok then \xed\xa0\x80", compress=True)
    fails_with(conn, 1007)


def test_corrupt_deflate_data_fails(ws_server):
    conn, _ = connect(ws_server.port, ECHO, deflate="permessage-deflate")
    conn.send_frame(BINARY, b"\xff\xff\xff\xff garbage", rsv=4)
    fails_with(conn, 1002, 1007)


# ---- the same through a client library (websockets) -----------------------------------

from websockets.sync.client import connect as _connect  # noqa: E402


def ws_connect(uri: str, **kw):
    """The library's client, never through a proxy from the environment."""
    return _connect(uri, proxy=None, **kw)


def ws_url(srv, path: str = ECHO) -> str:
    return f"ws://127.0.0.1:{srv.port}{path}"


@pytest.mark.parametrize("compression", ["deflate", None], ids=["deflate", "plain"])
@pytest.mark.parametrize("size", [0, 1, 125, 126, 65536, 1_000_000])  # deflated random
@pytest.mark.parametrize("kind", ["text", "binary"])  # bytes grow: room under the limit
def test_library_echo(ws_server, kind, size, compression):
    with ws_connect(ws_url(ws_server), compression=compression, max_size=2 * LIMIT,
                    open_timeout=10, close_timeout=10) as ws:
        data = ("é" * (size // 2) + "a" * (size % 2)) if kind == "text" else os.urandom(size)
        ws.send(data)
        assert ws.recv(timeout=20) == data
        negotiated = ws.response.headers.get("Sec-WebSocket-Extensions")
        assert bool(negotiated) == (compression == "deflate")


def test_library_many_messages(ws_server):
    with ws_connect(ws_url(ws_server), open_timeout=10, close_timeout=10) as ws:
        for i in range(200):
            ws.send(f"message {i}")
        assert [ws.recv(timeout=10) for _ in range(200)] == [f"message {i}" for i in range(200)]


def test_library_ping_pong(ws_server):
    with ws_connect(ws_url(ws_server), open_timeout=10, close_timeout=10) as ws:
        for i in range(5):
            assert ws.ping(f"ping {i}".encode()).wait(10)


def test_library_fragmented_send(ws_server):
    with ws_connect(ws_url(ws_server), open_timeout=10, close_timeout=10) as ws:
        ws.send(iter(["frag", "ment", "ed"]))
        assert ws.recv(timeout=10) == "fragmented"


@pytest.mark.parametrize("code", [1000, 1001, 4000])
def test_library_client_close_code(ws_server, code):
    with ws_connect(ws_url(ws_server), open_timeout=10, close_timeout=10) as ws:
        ws.send("x")
        assert ws.recv(timeout=10) == "x"
        ws.close(code, "bye")
    assert ws.protocol.close_rcvd.code == code


@pytest.mark.parametrize("code,reason", [(1000, "done"), (4002, "custom")])
def test_library_server_close_code(ws_server, code, reason):
    from websockets.exceptions import ConnectionClosed
    with ws_connect(ws_url(ws_server, close_path(ws_server.kind, code, reason)),
                    open_timeout=10, close_timeout=10) as ws:
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=10)
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (code, reason)


def test_library_subprotocol(ws_server):
    with ws_connect(ws_url(ws_server), subprotocols=["other", "chat"], open_timeout=10,
                    close_timeout=10) as ws:
        assert ws.subprotocol == "chat"


def test_library_concurrent_connections(ws_server):
    with contextlib.ExitStack() as stack:
        conns = [stack.enter_context(ws_connect(ws_url(ws_server), open_timeout=10,
                                                close_timeout=10)) for _ in range(50)]
        for i, ws in enumerate(conns):
            ws.send(f"conn {i}")
        for i, ws in enumerate(conns):
            assert ws.recv(timeout=10) == f"conn {i}"


@pytest.mark.parametrize("bits", [10, 15])
def test_library_offer_with_server_max_window_bits(ws_server, bits):
    """websockets refuses an answer that leaves out the server_max_window_bits it offered."""
    from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
    offer = ClientPerMessageDeflateFactory(server_max_window_bits=bits)
    with ws_connect(ws_url(ws_server), extensions=[offer], compression=None, open_timeout=10,
                    close_timeout=10) as ws:
        ws.send("through a small window " * 50)
        assert ws.recv(timeout=10) == "through a small window " * 50


# ---- the handshake's neighbours on the same connection ---------------------------------

def test_frame_in_the_same_packet_as_the_handshake(ws_server):
    if ws_server.kind == "uvicorn":
        pytest.skip("the reference (uvicorn --ws websockets) drops bytes sent with the handshake")
    key = wsraw.new_key()
    hs = handshake(ws_server.port, upgrade_request(ECHO, key) + frame(TEXT, b"eager"))
    assert hs.resp.status == 101
    assert hs.conn.read_message() == (TEXT, b"eager")
    hs.conn.close()


def test_upgrade_after_a_keep_alive_request(ws_server):
    from conftest import read_response
    with socket.create_connection(("127.0.0.1", ws_server.port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        first = read_response(s)
        assert first.status in (200, 426)
        s.sendall(upgrade_request(ECHO))
        resp = wsraw.read_response_upgrade(s, 5)
        assert resp.status == 101
        conn = wsraw.Conn(s, wsraw.pending(s))
        echo(conn, TEXT, b"upgraded second")


def test_handshake_with_a_body_is_refused(ws_server):
    req = upgrade_request(ECHO, extra=[("Content-Length", "5")]) + b"hello"
    try:
        hs = handshake(ws_server.port, req)
    except wsraw.Closed:
        return
    if ws_server.kind == "uvicorn":  # the reference upgrades it (and reads the body as frames)
        return
    refused(hs)


def test_client_close_while_the_server_streams(ws_server):
    if ws_server.kind != "frostfork":
        pytest.skip("the /flood route is the native app's")
    conn, _ = connect(ws_server.port, "/flood?n=40&size=262144")
    assert conn.read_message(timeout=10)[0] == BINARY
    conn.send_close(1000)
    f = conn.expect_close(timeout=20, reply=False)  # what was in flight, then the close
    assert f.code == 1000
