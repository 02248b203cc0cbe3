"""The audit sink's writer (services_api/audit_writer.py) appends the same rows as the audit
module's own ``record_many``, so the tamper-evident chain stays whole whichever wrote a record."""

from __future__ import annotations

import threading

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from card_service.audit.models import AuditEvent
from card_service.audit.schemas import Actor
from card_service.audit.service import PendingEvent, record_many, verify
from card_service.db import transaction
from card_service.services_api.audit_sink import AuditSink
from card_service.services_api.audit_writer import AuditWriter
from card_service.services_api.errors import AuditUnavailable

FIELDS = ("actor_kind", "actor", "role", "action", "target", "outcome", "reason", "request_id")


def _events(n: int, tag: str) -> list[PendingEvent]:
    actor = Actor("service", "svc_" + "x" * 80, "service", f"req-{tag}")  # id longer than 64
    return [
        PendingEvent(actor, "services.quote", f"card:{tag}{i}" + "9" * 100, 1_700_000_000 + i,
                     f"purpose: test {tag}; bus.single" if i % 2 else None, "ok")
        for i in range(n)
    ]  # fmt: skip


def _rows(sessions: sessionmaker[Session], after: int) -> list[tuple[object, ...]]:
    with sessions() as s:
        found = s.scalars(
            select(AuditEvent).where(AuditEvent.position > after).order_by(AuditEvent.position)
        )
        return [(*(getattr(e, f) for f in FIELDS), e.at) for e in found]


def _head(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return int(s.scalar(text("SELECT position FROM audit_head WHERE id = 1")))


def test_the_writer_appends_what_record_many_would_and_the_chain_verifies(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    writer = AuditWriter(engine)
    try:
        start = _head(sessions)
        writer.write(_events(3, "a"))
        with transaction(sessions) as s:
            record_many(s, _events(2, "b"))
        writer.write(_events(16, "c"))
        writer.write([])
        written = _rows(sessions, start)
        assert _head(sessions) == start + 21
        start2 = _head(sessions)
        with transaction(sessions) as s:
            record_many(s, _events(3, "a") + _events(2, "b") + _events(16, "c"))
        assert written == _rows(sessions, start2)  # the same fields, truncated the same way
    finally:
        writer.close()
    with sessions() as s:
        report = verify(s)
    assert report.ok, report


def test_a_refused_group_leaves_nothing_and_the_next_one_is_written(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    pg = engine.dialect.name == "postgresql"
    refuse = (
        [
            "CREATE FUNCTION refuse_audit() RETURNS trigger AS "
            "$$ BEGIN RAISE EXCEPTION 'audit refused by test'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events "
            "FOR EACH ROW WHEN (NEW.target = 'card:refused') EXECUTE FUNCTION refuse_audit()",
        ]
        if pg
        else [
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events "
            "WHEN NEW.target = 'card:refused' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        ]
    )
    with engine.begin() as conn:
        for sql in refuse:
            conn.execute(text(sql))
    actor = Actor("service", "svc_t", "service", "r1")
    sink = AuditSink(engine, wait_s=5.0)
    try:
        start = _head(sessions)
        ok = PendingEvent(actor, "services.quote", "card:fine", 1, "purpose: x", "ok")
        bad = PendingEvent(actor, "services.quote", "card:refused", 2, "purpose: x", "ok")
        writer = AuditWriter(engine)
        try:
            try:
                writer.write([ok, bad])
                raise AssertionError("the refused group was written")
            except Exception as exc:  # the driver's own error
                assert "refused" in str(exc)
            assert _head(sessions) == start and _rows(sessions, start) == []
            writer.write([ok])
        finally:
            writer.close()
        assert _head(sessions) == start + 1
        # Through the sink: the waiting question is told, and nothing is half-written.
        failed: list[BaseException] = []

        def ask() -> None:
            try:
                sink.record(bad)
            except AuditUnavailable as exc:
                failed.append(exc)

        t = threading.Thread(target=ask)
        t.start()
        t.join(10)
        assert len(failed) == 1 and _head(sessions) == start + 1
        sink.record(ok)
        assert _head(sessions) == start + 2
    finally:
        sink.close()
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER refuse_audit" + (" ON audit_events" if pg else "")))
            if pg:
                conn.execute(text("DROP FUNCTION refuse_audit()"))
    with sessions() as s:
        assert verify(s).ok
