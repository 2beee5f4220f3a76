"""The HTTP API (v1): the command line's twin for a CRM, on the same store functions, behind
Bearer keys scoped to one account. FastAPI (Starlette underneath, served by uvicorn) rather than
bare Starlette: the OpenAPI 3.1 document comes from the pydantic models that validate each
request and filter each response, so docs/openapi.json cannot drift from the server.
May import run, store and below; not cli (its sibling).
"""
