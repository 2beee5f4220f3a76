"""What every request needs: the app's shared state (settings, sessions, the pipeline that logs
held mail retroactively), the account its Bearer key belongs to, and a unit of work (one
session, committed when the handler is done, rolled back on any error). A key finds only its
own account; a missing, unknown or revoked key answers 401 before anything is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from smtp_logger.api.problems import ApiProblem
from smtp_logger.intake.spool import Spool
from smtp_logger.run.pipeline import Pipeline
from smtp_logger.store import api_keys
from smtp_logger.store.blobstore import BlobStore, open_store
from smtp_logger.store.db import session_factory


@dataclass
class ApiState:
    settings: object
    sessions: sessionmaker[Session]
    pipeline: Pipeline
    blobs: BlobStore
    resolve: object  # hostname -> addresses, for the webhook URL guard (socket.getaddrinfo by default)

    @classmethod
    def build(cls, settings, resolve) -> "ApiState":
        sessions = session_factory(settings.db_url)
        blobs = open_store(settings, sessions)
        return cls(settings, sessions, Pipeline(settings, sessions, Spool(settings.data_path), blobs), blobs, resolve)

    @contextmanager
    def unit(self) -> Iterator[Session]:
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise


def state(request: Request) -> ApiState:
    return request.app.state.api


_bearer = HTTPBearer(auto_error=False, description="An API key from `smtp-logger api-keys create`")


def account_id(request: Request,
               credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> int:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiProblem("unauthorized", "no Bearer API key")
    with state(request).sessions() as session:
        found = api_keys.account_for(session, credentials.credentials)
    if found is None:
        raise ApiProblem("unauthorized", "unknown or revoked API key")
    request.state.account_id = found
    return found


Account = Annotated[int, Depends(account_id)]
State = Annotated[ApiState, Depends(state)]
