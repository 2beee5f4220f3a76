"""What a CRM changes: users and their addresses, contacts (each change may log held mail
retroactively, exactly as `contacts add`, `add-email` and `merge` do: the same store function,
then the pipeline's contacts_changed after the commit), never-log lists and account settings.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from smtp_logger.api import pages
from smtp_logger.api.deps import Account, ApiState, State
from smtp_logger.api.problems import ApiProblem
from smtp_logger.api.schemas import (
    AccountOut,
    AccountPatch,
    AliasIn,
    BatchIn,
    BatchOut,
    Contact,
    ContactIn,
    Email,
    EmailIn,
    MergeIn,
    NeverLogIn,
    NeverLogOut,
    Page,
    Purged,
    User,
    UserIn,
)
from smtp_logger.store import accounts, contacts, privacy, queries, upserts

router = APIRouter(prefix="/v1")
EmailPath = Annotated[str, Path(min_length=3, max_length=320, json_schema_extra={"format": "email"})]
EntryPath = Annotated[str, Path(min_length=1, max_length=320)]


def _address(value: str) -> str:
    try:
        return EmailIn(email=value).email
    except ValueError as exc:
        raise ApiProblem("not-found", f"no such address: {value[:80]!r}") from exc


# -- users ----------------------------------------------------------------------------------

@router.post("/users", response_model=User, status_code=201, tags=["users"],
             summary="Create a user (as `users add`): their BCC and forwarding addresses")
def add_user(body: UserIn, account: Account, api: State):
    with api.unit() as session:
        user = accounts.add_user(session, account, body.email, body.name, body.aliases, api.settings)
        return queries.user_dict(session, user)


@router.get("/users", response_model=Page[User], tags=["users"], summary="The account's users (as `users list`)")
def list_users(account: Account, api: State, limit: pages.Limit = 100, cursor: pages.CursorParam = None):
    after = pages.decode("users", cursor)
    with api.unit() as session:
        found = [u for u in accounts.users_of(session, account) if after is None or u.id > after[0]][:limit + 1]
        items, next_cursor = pages.page(found, limit, lambda u: pages.encode("users", u.id))
        return {"items": [queries.user_dict(session, u) for u in items], "next_cursor": next_cursor}


@router.post("/users/{email}/rotate", response_model=User, tags=["users"],
             summary="New tokens for both logging addresses; the old ones stop working (as `users rotate`)")
def rotate(email: EmailPath, account: Account, api: State):
    with api.unit() as session:
        user = accounts.find_user(session, account, _address(email))
        accounts.rotate(session, user, api.settings)
        return queries.user_dict(session, user)


@router.post("/users/{email}/aliases", response_model=User, tags=["users"],
             summary="Add a verified sending address (as `users add-alias`)")
def add_alias(email: EmailPath, body: AliasIn, account: Account, api: State):
    with api.unit() as session:
        user = accounts.find_user(session, account, _address(email))
        accounts.add_alias(session, user, body.alias)
        return queries.user_dict(session, user)


# -- contacts -------------------------------------------------------------------------------

def _logged_and_shown(api: ApiState, account: int, shown: str, addresses: set[str], names: set[str]) -> dict:
    """After a contact change committed: log the held mail it unblocks, then show the contact."""
    logged = api.pipeline.contacts_changed(account, addresses, names)
    with api.unit() as session:
        return dict(queries.contact_dict(session, account, shown), retroactively_logged=logged)


@router.post("/contacts", response_model=Contact, status_code=201, tags=["contacts"],
             summary="Create a contact (as `contacts add`); held mail from it is logged")
def add_contact(body: ContactIn, account: Account, api: State):
    with api.unit() as session:
        contacts.add_contact(session, account, body.email, body.name, body.emails)
    return _logged_and_shown(api, account, body.email, {body.email, *body.emails}, {body.name} if body.name else set())


@router.post("/contacts:batch", response_model=BatchOut, tags=["contacts"],
             summary="Upsert up to 1,000 contacts; the held mail they unblock is logged in one pass")
def batch(body: BatchIn, account: Account, api: State):
    with api.unit() as session:
        results = upserts.upsert_many(session, account, [(c.email, c.name, c.emails) for c in body.contacts])
    addresses = set().union(*(r.addresses for r in results))
    names = set().union(*(r.names for r in results))
    logged = api.pipeline.contacts_changed(account, addresses, names) if addresses or names else 0
    return {"results": [{"email": r.email, "status": r.status, "id": r.contact_id, "error": r.error}
                        for r in results], "retroactively_logged": logged}


@router.post("/contacts/{email}/emails", response_model=Contact, tags=["contacts"],
             summary="Add an address to a contact (as `contacts add-email`); may log held mail")
def add_email(email: EmailPath, body: EmailIn, account: Account, api: State):
    with api.unit() as session:
        contacts.add_email(session, account, _address(email), body.email)
    return _logged_and_shown(api, account, body.email, {body.email}, set())


@router.post("/contacts/merge", response_model=Contact, tags=["contacts"],
             summary="Merge OTHER into KEEP, timelines included (as `contacts merge`); may log held mail")
def merge(body: MergeIn, account: Account, api: State):
    with api.unit() as session:
        keep = contacts.merge(session, account, body.keep, body.other)
        addresses = set(contacts.contact_emails(session, keep.id))
        names = {keep.name} if keep.name else set()
    return _logged_and_shown(api, account, body.keep, addresses, names)


# -- never-log ------------------------------------------------------------------------------

def _entry(value: str) -> str:
    try:
        return contacts.never_log_value(value)
    except ValueError as exc:
        raise ApiProblem("invalid-request", str(exc)[:200]) from exc


def _user_id(session, account: int, email: str | None) -> int | None:
    return accounts.find_user(session, account, email).id if email else None


@router.post("/never-log", response_model=NeverLogOut, status_code=201, tags=["never-log"],
             summary="Never log an address or domain, account-wide or for one user (as `never-log add`)")
def never_log_add(body: NeverLogIn, account: Account, api: State):
    value = _entry(body.value)
    with api.unit() as session:
        contacts.add_never_log(session, account, value, _user_id(session, account, body.user))
    return {"value": value, "user": body.user}


@router.delete("/never-log/{entry}", status_code=204, response_class=Response, tags=["never-log"],
               summary="Take an address or domain off a never-log list")
def never_log_remove(entry: EntryPath, account: Account, api: State,
                     user: Annotated[Email | None, Query(description="The user's personal list")] = None):
    value = _entry(entry)
    with api.unit() as session:
        contacts.remove_never_log(session, account, value, _user_id(session, account, user))
    return Response(status_code=204)


@router.post("/never-log/{entry}/purge", response_model=Purged, tags=["never-log"],
             summary="Delete everything already logged for an address or domain (as `never-log purge --yes`)")
def never_log_purge(entry: EntryPath, account: Account, api: State):
    value = _entry(entry)
    with api.unit() as session:
        count = privacy.purge_engagements(session, privacy.engagements_for(session, account, value), api.blobs,
                                          api.settings.blob_grace_seconds)
    return {"value": value, "deleted": count}


# -- account --------------------------------------------------------------------------------

@router.get("/account", response_model=AccountOut, tags=["account"], summary="Account settings (as `account show`)")
def account_show(account: Account, api: State):
    with api.unit() as session:
        return queries.account_dict(accounts.get_account(session, account))


@router.patch("/account", response_model=AccountOut, tags=["account"],
              summary="Change account settings (as `account set`)")
def account_set(body: AccountPatch, account: Account, api: State):
    with api.unit() as session:
        changed = accounts.set_options(accounts.get_account(session, account), body.name, body.create_contacts,
                                       body.log_all_from_contacts, body.language, body.deal_links,
                                       body.deal_links_max)
        return queries.account_dict(changed)
