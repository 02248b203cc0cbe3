"""Run Alembic migrations from code (the CLI, the tests and make run use this)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent


def alembic_config() -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    return cfg


def upgrade(url: str | None = None) -> None:
    """Migrate ``url``, or the configured database (CARD_SERVICE_DATABASE_URL) when None."""
    cfg = alembic_config()
    if url:
        from card_service.db import make_engine

        engine = make_engine(url)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        engine.dispose()
    else:
        command.upgrade(cfg, "head")
