"""Request-scoped dependencies: one request is one database transaction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session


def db_session(request: Request) -> Iterator[Session]:
    """Open the request's transaction; commit when the endpoint returns, roll back on error."""
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": commit before the response is sent. FastAPI's default for a dependency with
# yield ends it after the response, so a client could be told 201 before the commit (and
# act on it in a next request that does not see it yet), or be told 201 for a failed commit.
DbSession = Annotated[Session, Depends(db_session, scope="function")]
