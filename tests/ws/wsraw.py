"""WebSocket bytes by hand (RFC 6455, RFC 7692), for tests that must send what no
well-behaved client library would: the opening handshake, frames with any bits,
lengths and masks, and a reader of the server's frames with a deadline. Written
from the RFCs; zlib does the deflate."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
import time
import zlib
from dataclasses import dataclass

from conftest import _LEFTOVER, SLOW, Closed, Resp, pending, read_response, recv_by  # noqa: F401 (Closed: wsraw.Closed)

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TAIL = b"\x00\x00\xff\xff"  # what RFC 7692 strips from (and appends to) each deflated message

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def new_key() -> str:
    return base64.b64encode(os.urandom(16)).decode()


def accept_value(key: str) -> str:
    """Sec-WebSocket-Accept for `key` (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


def upgrade_request(path: str = "/", key: str | None = None, *, version: str | None = "13",
                    method: str = "GET", http: str = "HTTP/1.1", upgrade: str | None = "websocket",
                    connection: str | None = "Upgrade", protocols: str | None = None,
                    extensions: str | None = None, extra: list[tuple[str, str]] = ()) -> bytes:
    """An opening handshake request; None leaves a header out."""
    lines = [f"{method} {path} {http}", "Host: 127.0.0.1"]
    for name, value in (("Upgrade", upgrade), ("Connection", connection),
                        ("Sec-WebSocket-Key", new_key() if key is None else key),
                        ("Sec-WebSocket-Version", version),
                        ("Sec-WebSocket-Protocol", protocols),
                        ("Sec-WebSocket-Extensions", extensions), *extra):
        if value is not None:
            lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def frame(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0,
          mask: bool = True, length: str | None = None, key: bytes | None = None) -> bytes:
    """One frame as a client would send it: masked unless `mask` is False. `rsv`
    is the three RSV bits (4 = RSV1). `length` forces the encoding of the
    payload length ("7", "16" or "64" bits) instead of the shortest."""
    b0 = (0x80 if fin else 0) | (rsv & 7) << 4 | (opcode & 0xF)
    n = len(payload)
    form = length or ("7" if n < 126 else "16" if n < 65536 else "64")
    mbit = 0x80 if mask else 0
    if form == "7":
        head = struct.pack("!BB", b0, mbit | n)
    elif form == "16":
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = key if key is not None else os.urandom(4)
    return head + key + masked(payload, key)


def masked(payload: bytes, key: bytes) -> bytes:
    """payload XOR the repeated 4-byte key (both directions of masking)."""
    if not payload:
        return b""
    reps = (len(payload) + 3) // 4
    k = int.from_bytes((key * reps)[:len(payload)], "big")
    return (int.from_bytes(payload, "big") ^ k).to_bytes(len(payload), "big")


def close_payload(code: int | None, reason: bytes = b"") -> bytes:
    return b"" if code is None else struct.pack("!H", code) + reason


class Deflater:
    """The client side of permessage-deflate: one message in, the frame payload
    out (tail stripped); a new compressor per message without context takeover."""

    def __init__(self, window_bits: int = 15, takeover: bool = True):
        self.bits, self.takeover = window_bits, takeover
        self.z = zlib.compressobj(wbits=-window_bits)

    def compress(self, data: bytes) -> bytes:
        if not self.takeover:
            self.z = zlib.compressobj(wbits=-self.bits)
        out = self.z.compress(data) + self.z.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(TAIL)
        return out[:-4]


class Inflater:
    """The client's inflater for the server's messages (window 15 accepts any)."""

    def __init__(self, takeover: bool = True):
        self.takeover = takeover
        self.z = zlib.decompressobj(wbits=-15)

    def decompress(self, data: bytes) -> bytes:
        if not self.takeover:
            self.z = zlib.decompressobj(wbits=-15)
        return self.z.decompress(data + TAIL)


@dataclass
class Frame:
    fin: bool
    rsv: int
    opcode: int
    payload: bytes
    was_masked: bool

    @property
    def code(self) -> int | None:
        """A close frame's status code (None when it had no payload)."""
        return struct.unpack("!H", self.payload[:2])[0] if len(self.payload) >= 2 else None

    @property
    def reason(self) -> bytes:
        return self.payload[2:]


@dataclass
class Handshake:
    """What an opening handshake got: the response and, when it was 101, a Conn."""
    resp: Resp
    conn: "Conn | None"

    def header(self, name: str) -> str | None:
        vals = [v for k, v in self.resp.headers if k == name.lower()]
        return ", ".join(vals) if vals else None


class Conn:
    """An open WebSocket client connection on a raw socket."""

    def __init__(self, sock: socket.socket, buf: bytes = b"", inflater: Inflater | None = None,
                 deflater: Deflater | None = None):
        self.sock, self.buf = sock, buf
        self.inflater, self.deflater = inflater, deflater

    # -- sending
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_frame(self, opcode: int, payload: bytes = b"", **kw) -> None:
        self.sock.sendall(frame(opcode, payload, **kw))

    def send_text(self, text: str | bytes, compress: bool = False) -> None:
        self.send_message(TEXT, text.encode() if isinstance(text, str) else text, compress)

    def send_message(self, opcode: int, data: bytes, compress: bool = False) -> None:
        if compress:
            assert self.deflater, "permessage-deflate was not agreed"
            self.send_frame(opcode, self.deflater.compress(data), rsv=4)
        else:
            self.send_frame(opcode, data)

    def send_close(self, code: int | None = 1000, reason: bytes = b"") -> None:
        self.send_frame(CLOSE, close_payload(code, reason))

    # -- reading
    def _fill(self, deadline: float) -> None:
        self.buf += recv_by(self.sock, deadline, "frame", self.buf, 1 << 20)

    def _need(self, n: int, deadline: float) -> None:
        while len(self.buf) < n:
            self._fill(deadline)

    def read_frame(self, timeout: float = 5.0) -> Frame:
        """The server's next frame, whole; TimeoutError or Closed otherwise."""
        deadline = time.monotonic() + timeout * SLOW
        self._need(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        n, at = b1 & 0x7F, 2
        if n == 126:
            self._need(4, deadline)
            n, at = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10, deadline)
            n, at = struct.unpack("!Q", self.buf[2:10])[0], 10
        key = b""
        if b1 & 0x80:
            self._need(at + 4, deadline)
            key, at = self.buf[at:at + 4], at + 4
        self._need(at + n, deadline)
        payload = self.buf[at:at + n]
        self.buf = self.buf[at + n:]
        if key:
            payload = masked(payload, key)
        return Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0xF, payload, bool(key))

    def read_message(self, timeout: float = 5.0, skip_pongs: bool = True) -> tuple[int, bytes]:
        """(opcode, data) of the next whole data message, inflated; a close
        frame instead raises AssertionError naming its code."""
        deadline = time.monotonic() + timeout * SLOW
        parts: list[bytes] = []
        op, rsv1 = None, False
        while True:
            f = self.read_frame(max(0.0, deadline - time.monotonic()) / SLOW)
            assert not f.was_masked, "the server masked a frame"
            if f.opcode == PONG and skip_pongs:
                continue
            if f.opcode == CLOSE:
                raise AssertionError(f"close {f.code} {f.reason!r} instead of a message")
            if op is None:
                assert f.opcode in (TEXT, BINARY), f"first frame opcode {f.opcode}"
                op, rsv1 = f.opcode, bool(f.rsv & 4)
                assert f.rsv & 3 == 0
            else:
                assert f.opcode == CONT and f.rsv == 0, f"bad continuation {f}"
            parts.append(f.payload)
            if f.fin:
                break
        data = b"".join(parts)
        if rsv1:
            assert self.inflater, "a compressed message without permessage-deflate"
            data = self.inflater.decompress(data)
        return op, data

    def expect_close(self, timeout: float = 5.0, reply: bool = True) -> Frame:
        """Reads up to the server's close frame (data messages before it are
        skipped), answers it with a close unless `reply` is False, then waits
        for the server to close the TCP connection. The close frame."""
        deadline = time.monotonic() + timeout * SLOW
        while True:
            f = self.read_frame(max(0.0, deadline - time.monotonic()) / SLOW)
            if f.opcode == CLOSE:
                break
        if reply:
            try:
                self.send_frame(CLOSE, f.payload[:2])
            except OSError:
                pass  # the server already closed: fine
        self.expect_eof(max(0.0, deadline - time.monotonic()) / SLOW + 2)
        return f

    def expect_eof(self, timeout: float = 5.0) -> None:
        """Until the server closes the TCP connection (no frames allowed before)."""
        deadline = time.monotonic() + timeout * SLOW
        while True:
            try:
                self._fill(deadline)
            except Closed:
                return
            raise AssertionError(f"bytes after the close frame: {self.buf[:80]!r}")

    def close(self) -> None:
        self.sock.close()


def handshake(port: int, request: bytes, timeout: float = 5.0) -> Handshake:
    """Sends an opening handshake; the response and (on 101) the connection."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW)
    sock.sendall(request)
    resp = read_response_upgrade(sock, timeout)
    if resp.status != 101:
        sock.close()
        return Handshake(resp, None)
    buf = pending(sock)
    return Handshake(resp, Conn(sock, buf))


def read_response_upgrade(sock: socket.socket, timeout: float) -> Resp:
    """A 101 has no body and no Content-Length: read just its head; others as usual."""
    deadline = time.monotonic() + timeout * SLOW
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += recv_by(sock, deadline, "response head", buf)
        if buf.startswith(b"HTTP/1.1 101") and b"\r\n\r\n" in buf:
            head, _, rest = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = [(k.strip().lower(), v.strip()) for k, _, v in
                       (line.partition(":") for line in lines[1:])]
            r = Resp(101, lines[0].split(" ", 2)[2] if lines[0].count(" ") >= 2 else "",
                     headers, b"", head)
            _LEFTOVER[sock] = rest
            return r
    # not a 101: hand the bytes back to the generic reader
    _LEFTOVER[sock] = buf
    return read_response(sock, timeout=max(0.1, deadline - time.monotonic()) / SLOW)


def connect(port: int, path: str = "/", *, deflate: str | None = None,
            client_bits: int = 15, client_takeover: bool = True, timeout: float = 5.0,
            **kw) -> tuple[Conn, Handshake]:
    """Opens a WebSocket (asserts the 101 and its accept value). `deflate`: the
    Sec-WebSocket-Extensions offer; when the server agrees, the Conn gets a
    deflater (client_bits window) and an inflater that follow the answer's
    context-takeover parameters."""
    key = new_key()
    hs = handshake(port, upgrade_request(path, key, extensions=deflate, **kw), timeout)
    assert hs.resp.status == 101, f"{hs.resp.status} {hs.resp.body[:200]!r}"
    assert hs.header("sec-websocket-accept") == accept_value(key)
    ext = hs.header("sec-websocket-extensions")
    if ext:
        params = parse_extension(ext)
        assert params is not None, f"extension answered: {ext}"
        takeover_out = "client_no_context_takeover" not in params and client_takeover
        takeover_in = "server_no_context_takeover" not in params
        bits = min(client_bits, int(params.get("client_max_window_bits") or 15))
        hs.conn.deflater = Deflater(bits, takeover_out)
        hs.conn.inflater = Inflater(takeover_in)
    return hs.conn, hs


def parse_extension(value: str) -> dict[str, str | None] | None:
    """The parameters of a single permessage-deflate answer; None when it is
    not exactly one permessage-deflate (RFC 7692 §5: one answer per extension)."""
    offers = [o.strip() for o in value.split(",") if o.strip()]
    if len(offers) != 1:
        return None
    parts = [p.strip() for p in offers[0].split(";")]
    if parts[0] != "permessage-deflate":
        return None
    params: dict[str, str | None] = {}
    for p in parts[1:]:
        k, eq, v = p.partition("=")
        params[k.strip()] = v.strip().strip('"') if eq else None
    return params
