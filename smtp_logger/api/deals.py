"""Deals, the twins of `deals add`, `deals list` and `deals set-stage`: the same store functions,
scoped to the key's account (another account's deal answers 404 like one that does not exist;
so does a contact or owner that is not the account's). A deal carries its record addresses."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from smtp_logger.api import pages
from smtp_logger.api.deps import Account, State
from smtp_logger.api.problems import ApiProblem
from smtp_logger.api.schemas import Deal, DealIn, DealPatch, Email, Page
from smtp_logger.store import deals

router = APIRouter(prefix="/v1")
DealId = Annotated[int, Path(ge=1, le=pages.MAX_ID)]


def deal_out(item: dict) -> dict:
    return dict(item, created_at=pages.utc(item["created_at"]), updated_at=pages.utc(item["updated_at"]))


@router.get("/deals", response_model=Page[Deal], tags=["deals"],
            summary="The account's deals by id, or one contact's (as `deals list`)")
def list_deals(account: Account, api: State, limit: pages.Limit = 100, cursor: pages.CursorParam = None,
               contact: Annotated[Email | None, Query(description="Only this contact's deals")] = None):
    after = pages.decode("deals", cursor)
    with api.unit() as session:
        found = deals.deals_of(session, account, contact, after[0] if after else 0, limit + 1)
        items, next_cursor = pages.page(found, limit, lambda d: pages.encode("deals", d.id))
        return {"items": [deal_out(deals.deal_dict(session, d)) for d in items], "next_cursor": next_cursor}


@router.post("/deals", response_model=Deal, status_code=201, tags=["deals"],
             summary="Create an open deal of these contacts (as `deals add`)")
def add_deal(body: DealIn, account: Account, api: State):
    if not body.name.strip():
        raise ApiProblem("invalid-value", "a deal's name cannot be blank")
    with api.unit() as session:
        try:
            deal = deals.add_deal(session, account, body.name.strip(), body.contacts,
                                  body.company.lower() if body.company else None, body.owner)
        except ValueError as exc:
            raise ApiProblem("invalid-value", str(exc)[:200]) from exc
        return deal_out(deals.deal_dict(session, deal))


@router.get("/deals/{deal_id}", response_model=Deal, tags=["deals"], summary="One deal")
def get_deal(deal_id: DealId, account: Account, api: State):
    with api.unit() as session:
        return deal_out(deals.deal_dict(session, deals.get_deal(session, account, deal_id)))


@router.patch("/deals/{deal_id}", response_model=Deal, tags=["deals"],
              summary="Move a deal to open, won or lost (as `deals set-stage`)")
def set_stage(deal_id: DealId, body: DealPatch, account: Account, api: State):
    with api.unit() as session:
        return deal_out(deals.deal_dict(session, deals.set_stage(session, account, deal_id, body.stage)))
