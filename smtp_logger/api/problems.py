"""Errors as RFC 9457 problem details (`application/problem+json`): one stable `type` per kind of
error, in the PROBLEMS table, whatever raised it (our own checks, the store's NotFound and
Conflict, request validation, an unknown route). A bug answers `internal-error` without
its traceback or any request data.
"""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from smtp_logger.store.accounts import Conflict, NotFound

log = structlog.get_logger("smtp_logger.api")
MEDIA_TYPE = "application/problem+json"
BASE = "/v1/problems/"

# slug: (status, title). The slugs are part of the API: clients branch on them.
PROBLEMS = {
    "invalid-request": (422, "The request does not match the API's schema"),
    "invalid-cursor": (400, "The pagination cursor is not one this API gave out"),
    "invalid-value": (400, "A value cannot be stored"),
    "unauthorized": (401, "A valid API key is needed (Authorization: Bearer <key>)"),
    "not-found": (404, "No such resource in this account"),
    "method-not-allowed": (405, "This method is not allowed here"),
    "conflict": (409, "The request conflicts with the account's data"),
    "not-releasable": (409, "The held message cannot be released"),
    "too-large": (413, "The request body is too large"),
    "webhook-url-refused": (422, "The webhook URL is refused"),
    "internal-error": (500, "Internal error"),
}
_BY_STATUS = {400: "invalid-request", 401: "unauthorized", 404: "not-found", 405: "method-not-allowed",
              409: "conflict", 413: "too-large", 422: "invalid-request"}


class ApiProblem(Exception):
    def __init__(self, slug: str, detail: str | None = None, **extra):
        super().__init__(detail or slug)
        self.slug, self.detail, self.extra = slug, detail, extra


def problem_response(slug: str, detail: str | None = None, instance: str | None = None, **extra) -> JSONResponse:
    status, title = PROBLEMS[slug]
    body = {"type": BASE + slug, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _errors(exc: RequestValidationError) -> list[dict]:
    """Where and what, without echoing the input back."""
    return [{"location": ".".join(str(p) for p in e.get("loc", ())), "message": str(e.get("msg", ""))[:300]}
            for e in exc.errors()[:20]]


def install(app: FastAPI) -> None:
    """Route every error through problem_response."""

    @app.exception_handler(ApiProblem)
    async def _ours(request: Request, exc: ApiProblem):
        return problem_response(exc.slug, exc.detail, request.url.path, **exc.extra)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound):
        return problem_response("not-found", str(exc), request.url.path)

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict):
        return problem_response("conflict", str(exc), request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        return problem_response("invalid-request", "see errors", request.url.path, errors=_errors(exc))

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError):
        return problem_response("invalid-value", "the database refused a value (too long or malformed)",
                                request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        slug = _BY_STATUS.get(exc.status_code, "invalid-request")
        return problem_response(slug, None, request.url.path)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception):
        log.error("api_internal_error", error=exc.__class__.__name__, route=_route(request))
        return problem_response("internal-error", None, request.url.path)


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", "?")


# -- the document ---------------------------------------------------------------------------

PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "description": "A stable URI reference naming the kind of error"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "location": {"type": "string"}, "message": {"type": "string"}}}},
    },
}


def document_problems(schema: dict) -> dict:
    """Every operation may answer these problems; FastAPI's own 422 schema is replaced."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schema["components"]["schemas"].pop(name, None)
    ref = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            statuses = {"400", "422", "500"}
            if operation.get("security"):
                statuses |= {"401", "404", "409"}
            if method in ("post", "patch", "put"):
                statuses.add("413")
            for status in sorted(statuses):
                slug = _BY_STATUS.get(int(status), "internal-error")
                operation.setdefault("responses", {})[status] = {"description": PROBLEMS[slug][1], "content": ref}
    return schema
