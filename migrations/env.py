"""Alembic environment: the database comes from CARD_SERVICE_DATABASE_URL (or -x url=...)."""

from __future__ import annotations

from typing import Any

from alembic import context

from card_service.all_models import Base
from card_service.config import get_settings
from card_service.db import make_engine

config = context.config
target_metadata = Base.metadata


def _include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Objects the models keep for one database only (``info={"dialects": (...)}``) are compared
    only on that database."""
    dialects = getattr(obj, "info", {}).get("dialects")
    return dialects is None or context.get_context().dialect.name in dialects


def _url() -> str:
    return context.get_x_argument(as_dictionary=True).get("url") or get_settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(
            connection=connectable,
            target_metadata=target_metadata,
            render_as_batch=True,
            include_object=_include,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url())
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            include_object=_include,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
