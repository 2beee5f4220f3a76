"""The ASGI application: the v1 routers, problem+json errors, a request-size limit, one log line
per request (method, route template, status, account id: never the path's addresses), and the
OpenAPI 3.1 document at /v1/openapi.json (also kept in docs/openapi.json: `make openapi`).
"""

from __future__ import annotations

import time

import structlog
from fastapi import FastAPI, Request

from smtp_logger.api import deals, hooks, problems, read, write
from smtp_logger.api.deps import ApiState
from smtp_logger.run.netguard import system_resolve

log = structlog.get_logger("smtp_logger.api")
MAX_BODY = 2 * 1024 * 1024  # a batch of 1,000 contacts is well under this
VERSION = "1.0.0"


def create_app(settings, resolve=system_resolve) -> FastAPI:
    app = FastAPI(title="smtp_logger API", version=VERSION, openapi_url="/v1/openapi.json", docs_url=None,
                  redoc_url=None, description="Timelines, decisions, held mail, contacts, deals and webhooks of one "
                  "account (the API key's). Errors are RFC 9457 problem details; lists page with "
                  "`?limit=&cursor=` and a `next_cursor`; times are ISO 8601 UTC.")
    app.state.api = ApiState.build(settings, resolve)
    for router in (read.router, write.router, hooks.router, deals.router):
        app.include_router(router)
    problems.install(app)

    @app.middleware("http")
    async def limit_and_log(request: Request, call_next):
        started = time.monotonic()
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            return problems.problem_response("too-large", f"at most {MAX_BODY} bytes", request.url.path)
        try:
            response = await call_next(request)
        except Exception as exc:  # a bug: answered and logged here, so no traceback (and no data) is logged
            log.error("api_internal_error", error=exc.__class__.__name__, route=getattr(
                request.scope.get("route"), "path", None))
            return problems.problem_response("internal-error", None, request.url.path)
        route = request.scope.get("route")
        log.info("api_request", method=request.method, route=getattr(route, "path", None),
                 status=response.status_code, account=getattr(request.state, "account_id", None),
                 ms=round((time.monotonic() - started) * 1000, 1))
        return response

    def openapi() -> dict:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            app.openapi_schema = problems.document_problems(schema)
        return app.openapi_schema

    app.openapi = openapi
    app.add_middleware(BodyLimit)
    return app


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Stops reading a body past MAX_BODY even without a Content-Length (chunked uploads)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > MAX_BODY:
                raise _TooLarge()
            return message

        await self.app(scope, limited, send)
