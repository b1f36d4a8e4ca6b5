"""``GET /docs``: Swagger UI for ``/openapi.json``, served from this server (no CDN).

The Swagger UI files come from the ``swagger_ui_bundle`` package (``/static/swagger/…``). Its
version (4.x) reads OpenAPI 3.0 only, while FastAPI describes the API in OpenAPI 3.1, so the
page loads ``/docs/openapi-3.0.json``: the same description with the few 3.1-only constructs
rewritten (``anyOf`` with ``null`` → ``nullable``, numeric ``exclusiveMinimum``, ``const``,
schema ``examples``). Tools should use ``/openapi.json``.
"""

from __future__ import annotations

import copy
from typing import Annotated, Any

from fastapi import APIRouter, Path
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from smartdistricts.api.errors import ApiError
from smartdistricts.api.native.common import json_answer

__all__ = ["downgrade_openapi", "router"]

router = APIRouter(include_in_schema=False)

STATIC = "/static/swagger"
#: The Swagger UI files served (nothing else of the package's folder is reachable).
FILES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
}
_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>smartdistricts API</title>
<link rel="stylesheet" href="{STATIC}/swagger-ui.css">
<link rel="icon" type="image/png" href="{STATIC}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{STATIC}/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{
  url: "/docs/openapi-3.0.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
}});
</script>
</body>
</html>
"""


@router.get("/docs")
async def docs_page() -> HTMLResponse:
    """Swagger UI."""
    return HTMLResponse(_PAGE, headers={"Cache-Control": "public, max-age=3600"})


@router.get(STATIC + "/{name}")
async def swagger_file(name: Annotated[str, Path(max_length=64)]) -> Response:
    """One Swagger UI file of the ``swagger_ui_bundle`` package."""
    media_type = FILES.get(name)
    if media_type is None:
        raise ApiError(404, f"no file {name!r}", field="name")
    return FileResponse(
        str(swagger_ui_path / name),
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/docs/openapi-3.0.json")
async def openapi_30(request: Request) -> Response:
    """The OpenAPI description rewritten for OpenAPI 3.0 readers (Swagger UI 4)."""
    cached: dict[str, Any] | None = getattr(request.app.state, "openapi_30", None)
    if cached is None:
        cached = request.app.state.openapi_30 = downgrade_openapi(request.app.openapi())
    return json_answer(cached)


_NULL = {"type": "null"}


def _schema(node: dict[str, Any]) -> dict[str, Any]:
    """One schema object's 3.1-only keywords in 3.0 form (children already converted)."""
    for key in ("anyOf", "oneOf"):
        options = node.get(key)
        if isinstance(options, list) and _NULL in options:
            rest = [o for o in options if o != _NULL]
            del node[key]
            if len(rest) == 1 and "$ref" in rest[0]:
                node["allOf"] = rest
            elif len(rest) == 1:
                node = {**rest[0], **node}
            elif rest:
                node[key] = rest
            node["nullable"] = True
    kind = node.get("type")
    if isinstance(kind, list):
        types = [t for t in kind if t != "null"]
        if len(types) < len(kind):
            node["nullable"] = True
        node["type"] = types[0] if len(types) == 1 else "string"
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = node.get(bound)
        if isinstance(value, int | float) and not isinstance(value, bool):
            node[plain] = value
            node[bound] = True
    if "const" in node:
        node["enum"] = [node.pop("const")]
    examples = node.get("examples")
    if isinstance(examples, list):
        del node["examples"]
        if examples:
            node["example"] = examples[0]
    return node


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(x) for x in node]
    if not isinstance(node, dict):
        return node
    return _schema({k: _convert(v) for k, v in node.items()})


def downgrade_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI 3.1 description as OpenAPI 3.0.3 (for Swagger UI 4)."""
    out: dict[str, Any] = _convert(copy.deepcopy(schema))
    out["openapi"] = "3.0.3"
    info = out.get("info", {})
    summary = info.pop("summary", None)
    if summary and not info.get("description"):
        info["description"] = summary
    return out
