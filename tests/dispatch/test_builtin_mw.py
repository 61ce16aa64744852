"""The built-in middleware over real sockets: CORS (preflights and response
headers), gzip, and trusted proxy headers (dispatch/mw.c)."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from conftest import Server, parse_responses, raw, served


mw = served("mw_builtin_app:app", "--workers", "1")


def req(port: int, head: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    data = (head.replace("\n", "\r\n") + "\r\n").encode() + body
    out = raw(port, data)
    [(status, headers, payload)] = parse_responses(out)
    return status, {k.lower(): v for k, v in headers.items()}, payload


def test_preflight_allowed(mw):
    status, h, body = req(mw.port, "OPTIONS /echo HTTP/1.1\nHost: t\nOrigin: https://app.example\n"
                          "Access-Control-Request-Method: POST\n"
                          "Access-Control-Request-Headers: x-token, content-type\n"
                          "Connection: close\n")
    assert status == 200 and body == b"OK"
    assert h["access-control-allow-origin"] == "https://app.example"
    assert h["access-control-allow-methods"] == "GET, POST"
    assert h["access-control-max-age"] == "300"
    assert "x-token" in h["access-control-allow-headers"]
    assert h["vary"] == "Origin"


@pytest.mark.parametrize("extra,reason", [
    ("Origin: https://evil.example\nAccess-Control-Request-Method: POST\n", b"origin"),
    ("Origin: https://app.example\nAccess-Control-Request-Method: DELETE\n", b"method"),
    ("Origin: https://app.example\nAccess-Control-Request-Method: GET\n"
     "Access-Control-Request-Headers: x-secret\n", b"headers"),
])
def test_preflight_refused(mw, extra, reason):
    status, h, body = req(mw.port, f"OPTIONS /echo HTTP/1.1\nHost: t\n{extra}Connection: close\n")
    assert status == 400 and reason in body
    assert "access-control-allow-origin" not in h


def test_simple_request_gets_allow_origin(mw):
    r = httpx.get(mw.url("/small"), headers={"Origin": "https://app.example"})
    assert r.status_code == 200 and r.json() == {"ok": True}
    assert r.headers["access-control-allow-origin"] == "https://app.example"
    assert r.headers["vary"] == "Origin"
    r = httpx.get(mw.url("/small"), headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    r = httpx.get(mw.url("/small"))
    assert "access-control-allow-origin" not in r.headers


def test_options_without_preflight_headers_reaches_routing(mw):
    status, _, _ = req(mw.port, "OPTIONS /small HTTP/1.1\nHost: t\nOrigin: https://app.example\n"
                       "Connection: close\n")
    assert status == 405


def test_gzip_when_accepted_and_large(mw):
    plain = httpx.get(mw.url("/big"), headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    status, h, body = req(mw.port, "GET /big HTTP/1.1\nHost: t\nAccept-Encoding: gzip, br\n"
                          "Origin: https://app.example\nConnection: close\n")
    assert status == 200 and h["content-encoding"] == "gzip"
    assert h["vary"] in ("Origin", "Accept-Encoding")  # both are sent
    assert int(h["content-length"]) == len(body) < len(plain.content)
    assert gzip.decompress(body) == plain.content
    assert h["access-control-allow-origin"] == "https://app.example"
    # httpx asks for gzip and decodes it
    assert httpx.get(mw.url("/big")).json() == json.loads(plain.content)


@pytest.mark.parametrize("path,ae", [("/small", "gzip"), ("/big", "gzip;q=0"), ("/big", ""),
                                     ("/encoded", "gzip"), ("/nothing", "gzip")])
def test_gzip_skipped(mw, path, ae):
    head = f"GET {path} HTTP/1.1\nHost: t\n" + (f"Accept-Encoding: {ae}\n" if ae else "")
    status, h, body = req(mw.port, head + "Connection: close\n")
    assert h.get("content-encoding") != "gzip"
    if path == "/encoded":
        assert h["content-encoding"] == "br" and body == b"x" * 2000


def test_head_request_is_not_compressed(mw):
    out = raw(mw.port, b"HEAD /big HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n"
                       b"Connection: close\r\n\r\n")
    assert b"Content-Encoding" not in out.split(b"\r\n\r\n")[0]


def test_pipelined_responses_stay_framed(mw):
    one = b"GET /big HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n"
    two = b"GET /small HTTP/1.1\r\nHost: t\r\nOrigin: https://app.example\r\n\r\n"
    out = raw(mw.port, one + two + one + b"GET /small HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    rs = parse_responses(out)
    assert [s for s, _, _ in rs] == [200, 200, 200, 200]
    assert gzip.decompress(rs[0][2]) == gzip.decompress(rs[2][2])
    assert json.loads(rs[1][2]) == {"ok": True}


def test_bad_input_still_4xx_with_middleware(mw):
    status, _, _ = req(mw.port, "POST /echo HTTP/1.1\nHost: t\nContent-Length: 3\n"
                       "Accept-Encoding: gzip\nConnection: close\n", b"{x}")
    assert status == 400


def test_credentials_echo_origin(serve):
    s = serve("mw_builtin_app:wide", "--workers", "1")
    r = httpx.get(s.url("/x"), headers={"Origin": "https://any.example"})
    assert r.headers["access-control-allow-origin"] == "https://any.example"
    assert r.headers["access-control-allow-credentials"] == "true"
    r = httpx.options(s.url("/x"), headers={"Origin": "https://o", "Access-Control-Request-Method":
                                            "PURGE", "Access-Control-Request-Headers": "x-a"})
    assert r.status_code == 200 and r.headers["access-control-allow-headers"] == "x-a"


def test_forwarded_client_from_trusted_proxy(serve, tmp_path):
    log = tmp_path / "access.log"
    s = serve("mw_builtin_app:proxied", "--workers", "1", "--access-log", str(log))
    r = httpx.get(s.url("/who"), headers={"X-Forwarded-For": "203.0.113.9, 10.1.1.1"})
    assert r.json() == {"client": ["10.1.1.1", 0]}  # 10.1.1.1 is not trusted here: the client
    r = httpx.get(s.url("/who"), headers={"X-Forwarded-For": "203.0.113.9"})
    assert r.json() == {"client": ["203.0.113.9", 0]}
    r = httpx.get(s.url("/who"))
    assert r.json()["client"][0] == "127.0.0.1" and r.json()["client"][1] > 0


def test_forwarded_ignored_from_untrusted_peer(serve):
    s = serve("mw_builtin_app:proxied", "--workers", "1", "--forwarded-allow-ips", "10.0.0.1")
    r = httpx.get(s.url("/who"), headers={"X-Forwarded-For": "203.0.113.9"})
    assert r.json()["client"][0] == "127.0.0.1"


def test_forwarded_in_access_log(serve, tmp_path):
    log = tmp_path / "access.log"
    s = serve("mw_builtin_app:proxied", "--workers", "1", "--access-log", str(log),
              "--forwarded-allow-ips", "127.0.0.0/8")
    httpx.get(s.url("/who"), headers={"X-Forwarded-For": "198.51.100.4",
                                      "X-Forwarded-Proto": "https"})
    s.stop()
    assert "198.51.100.4" in log.read_text()


def test_bad_forwarded_allow_ips_refused_at_start(tmp_path):
    s = Server("mw_builtin_app:proxied", "--forwarded-allow-ips", "not-an-ip", wait=False)
    assert s.wait_exit() != 0
    assert "not an IP address" in s.output()


# ---- gzip of bodies sent in pieces (issue 16): streams, and files' .gz siblings ----------

def chunks_of(body: bytes) -> list[bytes]:
    """The chunk payloads of a chunked body, as sent."""
    out, pos = [], 0
    while True:
        end = body.index(b"\r\n", pos)
        size = int(body[pos:end].split(b";")[0], 16)
        if size == 0:
            return out
        out.append(body[end + 2:end + 2 + size])
        pos = end + 2 + size + 2


def raw_chunked(port: int, path: str, ae: str = "gzip") -> tuple[int, dict[str, str], bytes]:
    data = raw(port, f"GET {path} HTTP/1.1\r\nHost: t\r\nAccept-Encoding: {ae}\r\n"
                     f"Connection: close\r\n\r\n".encode())
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def test_stream_gzipped_on_the_way(mw):
    status, h, body = raw_chunked(mw.port, "/stream")
    assert status == 200 and h["content-encoding"] == "gzip" and h["vary"] == "Accept-Encoding"
    assert h["transfer-encoding"] == "chunked" and "content-length" not in h
    pieces = chunks_of(body)
    plain = b"".join(f"{i},user-{i},{'x' * 40}\n".encode() for i in range(200))
    assert gzip.decompress(b"".join(pieces)) == plain
    assert len(pieces) > 2  # flushed per item, not held to the end
    assert sum(map(len, pieces)) < len(plain) // 3
    # every prefix of whole chunks decodes (Z_SYNC_FLUSH): a reader sees each item in time
    import zlib
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert d.decompress(b"".join(pieces[:2])).startswith(b"0,user-0,")


@pytest.mark.parametrize("path,ae", [("/stream", "identity"), ("/stream", "gzip;q=0"),
                                     ("/stream/encoded", "gzip"), ("/stream/sized", "gzip"),
                                     ("/events", "gzip")])
def test_stream_not_gzipped(mw, path, ae):
    status, h, body = raw_chunked(mw.port, path, ae)
    assert status == 200
    assert h.get("content-encoding") in (None, "br")
    if h.get("transfer-encoding") == "chunked":
        body = b"".join(chunks_of(body))
    if path == "/stream":
        assert body.startswith(b"0,user-0,")
    if path == "/events":
        assert body == b"data: a\n\ndata: b\n\n"


@pytest.fixture(scope="module")
def mw_files(tmp_path_factory):
    where = tmp_path_factory.mktemp("mwfiles")
    plain = b"hello world\n" * 1000
    (where / "both.txt").write_bytes(plain)
    (where / "both.txt.gz").write_bytes(gzip.compress(plain))
    (where / "plain.txt").write_bytes(plain)
    s = Server("mw_builtin_app:app", "--workers", "1", env={"MW_FILES": str(where)})
    yield s, plain
    s.stop()
    s.check_clean()


def test_file_response_prefers_gz_sibling(mw_files):
    srv, plain = mw_files
    status, h, body = raw_chunked(srv.port, "/file/both.txt")
    assert status == 200 and h["content-encoding"] == "gzip" and h["vary"] == "Accept-Encoding"
    assert h["content-type"].startswith("text/plain")
    assert int(h["content-length"]) == len(body) < len(plain) and gzip.decompress(body) == plain
    status, h, body = raw_chunked(srv.port, "/file/both.txt", "identity")
    assert status == 200 and "content-encoding" not in h and body == plain
    status, h, body = raw_chunked(srv.port, "/file/plain.txt")  # no sibling: sent as it is
    assert status == 200 and "content-encoding" not in h and body == plain
