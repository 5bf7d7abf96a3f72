"""``GET /docs``: the OpenAPI document in Swagger UI, served from this app alone (no CDN: it works offline and on
an intranet). The viewer is swagger-ui-dist 5.35.0 from the npm registry (Apache-2.0; LICENSE and NOTICE beside
it), vendored byte for byte: swagger-ui-bundle.js and swagger-ui.css, 1.9 MB. Chosen over Redoc 3 (MIT, one
2.3 MB bundle): smaller, OpenAPI 3.1 support, and its Authorize button takes our bearer tokens for trying a call.
The page's own script is a file too, so a strict Content-Security-Policy allows no inline script.
"""

from __future__ import annotations

from flask import Blueprint, Flask, make_response, url_for

bp = Blueprint("docs", __name__, static_folder="static", static_url_path="/docs/assets")

PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>碳汇+ API 文档 (API reference)</title>
<link rel="stylesheet" href="{css}"></head>
<body><div id="swagger-ui" data-url="{document}"></div>
<noscript><p>本页需要 JavaScript；接口文档原文见 <a href="{document}">/openapi.json</a>
(this page needs JavaScript; the document itself is at /openapi.json).</p></noscript>
<script src="{bundle}"></script><script src="{start}"></script></body></html>"""
POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
          "connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


@bp.get("/docs")
def page():
    html = PAGE.format(css=url_for("docs.static", filename="swagger-ui/swagger-ui.css"),
                       bundle=url_for("docs.static", filename="swagger-ui/swagger-ui-bundle.js"),
                       start=url_for("docs.static", filename="start.js"), document=url_for("openapi_json"))
    response = make_response(html)
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
