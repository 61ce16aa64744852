"""GET /docs: Swagger UI from the swagger-ui-bundle package, served by the app
itself (no CDN), rendered in headless Chromium with every operation listed;
App(docs_url=None) turns it off."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import SLOW

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_docs_page_and_assets_are_served_locally(serve):
    srv = serve("docs_app:app")
    page = srv.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "//" not in page.text.replace("<!doctype html>", "").split("<body>")[0].replace(
        "http://www.w3.org", "")  # nothing fetched from another host
    assert 'src="/docs/swagger-ui-bundle.js"' in page.text and '"/openapi.json"' in page.text
    js = srv.get("/docs/swagger-ui-bundle.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert len(js.content) > 100_000
    assert srv.get("/docs/swagger-ui.css").headers["content-type"].startswith("text/css")
    assert "/docs" not in srv.get("/openapi.json").json()["paths"]


def test_docs_url_none_turns_it_off(serve):
    srv = serve("docs_app:nodocs")
    assert srv.get("/docs").status_code == 404
    assert srv.get("/openapi.json").status_code == 200


@pytest.mark.skipif(not CHROMIUM and not os.environ.get("FROSTFORK_REQUIRE_BROWSER"),
                    reason="Debian's chromium is installed by `make test`")
def test_swagger_ui_renders_every_operation(serve, tmp_path):
    assert CHROMIUM, "chromium is required (make test installs it)"
    srv = serve("docs_app:app")
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
         f"--user-data-dir={tmp_path}", "--dump-dom", srv.url("/docs")],
        capture_output=True, text=True, timeout=90 * SLOW,
        env={k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}).stdout
    assert "docs demo" in dom, dom[:2000]
    for path in ("/pets/{id}", "/pets"):
        assert f'data-path="{path}"' in dom, dom[:3000]
    assert "Fetch one pet" in dom and "Add a pet" in dom
