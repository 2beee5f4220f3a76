"""The HTTP API (v1): the command line's twin for a CRM, on the same store functions, with
Bearer API keys scoped to one account; webhooks are delivered by run/webhooks.py.

Built on FastAPI (Starlette underneath, served by uvicorn) rather than bare Starlette: the
OpenAPI 3.1 document is generated from the same pydantic models that validate every request
and filter every response, so the document kept in docs/openapi.json cannot drift from what
the server does (schemathesis holds it to that). May import run, store and below; not cli.
"""
