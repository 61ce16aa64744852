"""Routers mounted and nested, route status codes, and the startup error for
conflicting routes (over real sockets and the real CLI)."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx

from conftest import SLOW, raw
from framework_support import events, framework  # noqa: F401 (fixtures)


def test_nested_router_routes_and_status_codes(framework):
    srv = framework()
    r = httpx_post(srv, "/api/v1/items", b'{"name": "x"}')
    assert r.status_code == 201 and r.json() == {"name": "x"}
    head, _, body = raw(srv.port, b"DELETE /api/v1/items/3 HTTP/1.1\r\nHost: t\r\n"
                                  b"Connection: close\r\n\r\n").partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 204 ") and body == b""
    assert b"content-length" not in head.lower()
    r = srv.get("/api/v1/items/7")  # a returned Response keeps its own status
    assert r.status_code == 200 and r.json() == {"id": 7}
    assert srv.get("/v1/items/7").status_code == 404  # only under the mount's prefix


def httpx_post(srv, path, body):
    return httpx.post(srv.url(path), content=body, timeout=10 * SLOW)


def test_conflicting_routes_stop_startup_naming_both_handlers(tmp_path):
    (tmp_path / "conflict_app.py").write_text(
        "import frostfork\n"
        "app = frostfork.App()\n"
        "users = frostfork.Router(prefix='/users')\n"
        "@app.get('/users/{id}')\n"
        "def by_id(id: int): return {}\n"
        "@users.get('/{name}')\n"
        "def by_name(name: str): return {}\n"
        "app.include(users)\n")
    proc = subprocess.run([sys.executable, "-m", "frostfork", "serve", "conflict_app:app",
                           "--bind", "127.0.0.1:0"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60 * SLOW,
                          env=dict(os.environ, PYTHONPATH=str(tmp_path)))
    assert proc.returncode == 2, proc.stderr
    assert "conflict_app.by_id" in proc.stderr and "conflict_app.by_name" in proc.stderr
    assert "GET /users/{name}" in proc.stderr
