"""What a CRM reads: a contact's timeline (`timeline --json`), one engagement, the change feed,
attachment files, decisions (`why --json`) and held mail (`held list --json`), and releasing a
held message. Every read is scoped to the key's account: another account's object answers 404,
the same as one that does not exist.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from smtp_logger.api import pages
from smtp_logger.api.deps import Account, State
from smtp_logger.api.problems import ApiProblem
from smtp_logger.api.schemas import Change, DecisionOut, Engagement, Feed, Held, Page, Released
from smtp_logger.store import api_reads, events, queries
from smtp_logger.store.blobstore import CHUNK

router = APIRouter(prefix="/v1")
Id = Annotated[int, Path(ge=1, le=pages.MAX_ID)]
EmailPath = Annotated[str, Path(min_length=3, max_length=320, json_schema_extra={"format": "email"})]


def engagement_out(item: dict) -> dict:
    return dict(item, sent_at=pages.utc(item["sent_at"]))


@router.get("/contacts/{email}/timeline", response_model=Page[Engagement], tags=["read"],
            summary="A contact's engagements, newest first (as `timeline --json`)")
def timeline(email: EmailPath, account: Account, api: State, limit: pages.Limit = 50,
             cursor: pages.CursorParam = None):
    before = pages.decode("timeline", cursor, times=(0,))
    with api.unit() as session:
        rows = queries.timeline(session, account, email.strip().lower(), before, limit + 1)
    items, next_cursor = pages.page(rows, limit, lambda e: pages.encode("timeline", e["sent_at"], e["id"]))
    return {"items": [engagement_out(e) for e in items], "next_cursor": next_cursor}


@router.get("/engagements/{engagement_id}", response_model=Engagement, tags=["read"],
            summary="One engagement with its attachments' metadata")
def engagement(engagement_id: Id, account: Account, api: State):
    with api.unit() as session:
        return engagement_out(queries.engagement_of(session, account, engagement_id))


@router.get("/engagements", response_model=Feed, tags=["read"],
            summary="Change feed: engagements written, updated or deleted after the cursor, in commit order")
def changes(account: Account, api: State, since: pages.CursorParam = None, cursor: pages.CursorParam = None,
            limit: pages.Limit = 100):
    after = pages.decode("feed", since or cursor)
    after_id = after[0] if after else 0
    kinds = {events.ENGAGEMENT_LOGGED: "written", events.ENGAGEMENT_UPDATED: "updated",
             events.ENGAGEMENT_DELETED: "deleted"}
    with api.unit() as session:
        found = events.events_after(session, account, after_id, limit, events.FEED_TYPES)
        items = []
        for event in found:
            engagement_id = event.data["engagement_id"]
            current = api_reads.engagement_or_none(session, account, engagement_id)
            items.append(Change(change=kinds[event.type], engagement_id=engagement_id,
                                at=events.utc_iso(event.created_at),
                                engagement=engagement_out(current) if current else None))
    last = found[-1].id if found else after_id
    return {"items": items, "next_cursor": pages.encode("feed", last) if last else None}


@router.get("/attachments/{attachment_id}/content", tags=["read"],
            summary="An attachment's file, when an engagement of this account references it",
            response_class=Response,
            responses={200: {"description": "The file", "content": {"*/*": {"schema": {"type": "string",
                                                                                      "format": "binary"}}},
                             "headers": {"ETag": {"schema": {"type": "string"}, "description": "Its SHA-256"}}},
                       304: {"description": "Not modified (If-None-Match matched the ETag)"}})
def attachment_content(attachment_id: Id, account: Account, api: State, request: Request):
    with api.unit() as session:
        found = api_reads.stored_file(session, account, attachment_id)
    etag = f'"{found.sha256}"'
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers={"ETag": etag})
    try:
        stream = api.blobs.open(found.sha256)
    except FileNotFoundError:
        raise ApiProblem("not-found", f"the file of attachment {attachment_id} is no longer kept") from None
    return StreamingResponse(_chunks(stream), media_type=found.content_type, headers={
        "ETag": etag, "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox",
        "Content-Disposition": _disposition(found.filename)})


def _chunks(stream):
    """The blob a chunk at a time (never the whole file in memory), closed at the end."""
    with stream:
        while chunk := stream.read(CHUNK):
            yield chunk


def _disposition(filename: str) -> str:
    quoted = quote(filename, safe="")
    if quoted == filename:
        return f'attachment; filename="{filename}"'
    return f"attachment; filename*=utf-8''{quoted}"


@router.get("/decisions", response_model=Page[DecisionOut], tags=["read"],
            summary="Every decision taken for a Message-ID (as `why --json`)")
def decisions(account: Account, api: State,
              message_id: Annotated[str, Query(min_length=1, max_length=998)]):
    with api.unit() as session:
        rows = queries.why(session, account, message_id)
    if not rows:
        raise ApiProblem("not-found", "no message with that Message-ID was received for this account")
    return {"items": [dict(r, decided_at=pages.utc(r["decided_at"])) for r in rows], "next_cursor": None}


@router.get("/held", response_model=Page[Held], tags=["read"],
            summary="Messages received and not (yet) logged, oldest first (as `held list --json`)")
def held(account: Account, api: State, limit: pages.Limit = 100, cursor: pages.CursorParam = None):
    after = pages.decode("held", cursor, times=(0,))
    with api.unit() as session:
        rows = queries.held(session, account, after, limit + 1)
    items, next_cursor = pages.page(rows, limit, lambda m: pages.encode("held", m["received_at"], m["id"]))
    return {"items": [dict(m, received_at=pages.utc(m["received_at"])) for m in items], "next_cursor": next_cursor}


@router.post("/held/{held_id}/release", response_model=Released, tags=["write"],
             summary="Decide a held message again now; logged when what held it no longer holds")
def release(held_id: Id, account: Account, api: State):
    with api.unit() as session:
        api_reads.held_message(session, account, held_id)
    api.pipeline.retry(held_id)
    with api.unit() as session:
        message = api_reads.held_message(session, account, held_id, any_status=True)
        engagement_id = api_reads.engagement_of_message(session, message.id)
    if message.status == "held":
        raise ApiProblem("not-releasable", f"still held: {message.reason}", reason=message.reason)
    return {"id": message.id, "status": message.status, "reason": message.reason, "engagement_id": engagement_id}
