"""/docs works offline: Swagger UI's script and stylesheet come inline from the fastapi-offline package (Swagger UI 5: OpenAPI 3.1); nothing on
the page points at another host, and the API key guard leaves /docs open as before."""

from __future__ import annotations

import re

from tests.unit.serving.test_app import _call
from trainwright.bundle import load
from trainwright.serving import ServeSettings, build_app


def test_docs_page_carries_its_own_swagger_ui(lightgbm_bundle):
    app = build_app(load(lightgbm_bundle), ServeSettings(api_key="k" * 24))
    response = _call(app, "GET", "/docs")
    page = response.text
    assert response.status_code == 200 and "SwaggerUIBundle(" in page and len(page) > 500_000
    assert not re.findall(r"""(?:src|href)=["']?(?:https?:)?//""", page)  # no CDN, no other host
    assert "cdn.jsdelivr" not in page and '"url": "/openapi.json"' in page
    assert _call(app, "GET", "/openapi.json").status_code == 200
    assert [getattr(r, "path", "") for r in app.router.routes].count("/docs") == 1
