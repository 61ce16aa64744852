"""Files over real sockets: FileResponse and app.static() sent from C with
sendfile; validators (304), ranges (206 single and multipart/byteranges, 416),
Content-Disposition, precompressed .gz siblings, and a path-traversal list
(every entry refused, none showing the secret outside the folder).
App: tests/apps/files_app.py."""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import os
import socket

import httpx
import pytest

from conftest import SLOW, Server, parse_one, raw

SECRET = b"TOP-SECRET-OUTSIDE-THE-FOLDER"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("files")
    (root / "data.bin").write_bytes(bytes(range(256)) * 4096)  # 1 MiB
    (root / "secret.txt").write_bytes(SECRET)
    pub = root / "public"
    (pub / "sub").mkdir(parents=True)
    (pub / "index.html").write_bytes(b"<h1>hello</h1>")
    (pub / "sub" / "app.js").write_bytes(b"console.log(1)")
    (pub / "style.css").write_bytes(b"body{}" * 100)
    (pub / "style.css.gz").write_bytes(gzip.compress(b"body{}" * 100))
    (pub / ".hidden").write_bytes(SECRET)
    (pub / "link-out").symlink_to("../secret.txt")
    (pub / "link-abs").symlink_to(root / "secret.txt")
    (pub / "dir-out").symlink_to("..")
    (pub / "alias.html").symlink_to("index.html")
    return root


@pytest.fixture(scope="module")
def srv(root):
    s = Server("files_app:app", "--workers", "1", env={"FILES_ROOT": str(root)})
    yield s
    s.stop()
    s.check_clean()
    os.unlink(s.log.name)


def get(srv, path: str, **kw) -> httpx.Response:
    return httpx.get(srv.url(path), timeout=10 * SLOW, **kw)


def test_file_response_whole(srv, root):
    r = get(srv, "/download")
    data = (root / "data.bin").read_bytes()
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-length"] == str(len(data))
    assert r.headers["accept-ranges"] == "bytes"
    st = os.stat(root / "data.bin")
    assert r.headers["etag"] == f'"{int(st.st_mtime):x}-{st.st_size:x}"'
    assert email.utils.parsedate_to_datetime(r.headers["last-modified"]).timestamp() == \
        int(st.st_mtime)
    assert "content-disposition" not in r.headers


def test_head_has_the_headers_and_no_body(srv):
    out = raw(srv.port, b"HEAD /download HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    head, _, rest = out.partition(b"\r\n\r\n")
    assert b"200 OK" in head and b"Content-Length: 1048576" in head and rest == b""


def test_disposition_and_media_type(srv):
    r = get(srv, "/download", params={"name": "data.bin", "as_name": "report.csv"})
    assert r.headers["content-disposition"] == 'attachment; filename="report.csv"'
    assert r.headers["content-type"].startswith("text/csv")
    r = get(srv, "/inline")
    assert r.headers["content-type"] == "application/x-test" and r.headers["x-extra"] == "1"
    assert r.headers["content-disposition"] == \
        "inline; filename=\"r__sum__.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"


def test_missing_file_is_a_500_and_the_worker_lives(srv):
    r = get(srv, "/download", params={"name": "nope.bin"})
    assert r.status_code == 500 and "request_id" in r.json()
    assert get(srv, "/download").status_code == 200


def test_conditional_requests_answer_304(srv):
    r = get(srv, "/download")
    etag, lm = r.headers["etag"], r.headers["last-modified"]
    for inm in (etag, f"W/{etag}", f'"x", {etag}', "*"):
        n = get(srv, "/download", headers={"If-None-Match": inm})
        assert n.status_code == 304 and n.content == b"" and n.headers["etag"] == etag
        assert "content-length" not in n.headers
    assert get(srv, "/download", headers={"If-None-Match": '"other"'}).status_code == 200
    assert get(srv, "/download", headers={"If-Modified-Since": lm}).status_code == 304
    assert get(srv, "/download",
               headers={"If-Modified-Since": "Mon, 01 Jan 1990 00:00:00 GMT"}).status_code == 200
    # If-None-Match decides when both are sent
    assert get(srv, "/download", headers={"If-None-Match": '"other"',
                                          "If-Modified-Since": lm}).status_code == 200


def test_single_ranges(srv, root):
    data = (root / "data.bin").read_bytes()
    size = len(data)
    for spec, first, last in (("0-9", 0, 9), ("1000-", 1000, size - 1), ("-5", size - 5, size - 1),
                              ("10-20000000", 10, size - 1), ("-9999999", 0, size - 1)):
        r = get(srv, "/download", headers={"Range": f"bytes={spec}"})
        assert r.status_code == 206, spec
        assert r.headers["content-range"] == f"bytes {first}-{last}/{size}"
        assert r.content == data[first:last + 1]


def test_multiple_ranges_are_multipart_byteranges(srv, root):
    data = (root / "data.bin").read_bytes()
    r = get(srv, "/download", headers={"Range": "bytes=0-3, 100-103, -2"})
    assert r.status_code == 206
    ctype = r.headers["content-type"]
    assert ctype.startswith("multipart/byteranges; boundary=")
    boundary = ctype.split("boundary=")[1].encode()
    parts = [p for p in r.content.split(b"--" + boundary) if p.strip(b"\r\n-")]
    got = []
    for p in parts:
        head, _, body = p.partition(b"\r\n\r\n")
        got.append((head.split(b"Content-Range: ")[1].split(b"\r\n")[0], body.removesuffix(b"\r\n")))
    size = len(data)
    assert got == [(f"bytes 0-3/{size}".encode(), data[0:4]),
                   (f"bytes 100-103/{size}".encode(), data[100:104]),
                   (f"bytes {size - 2}-{size - 1}/{size}".encode(), data[-2:])]


def test_bad_ranges(srv, root):
    size = (root / "data.bin").stat().st_size
    r = get(srv, "/download", headers={"Range": f"bytes={size}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{size}"
    assert r.content == b""
    for ignored in ("bytes=abc", "items=0-1", "bytes=5-1", "bytes=" + ",".join(["0-0"] * 17)):
        r = get(srv, "/download", headers={"Range": ignored})
        assert r.status_code == 200 and len(r.content) == size, ignored
    r = get(srv, "/download", headers={"Range": "bytes=0-0", "If-Range": '"stale"'})
    assert r.status_code == 200 and len(r.content) == size
    etag = get(srv, "/download").headers["etag"]
    r = get(srv, "/download", headers={"Range": "bytes=0-0", "If-Range": etag})
    assert r.status_code == 206 and len(r.content) == 1


def test_large_file_over_keep_alive(srv, root):
    """Two whole sendfile bodies and a range on one connection, in order."""
    data = (root / "data.bin").read_bytes()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10 * SLOW) as s:
        s.sendall(b"GET /download HTTP/1.1\r\nHost: t\r\n\r\n"
                  b"GET /download HTTP/1.1\r\nHost: t\r\nRange: bytes=5-9\r\n\r\n"
                  b"GET /static/index.html HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        buf = b""
        while chunk := s.recv(1 << 20):
            buf += chunk
    r1, rest = parse_one(buf)
    r2, rest = parse_one(rest)
    r3, rest = parse_one(rest)
    assert r1.status == 200 and hashlib.sha256(r1.body).digest() == hashlib.sha256(data).digest()
    assert r2.status == 206 and r2.body == data[5:10]
    assert r3.status == 200 and r3.body == b"<h1>hello</h1>" and rest == b""


def test_static_files(srv):
    r = get(srv, "/static/index.html")
    assert r.status_code == 200 and r.content == b"<h1>hello</h1>"
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    r = get(srv, "/static/sub/app.js")
    assert r.content == b"console.log(1)" and r.headers["content-type"].startswith("text/javascript")
    assert get(srv, "/static/alias.html").content == b"<h1>hello</h1>"  # a symlink inside
    assert get(srv, "/static/missing.txt").status_code == 404
    assert get(srv, "/static/sub").status_code == 404  # a folder
    assert get(srv, "/static/sub/").status_code == 404
    r = httpx.post(srv.url("/static/index.html"), timeout=10 * SLOW)
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"
    etag = get(srv, "/static/index.html").headers["etag"]
    assert get(srv, "/static/index.html", headers={"If-None-Match": etag}).status_code == 304
    r = get(srv, "/static/index.html", headers={"Range": "bytes=1-2"})
    assert r.status_code == 206 and r.content == b"h1"


def test_static_precompressed_sibling(srv):
    plain = b"body{}" * 100
    r = get(srv, "/static/style.css", headers={"Accept-Encoding": "gzip, br"})
    assert r.headers["content-encoding"] == "gzip" and r.headers["vary"] == "Accept-Encoding"
    assert r.headers["content-type"] == "text/css; charset=utf-8"
    assert r.content == plain  # httpx decodes it
    r = get(srv, "/static/style.css", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in r.headers and r.content == plain
    r = get(srv, "/static/style.css", headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in r.headers


TRAVERSAL = [
    "/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/%2E%2E/secret.txt",
    "/static/.%2e/secret.txt", "/static/%2e./secret.txt", "/static/..%2fsecret.txt",
    "/static/%2e%2e%2fsecret.txt", "/static/sub/../../secret.txt",
    "/static/sub/%2e%2e/%2e%2e/secret.txt", "/static/..%5csecret.txt", "/static/..\\secret.txt",
    "/static/%00", "/static/index.html%00.png", "/static/index.html%00", "/static//etc/passwd",
    "/static/%2fetc%2fpasswd", "/static/link-out", "/static/link-abs", "/static/dir-out/secret.txt",
    "/static/.hidden", "/static/sub/.", "/static/./index.html", "/static/%2e/index.html",
    "/static/....//secret.txt", "/static/%252e%252e/secret.txt", "/static/sub/..%00/secret.txt",
    "/static/%c0%ae%c0%ae/secret.txt", "/static/..;/secret.txt",
    "/static/%2e%2e%5c%2e%2e%5csecret.txt", "/static/sub/../../../../../../etc/passwd",
    "/static/..%2F..%2Fetc%2Fpasswd", "/static/link-out/", "/static/..", "/static/%2e%2e",
    "/static/sub%2f..%2f..%2fsecret.txt", "/static/dir-out/public/index.html",
    "/static/%", "/static/%zz",
]


def test_traversal_list_is_long_enough():
    assert len(TRAVERSAL) >= 30 and len(set(TRAVERSAL)) == len(TRAVERSAL)


@pytest.mark.parametrize("target", TRAVERSAL)
def test_path_traversal_is_refused(srv, target):
    out = raw(srv.port, b"GET " + target.encode() + b" HTTP/1.1\r\nHost: t\r\n"
              b"Connection: close\r\n\r\n")
    status = int(out.split(b" ", 2)[1])
    assert status in (400, 404), (target, out[:200])
    assert SECRET not in out and b"root:" not in out
