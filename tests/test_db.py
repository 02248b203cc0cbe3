"""The engines' SQLite connection knows when its transaction has written, and its sibling reads
what it would read until then (the ledger relies on both: see ledger/store_sqlite.py)."""

from __future__ import annotations

from sqlalchemy import text

from card_service.db import (
    SQLiteConnection,
    make_engine,
    make_read_sessionmaker,
    make_sessionmaker,
    transaction,
)


def _dbapi(session) -> SQLiteConnection:  # type: ignore[no-untyped-def]
    conn = session.connection().connection.driver_connection
    assert isinstance(conn, SQLiteConnection)
    return conn


def test_a_write_transaction_is_unwritten_until_it_changes_a_row(sqlite_url):
    engine = make_engine(sqlite_url)
    with transaction(make_sessionmaker(engine)) as s:
        s.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
        s.execute(text("INSERT INTO t VALUES (1)"))
    with transaction(make_sessionmaker(engine)) as s:
        conn = _dbapi(s)
        assert conn.unwritten()
        # The sibling reads the committed rows, which are all this transaction sees.
        assert conn.sibling().execute("SELECT x FROM t").fetchall() == [(1,)]
        s.execute(text("INSERT INTO t VALUES (2)"))
        assert not conn.unwritten()
        assert conn.sibling().execute("SELECT count(*) FROM t").fetchone() == (1,)
    with transaction(make_read_sessionmaker(engine)) as s:
        assert not _dbapi(s).unwritten()  # a read transaction holds no write lock
    engine.dispose()


def test_an_in_memory_database_has_no_sibling_to_read_on():
    engine = make_engine("sqlite://")
    with transaction(make_sessionmaker(engine)) as s:
        s.execute(text("SELECT 1"))
        assert not _dbapi(s).unwritten()
    engine.dispose()
