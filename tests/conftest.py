"""Shared fixtures: real databases (SQLite files and PostgreSQL on 127.0.0.1:5432).

Each test gets a fresh, migrated database: SQLite by copying a migrated template file, PostgreSQL
by ``CREATE DATABASE ... TEMPLATE`` from a template migrated once per test worker. A component the
machine lacks makes its tests skip with a message; under CI=true that skip is a failure instead.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from card_service.db import make_engine, make_sessionmaker
from card_service.migrate import upgrade

PG_ADMIN_URL = os.environ.get("CARD_SERVICE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def require(ok: bool, reason: str) -> None:
    """Skip when a component is missing; under CI=true, fail instead."""
    if ok:
        return
    if IN_CI:
        pytest.fail(f"CI=true and a required component is missing: {reason}", pytrace=False)
    pytest.skip(reason)


def _pg_admin() -> object | None:
    try:
        import psycopg

        return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except Exception:
        return None


def _pg_url(name: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def pg_template(worker_id: str) -> Iterator[str | None]:
    conn = _pg_admin()
    if conn is None:
        yield None
        return
    name = f"cs_tpl_{os.getpid()}_{worker_id}"
    conn.execute(f'DROP DATABASE IF EXISTS "{name}"')  # type: ignore[attr-defined]
    conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[attr-defined]
    upgrade(_pg_url(name))
    yield name
    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]
    conn.close()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def pg_url(pg_template: str | None) -> Iterator[str]:
    require(pg_template is not None, f"no PostgreSQL server answers at {PG_ADMIN_URL}")
    conn = _pg_admin()
    name = f"cs_t_{uuid.uuid4().hex[:12]}"
    conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')  # type: ignore[union-attr]
    yield _pg_url(name)
    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[union-attr]
    conn.close()  # type: ignore[union-attr]


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "card_service.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh migrated database on each backend in turn."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture(scope="session")
def worker_id(request: pytest.FixtureRequest) -> str:
    return str(getattr(request.config, "workerinput", {}).get("workerid", "main"))
