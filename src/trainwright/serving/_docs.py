"""``/docs`` without the internet: Swagger UI's script and stylesheet (Swagger UI 5, which reads the OpenAPI 3.1
FastAPI writes) come from the ``fastapi-offline`` package's static folder and are inlined into the page (one response, so the API-key guard and the request metrics see only ``/docs``), instead
of FastAPI's default links to a CDN. Without the package, FastAPI's default page is kept."""

from __future__ import annotations

import functools
import html
import json
from pathlib import Path
from typing import Any

__all__ = ["offline_docs", "swagger_page"]


@functools.cache
def _assets() -> tuple[str, str] | None:
    import importlib.util

    spec = importlib.util.find_spec("fastapi_offline")  # its files only: the package itself is not imported
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "static"
    js, css = folder / "swagger-ui-bundle.js", folder / "swagger-ui.css"
    if not (js.is_file() and css.is_file()):
        return None
    script = js.read_text(encoding="utf-8").replace("</script", "<\\/script")
    return script, css.read_text(encoding="utf-8")


def swagger_page(title: str, openapi_url: str) -> str | None:
    """The whole Swagger UI page, assets inline; None when ``fastapi-offline`` is not installed."""
    assets = _assets()
    if assets is None:
        return None
    script, css = assets
    config = json.dumps({"url": openapi_url, "dom_id": "#swagger-ui", "deepLinking": True})
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><link rel='icon' href='data:,'><title>{html.escape(title)} - docs</title>"
            f"<style>{css}</style></head><body><div id='swagger-ui'></div><script>{script}</script>"
            f"<script>const ui = SwaggerUIBundle(Object.assign({config}, {{presets: [SwaggerUIBundle.presets.apis], "
            f"layout: 'BaseLayout'}}));</script></body></html>")


def offline_docs(app: Any) -> None:
    """Replace FastAPI's ``/docs`` route (CDN assets) by the inlined page, when the assets are installed."""
    from fastapi.responses import HTMLResponse

    page = swagger_page(app.title, app.openapi_url or "/openapi.json")
    if page is None:
        return
    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) != (app.docs_url or "/docs")]

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page)
