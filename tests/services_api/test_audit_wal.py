"""SQLite's side of the audit sink (services_api/audit_wal.py): the worker processes' writers take
turns on a lock file, the writer's commits leave WAL checkpoints to a thread of their own, and
the records still reach the database file and verify."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from card_service.audit.models import AuditEvent
from card_service.audit.schemas import Actor
from card_service.audit.service import PendingEvent, verify
from card_service.db import make_engine
from card_service.services_api.audit_sink import AuditSink
from card_service.services_api.audit_wal import Checkpointer, WriterTurn, database_file
from card_service.services_api.audit_writer import AuditWriter


def _events(n: int, tag: str) -> list[PendingEvent]:
    actor = Actor("service", "svc_wal", "service", f"req-{tag}")
    return [
        PendingEvent(actor, "services.quote", f"card:{tag}{i}", 1_700_000_000 + i, "p", "ok")
        for i in range(n)
    ]


def _in_database_file(path: Path, tag: str) -> int:
    """Records of ``tag`` in the database file itself, ignoring the WAL (immutable=1)."""
    with sqlite3.connect(f"file:{path}?immutable=1", uri=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM audit_events WHERE target LIKE ?", (f"card:{tag}%",)
        ).fetchone()
        return int(row[0])


def test_a_second_writer_waits_for_the_first_ones_turn(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    first, second = WriterTurn(engine), WriterTurn(engine)  # as two worker processes would
    assert first.path is not None and first.path.name.endswith("-audit.lock")
    entered = threading.Event()

    def other() -> None:
        with second:
            entered.set()

    try:
        with first:
            t = threading.Thread(target=other)
            t.start()
            assert not entered.wait(0.3)  # the other writer waits while the first holds it
        assert entered.wait(5)  # and goes as soon as it is let go
        t.join(5)
    finally:
        first.close()
        second.close()
        engine.dispose()


def test_postgresql_and_memory_databases_take_no_turn() -> None:
    memory = make_engine("sqlite://")
    try:
        assert database_file(memory) is None
        turn = WriterTurn(memory)
        with turn:  # nothing to hold
            pass
        assert turn.path is None
    finally:
        memory.dispose()


def test_the_writer_leaves_checkpoints_to_the_checkpointer(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    path = database_file(engine)
    assert path is not None
    writer, checkpointer = AuditWriter(engine), Checkpointer(engine, every_s=0.01)
    try:
        for i in range(300):  # well past SQLite's 1,000-page automatic checkpoint
            writer.write(_events(10, f"w{i}-"))
        assert _in_database_file(path, "w") == 0  # committed, in the WAL only
        checkpointer.committed()
        deadline = time.monotonic() + 10
        while _in_database_file(path, "w") < 3000 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _in_database_file(path, "w") == 3000
        assert checkpointer.checkpoints >= 1
    finally:
        checkpointer.close()
        writer.close()
    with engine.connect() as conn:  # the connection went back to the pool as SQLite has it
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    engine.dispose()


def test_the_sink_commits_every_record_and_the_chain_verifies(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    """Many questions at once from several threads (both databases): each returns only once its
    record is committed, every one is there once, and the chain verifies."""
    sink = AuditSink(engine, wait_s=10.0, linger_s=0.001)
    with sessions() as s:
        before = s.scalar(select(func.count()).select_from(AuditEvent)) or 0
    failed: list[BaseException] = []

    def ask(k: int) -> None:
        try:
            for event in _events(25, f"t{k}-"):
                sink.record(event)
                with engine.connect() as conn:  # committed before record() returned
                    found = conn.execute(
                        text("SELECT count(*) FROM audit_events WHERE target = :t"),
                        {"t": event.target},
                    ).scalar()
                    assert found == 1
        except BaseException as exc:
            failed.append(exc)

    threads = [threading.Thread(target=ask, args=(k,)) for k in range(4)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        sink.close()
    assert failed == []
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == before + 100
        assert verify(s).ok


def test_a_long_wal_is_started_over(sqlite_url: str) -> None:
    """The checkpointer starts a long WAL over (under steady commits a passive checkpoint alone
    never lets SQLite do it), and with a checkpoint after each commit the WAL stops growing."""
    engine = make_engine(sqlite_url)
    path = database_file(engine)
    assert path is not None
    wal = path.with_name(path.name + "-wal")
    writer, turn = AuditWriter(engine), WriterTurn(engine)
    checkpointer = Checkpointer(engine, every_s=0.01, restart_frames=200)
    try:
        for i in range(100):  # a long WAL: the writer's connection never checkpoints it itself
            writer.write(_events(10, f"r{i}-"))
        checkpointer.committed()
        deadline = time.monotonic() + 10
        while checkpointer.restarts == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert checkpointer.restarts >= 1
        size = wal.stat().st_size
        for i in range(300):  # three times as much: over the WAL's start, never past its end
            passes = checkpointer.checkpoints
            with turn:  # as the sink writes: never while the checkpointer starts the WAL over
                writer.write(_events(10, f"s{i}-"))
            checkpointer.committed()
            deadline = time.monotonic() + 10  # steady: each commit's checkpoint has its turn
            while checkpointer.checkpoints == passes and time.monotonic() < deadline:
                time.sleep(0.001)
        assert wal.stat().st_size <= size
        assert _in_database_file(path, "r") == 1000
    finally:
        checkpointer.close()
        turn.close()
        writer.close()
        engine.dispose()
