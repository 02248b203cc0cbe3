"""Engines and sessions for the two supported databases: SQLite (embedded) and PostgreSQL.

SQLite runs in WAL mode with ``synchronous=FULL`` so that a commit is durable, and every write
transaction starts with ``BEGIN IMMEDIATE`` so that writers queue instead of deadlocking.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from card_service.config import Settings, get_settings


class SQLiteConnection(sqlite3.Connection):
    """The engines' SQLite connection: it knows whether its write transaction has written yet,
    and has a sibling connection that, until it has, reads exactly what it would read.

    A transaction begun with BEGIN IMMEDIATE holds the database's one write lock, so nothing is
    committed meanwhile: another connection's read sees the same snapshot, as long as this
    transaction has changed nothing itself (``total_changes`` as at BEGIN). The ledger reads a
    batch's accounts and ids there while this connection writes the history index (see
    ledger/store_sqlite.py). ``total_changes`` counts rows, not schema changes: a transaction
    that created or altered a table it then reads must not rely on ``unwritten()``.
    """

    _begun_changes = -1
    _sibling: sqlite3.Connection | None = None
    _path: str | None = None

    def began(self, writing: bool) -> None:
        """Called right after the engine's BEGIN: IMMEDIATE (writing) or deferred."""
        self._begun_changes = self.total_changes if writing else -1

    def unwritten(self) -> bool:
        """In a write transaction begun by the engine (BEGIN IMMEDIATE) that has changed nothing
        yet; False for an in-memory database, which has no file to open twice."""
        return (
            self.in_transaction
            and self.total_changes == self._begun_changes
            and self._file() is not None
        )

    def sibling(self) -> sqlite3.Connection:
        """A second connection to the same file, opened once, for reads only (autocommit: the
        caller brackets its reads with BEGIN and COMMIT)."""
        if self._sibling is None:
            self._sibling = sqlite3.connect(
                self._file() or "", isolation_level=None, check_same_thread=False
            )
            self._sibling.execute("PRAGMA busy_timeout=30000")
            self._sibling.execute("PRAGMA cache_size=-65536")
        return self._sibling

    def _file(self) -> str | None:
        if self._path is None:
            self._path = str(self.execute("PRAGMA database_list").fetchone()[2] or "")
        return self._path or None

    def close(self) -> None:
        sibling, self._sibling = self._sibling, None
        if sibling is not None:
            sibling.close()
        super().close()


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy's transaction control emit BEGIN itself (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # 64 MiB of page cache (the default is 2 MiB): the ledger's indexes stay in memory.
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # Read-only sessions (make_read_sessionmaker) begin deferred: WAL readers take no write lock.
    deferred = conn.get_execution_options().get("sqlite_deferred", False)
    conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")
    dbapi = conn.connection.driver_connection
    if isinstance(dbapi, SQLiteConnection):
        dbapi.began(writing=not deferred)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url``; SQLite files get their folder created."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"factory": SQLiteConnection, **kwargs.get("connect_args", {})}
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs.setdefault("pool_size", 16)
    kwargs.setdefault("max_overflow", 16)
    # No pre-ping: it costs a round trip per request. A connection the server dropped fails its
    # one request and the pool replaces it; clients retry with the same ids.
    return create_engine(parsed, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


def make_read_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that only read: on SQLite they neither wait for nor block a writer."""
    return sessionmaker(
        bind=engine.execution_options(sqlite_deferred=True),
        expire_on_commit=False,
        autoflush=False,
    )


def configured_sessions(settings: Settings | None = None) -> sessionmaker[Session]:
    """Sessions on the configured database (CARD_SERVICE_DATABASE_URL): what CLI commands use."""
    return make_sessionmaker(make_engine((settings or get_settings()).database_url))


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
