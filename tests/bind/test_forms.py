"""Forms and uploads over real sockets: urlencoded and multipart bodies parsed
in C and bound to Form() fields, UploadFile parameters and a model; limits
answer 413, malformed bodies 400, constraints 422; a spooled upload is read
from the spool file, which is gone after the response (also when the handler
raised). App: tests/apps/forms_app.py."""

from __future__ import annotations

import hashlib
import os

import httpx
import pytest

from conftest import SANITIZED, SLOW, hwm_kib, raw

MiB = 1 << 20


@pytest.fixture(scope="module")
def srv():
    from conftest import Server
    s = Server("forms_app:app", "--workers", "1", "--spool-threshold", "64k", "--max-body", "128m")
    yield s
    s.stop()
    s.check_clean()
    os.unlink(s.log.name)


def post(srv, path: str, **kw) -> httpx.Response:
    return httpx.post(srv.url(path), timeout=30 * SLOW, **kw)


def multipart(boundary: str, parts: list[tuple[str, str | None, bytes, str | None]]) -> bytes:
    out = b""
    for name, filename, data, ctype in parts:
        out += f"--{boundary}\r\n".encode()
        disp = f'Content-Disposition: form-data; name="{name}"'
        if filename is not None:
            disp += f'; filename="{filename}"'
        out += disp.encode() + b"\r\n"
        if ctype:
            out += f"Content-Type: {ctype}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def test_urlencoded_fields(srv):
    r = post(srv, "/login", data={"username": "jürgen", "password": "a b&c=d", "remember": "on"})
    assert r.status_code == 200, r.text
    assert r.json() == {"username": "jürgen", "password_len": 7, "remember": True}


def test_multipart_fields_bind_the_same(srv):
    r = post(srv, "/login", files={"username": (None, "alice"), "password": (None, "pw")})
    assert r.status_code == 200, r.text
    assert r.json() == {"username": "alice", "password_len": 2, "remember": False}


def test_form_constraints_and_missing_give_422_listing_every_error(srv):
    r = post(srv, "/login", data={"username": "al", "remember": "maybe"})
    assert r.status_code == 422
    locs = sorted(tuple(e["loc"]) for e in r.json()["detail"])
    assert locs == [("body", "password"), ("body", "remember"), ("body", "username")]


def test_repeated_fields_to_a_list_and_a_renamed_field(srv):
    r = post(srv, "/tags", content=b"tag=1&tag=2&&tag=30&the-note=hi+there",
             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.json() == {"tags": [1, 2, 30], "note": "hi there"}
    r = post(srv, "/tags", content=b"tag=1&tag=x",
             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["detail"]] == [["body", "tag", 1]]


def test_form_bound_to_a_model(srv):
    r = post(srv, "/profile", content=b"name=Ada&age=36&langs=en&langs=fr",
             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.json() == {"name": "Ada", "age": 36, "langs": ["en", "fr"], "city": "nowhere",
                        "type": "Profile"}
    r = post(srv, "/profile", content=b"name=Adaaaaaaaaaa&age=-1",
             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 422
    locs = sorted(tuple(e["loc"]) for e in r.json()["detail"])
    assert locs == [("body", "age"), ("body", "langs"), ("body", "name")]


def test_small_upload_in_memory(srv):
    data = bytes(range(256)) * 3 + b"\r\n--not-a-boundary\r\n"
    r = post(srv, "/avatar", data={"title": "me"},
             files={"file": ("me.png", data, "image/png")})
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["title"] == "me" and j["filename"] == "me.png" and j["content_type"] == "image/png"
    assert j["size"] == len(data) == j["len"]
    assert j["sha256"] == hashlib.sha256(data).hexdigest()
    assert j["again"] == data[:4].hex()
    assert j["headers"]["content-type"] == "image/png"
    assert "content-disposition" in j["headers"]
    assert j["spool_files"] == 0


def test_several_files_under_one_name(srv):
    body = multipart("B0undary", [("doc", "a.txt", b"alpha", "text/plain"),
                                  ("doc", "b.txt", b"", None),
                                  ("other", None, b"x", None)])
    r = post(srv, "/many", content=body,
             headers={"Content-Type": "multipart/form-data; boundary=B0undary"})
    assert r.json() == {"files": [["a.txt", 5, "alpha"], ["b.txt", 0, ""]]}


def test_missing_file_is_422(srv):
    r = post(srv, "/avatar", data={"title": "me"})
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["detail"]] == [["body", "file"]]


def test_spooled_upload_read_from_the_spool_and_removed_after(srv):
    data = os.urandom(3 * MiB + 17)
    r = post(srv, "/digest-upload", files={"file": ("big.bin", data)})
    assert r.status_code == 200, r.text
    j = r.json()
    assert j == {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                 "reader": "BufferedReader", "spool_files": 1}
    assert post(srv, "/spool").status_code == 405
    assert srv.get("/spool").json() == {"files": []}
    assert "detached" in srv.get("/stale").json()["error"]  # a ValueError after the request


def test_spool_file_removed_when_the_handler_raises(srv):
    data = os.urandom(MiB)
    r = post(srv, "/raise-upload", files={"file": ("big.bin", data)})
    assert r.status_code == 500
    assert srv.get("/spool").json() == {"files": []}


MALFORMED = [
    ("multipart/form-data", b"--x\r\n\r\n"),  # no boundary parameter
    ("multipart/form-data; boundary=x",
     b"--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc"),  # truncated
    ("multipart/form-data; boundary=x", b"--x\r\nX-No-Disposition: 1\r\n\r\nabc\r\n--x--"),
    ("multipart/form-data; boundary=x",
     b"--x\r\nContent-Disposition: form-data; name=\"file\"\n\nabc\r\n--x--"),  # bare LF
    ("multipart/form-data; boundary=x", b"--xjunk\r\n"),
    ("application/x-www-form-urlencoded", b"title=%zz"),
    ("application/x-www-form-urlencoded", b"title=%ff%fe"),  # not UTF-8
]


@pytest.mark.parametrize("ctype,body", MALFORMED)
def test_malformed_forms_are_400(srv, ctype, body):
    r = post(srv, "/avatar", content=body, headers={"Content-Type": ctype})
    assert r.status_code == 400, r.text
    assert r.json()["detail"]


def test_limits_are_413(srv):
    many = b"&".join(b"f%d=1" % i for i in range(1001))
    r = post(srv, "/login", content=many,
             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413 and "too many" in r.json()["detail"]
    big = multipart("b", [("username", None, b"x" * (MiB + 1), None)])
    r = post(srv, "/login", content=big, headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert r.status_code == 413 and "too large" in r.json()["detail"]
    fat = (b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Pad: " + b"p" * 9000 +
           b"\r\n\r\nv\r\n--b--\r\n")
    r = post(srv, "/login", content=fat, headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert r.status_code == 413 and "headers too large" in r.json()["detail"]


def test_worker_keeps_serving_on_the_same_connection_after_refusals(srv):
    body = b"title=%zz"
    req = (b"POST /avatar HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded"
           b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    out = raw(srv.port, req * 2 + b"GET /spool HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert out.count(b"HTTP/1.1 400") == 2 and b'"files":[]' in out


def test_openapi_describes_form_and_file_bodies(srv):
    doc = srv.get("/openapi.json").json()
    login = doc["paths"]["/login"]["post"]["requestBody"]
    schema = login["content"]["application/x-www-form-urlencoded"]["schema"]
    assert schema["required"] == ["username", "password"]
    assert set(schema["properties"]) == {"username", "password", "remember"}
    avatar = doc["paths"]["/avatar"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert avatar["schema"]["properties"]["file"] == {"type": "string", "format": "binary"}
    many = doc["paths"]["/many"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert many["schema"]["properties"]["doc"]["type"] == "array"
    assert "parameters" not in doc["paths"]["/login"]["post"]


def test_64_mib_upload_keeps_the_worker_small(srv):
    """A 64 MiB multipart upload, streamed from a generator: the worker's peak
    RSS grows by less than 16 MiB (it spools the body, parses it through a
    window and hands the handler a reader over the spool file)."""
    block = os.urandom(MiB)
    head = (b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n")
    tail = b"\r\n--B--\r\n"
    sha = hashlib.sha256()

    def body():
        yield head
        for i in range(64):
            b = i.to_bytes(4, "little") + block[4:]
            sha.update(b)
            yield b
        yield tail

    (worker,) = srv.wait_workers(1)
    post(srv, "/digest-upload", files={"file": ("warm.bin", os.urandom(2 * MiB))})
    before = hwm_kib(worker)
    r = post(srv, "/digest-upload", content=body(),
             headers={"Content-Type": "multipart/form-data; boundary=B",
                      "Content-Length": str(len(head) + 64 * MiB + len(tail))})
    assert r.status_code == 200, r.text
    assert r.json()["size"] == 64 * MiB and r.json()["sha256"] == sha.hexdigest()
    grew = (hwm_kib(worker) - before) * 1024
    bar = 16 * MiB if not SANITIZED else 16 * MiB + 96 * MiB  # ASan's quarantine keeps blocks
    assert grew < bar, f"worker peak RSS grew by {grew / MiB:.1f} MiB"
