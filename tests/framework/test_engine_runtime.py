"""The in-process Engine honours App.runtime(): exception handlers, HTTPError,
middleware and 401s answer as they do in a worker."""

from __future__ import annotations

import sys
from pathlib import Path

import frostfork
from frostfork import _core

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "apps"))


def handle(engine, raw: bytes):
    status, headers, body = engine.handle(raw)
    return status, {k.decode().lower(): v.decode() for k, v in headers}, body


def test_engine_with_runtime(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAMEWORK_EVENTS", str(tmp_path / "events"))
    import framework_app
    import middleware_app
    app = framework_app.app
    engine = _core.Engine(app._compile(), runtime=app.runtime())
    status, headers, body = handle(engine, b"GET /conflict HTTP/1.1\r\nHost: t\r\n\r\n")
    assert status == 409 and headers["x-conflict"] == "yes" and body == b'{"detail":{"why":"taken"}}'
    status, _, body = handle(engine, b"GET /missing/x HTTP/1.1\r\nHost: t\r\n\r\n")
    assert status == 404 and b'"missing":"x"' in body
    status, headers, _ = handle(engine, b"GET /secure/bearer HTTP/1.1\r\nHost: t\r\n\r\n")
    assert status == 401 and headers["www-authenticate"] == "Bearer"
    mw = middleware_app.app
    engine = _core.Engine(mw._compile(), runtime=mw.runtime())
    status, headers, _ = handle(engine, b"GET /http-error HTTP/1.1\r\nHost: t\r\n\r\n")
    assert status == 404 and headers["x-outer"] == "1"
    assert isinstance(frostfork.Response(200), _core.Response)
