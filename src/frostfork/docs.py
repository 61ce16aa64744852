"""Interactive API docs: Swagger UI for the app's /openapi.json, served by the
app itself from the swagger-ui-bundle package (`pip install frostfork[docs]`);
nothing is fetched from a CDN.

The page and its two assets are built once in the master and answered from
memory like /openapi.json. Without the package the docs URL answers a short
page saying how to install it.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from pathlib import Path

from frostfork import _core

__all__ = ["docs_routes", "swagger_ui_dir"]

_ASSETS = (("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
           ("swagger-ui.css", "text/css; charset=utf-8"))


def swagger_ui_dir() -> Path | None:
    """Where the installed swagger-ui-bundle keeps Swagger UI's dist files, or None."""
    try:
        import swagger_ui_bundle  # type: ignore[import-untyped]
    except ImportError:
        return None
    path = Path(str(swagger_ui_bundle.swagger_ui_path))
    return path if (path / _ASSETS[0][0]).is_file() else None


def _page(docs_url: str, openapi_url: str, title: str) -> str:
    base = html.escape(docs_url, quote=True)
    config = json.dumps({"url": openapi_url, "dom_id": "#swagger-ui", "deepLinking": True})
    # the config is a JSON literal; "</" is escaped so it cannot close the script element
    config = config.replace("</", "<\\/")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)} - docs</title>
<link rel="stylesheet" href="{base}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{base}/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({config});</script>
</body>
</html>
"""


def docs_routes(docs_url: str, openapi_url: str,
                title: str) -> Iterator[tuple[str, _core.Response]]:
    """(path, constant response) for the page and each asset."""
    where = swagger_ui_dir()
    if where is None:
        yield docs_url, _core.Response(
            200, "Swagger UI is not installed: pip install 'frostfork[docs]' "
                 "(or swagger-ui-bundle-v2), or turn the docs off with App(docs_url=None)\n")
        return
    yield docs_url, _core.Response(200, _page(docs_url, openapi_url, title),
                                   {"Content-Type": "text/html; charset=utf-8"})
    for name, ctype in _ASSETS:
        yield f"{docs_url}/{name}", _core.Response(
            200, (where / name).read_bytes(),
            {"Content-Type": ctype, "Cache-Control": "public, max-age=86400"})
