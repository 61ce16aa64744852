"""The in-process engine (frostfork._core.Engine) with bodies that the worker
sends after the head: a StreamingResponse is drained and its chunked body
decoded, a FileResponse and a static file are read whole, a multipart upload
is bound. The same apps run over sockets in test_files.py, test_streaming.py
and tests/bind/test_forms.py."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import pytest

from frostfork import _core

APPS = Path(__file__).resolve().parents[1] / "apps"


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    root = tmp_path_factory.mktemp("engine-bodies")
    (root / "data.bin").write_bytes(bytes(range(256)) * 64)
    (root / "public").mkdir()
    (root / "public" / "a.txt").write_bytes(b"static text")
    os.environ["FILES_ROOT"] = str(root)
    sys.path.insert(0, str(APPS))
    try:
        files_app = importlib.reload(importlib.import_module("files_app"))
        forms_app = importlib.import_module("forms_app")
    finally:
        sys.path.remove(str(APPS))
        del os.environ["FILES_ROOT"]
    return _core.Engine(files_app.app._compile()), _core.Engine(forms_app.app._compile()), root


def get(e, target: str, extra: bytes = b"") -> tuple:
    return e.handle(b"GET " + target.encode() + b" HTTP/1.1\r\nHost: t\r\n" + extra + b"\r\n")


def test_stream_is_drained_and_dechunked(engine):
    files, _, _ = engine
    status, headers, body = get(files, "/csv?rows=2")
    assert status == 200 and (b"Transfer-Encoding", b"chunked") in headers
    assert body == b"id,name\n0,row0\n1,row1\n"
    assert get(files, "/sized")[2] == b"abcdefg"


def test_files_are_read_whole(engine):
    files, _, root = engine
    assert get(files, "/download")[2] == (root / "data.bin").read_bytes()
    status, _, body = get(files, "/download", b"Range: bytes=1-3\r\n")
    assert status == 206 and body == bytes([1, 2, 3])
    assert get(files, "/static/a.txt")[2] == b"static text"
    assert get(files, "/static/../data.bin")[0] == 404


def test_upload_through_the_engine(engine):
    _, forms, _ = engine
    body = (b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.txt\"\r\n\r\n"
            b"hello\r\n--b--\r\n")
    req = (b"POST /digest-upload HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; "
           b"boundary=b\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
    status, _, out = forms.handle(req)
    assert status == 200 and b'"size":5' in out and b'"reader":"BytesIO"' in out
