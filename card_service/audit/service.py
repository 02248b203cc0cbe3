"""Append to the audit trail, search it, verify its chain.

Each event's hash is SHA-256 over the previous event's hash and the event's canonical JSON, so
editing, removing or reordering any row breaks every later hash. The table refuses UPDATE and
DELETE (triggers); ``verify`` catches what someone with raw file access might still do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from card_service.audit.models import AuditEvent, AuditHead
from card_service.audit.schemas import Actor, AuditEventOut, VerifyReport
from card_service.ledger.clock import now_ns

GENESIS = b"\x00" * 32
MAX_PAGE = 500


def _digest(prev: bytes, fields: Sequence[object]) -> bytes:
    body = json.dumps(list(fields), separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(prev + body).digest()


_FIELD_NAMES = (
    "position",
    "at",
    "actor_kind",
    "actor",
    "role",
    "action",
    "target",
    "outcome",
    "reason",
    "request_id",
)


def _fields(e: Any) -> list[object]:
    return [
        e.position,
        e.at,
        e.actor_kind,
        e.actor,
        e.role,
        e.action,
        e.target,
        e.outcome,
        e.reason,
        e.request_id,
    ]


def record(
    session: Session,
    actor: Actor,
    action: str,
    target: str,
    *,
    reason: str | None = None,
    outcome: str = "ok",
) -> AuditEvent:
    """Append one event in the caller's transaction (it commits or rolls back with the change)."""
    head = session.execute(
        select(AuditHead.position, AuditHead.hash).where(AuditHead.id == 1).with_for_update()
    ).one()
    event = AuditEvent(
        position=head.position + 1,
        at=now_ns(),
        actor_kind=actor.kind,
        actor=actor.id[:64],
        role=actor.role,
        action=action,
        target=target[:96],
        outcome=outcome,
        reason=reason[:256] if reason else None,
        request_id=actor.request_id,
        prev_hash=head.hash,
    )
    event.hash = _digest(head.hash, _fields(event))
    session.add(event)
    session.execute(
        update(AuditHead).where(AuditHead.id == 1).values(position=event.position, hash=event.hash)
    )
    session.flush()
    return event


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An event to append later with others (record_many); ``at`` is when it happened (ns)."""

    actor: Actor
    action: str
    target: str
    at: int
    reason: str | None = None
    outcome: str = "ok"


def chain_rows(position: int, prev: bytes, events: Sequence[PendingEvent]) -> list[dict[str, Any]]:
    """The rows of ``events`` chained after the head (``position``, ``prev``): what
    ``record_many`` inserts, and the service API's audit writer too (one row format)."""
    rows = []
    for e in events:
        position += 1
        row: dict[str, Any] = {
            "position": position,
            "at": e.at,
            "actor_kind": e.actor.kind,
            "actor": e.actor.id[:64],
            "role": e.actor.role,
            "action": e.action,
            "target": e.target[:96],
            "outcome": e.outcome,
            "reason": e.reason[:256] if e.reason else None,
            "request_id": e.actor.request_id,
            "prev_hash": prev,
        }
        row["hash"] = prev = _digest(prev, [row[k] for k in _FIELD_NAMES])
        rows.append(row)
    return rows


def record_many(session: Session, events: Sequence[PendingEvent]) -> int:
    """Append many events with one lock of the head and one insert (the service API's queries)."""
    if not events:
        return 0
    head = session.execute(
        select(AuditHead.position, AuditHead.hash).where(AuditHead.id == 1).with_for_update()
    ).one()
    rows = chain_rows(head.position, head.hash, events)
    position, prev = rows[-1]["position"], rows[-1]["hash"]
    session.execute(insert(AuditEvent), rows)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(position=position, hash=prev))
    return len(rows)


@dataclass(frozen=True)
class AuditQuery:
    actor: str | None = None
    action: str | None = None
    target: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_position: int | None = None
    limit: int = 100


def search(session: Session, q: AuditQuery) -> list[AuditEventOut]:
    """Newest first; page with ``before_position`` (the last position of the previous page)."""
    stmt = select(AuditEvent)
    if q.actor:
        stmt = stmt.where(AuditEvent.actor == q.actor)
    if q.action:
        stmt = stmt.where(AuditEvent.action == q.action)
    if q.target:
        stmt = stmt.where(AuditEvent.target == q.target)
    if q.outcome:
        stmt = stmt.where(AuditEvent.outcome == q.outcome)
    if q.since:
        stmt = stmt.where(AuditEvent.at >= int(q.since.timestamp() * 1e9))
    if q.until:
        stmt = stmt.where(AuditEvent.at < int(q.until.timestamp() * 1e9))
    if q.before_position:
        stmt = stmt.where(AuditEvent.position < q.before_position)
    stmt = stmt.order_by(AuditEvent.position.desc()).limit(max(1, min(q.limit, MAX_PAGE)))
    return [_out(e) for e in session.scalars(stmt)]


def events_about(session: Session, targets: Sequence[str]) -> list[AuditEventOut]:
    stmt = select(AuditEvent).where(AuditEvent.target.in_(targets)).order_by(AuditEvent.position)
    return [_out(e) for e in session.scalars(stmt)]


def _out(e: AuditEvent) -> AuditEventOut:
    return AuditEventOut(
        position=e.position,
        at=AuditEventOut.ns_to_dt(e.at),
        actor_kind=e.actor_kind,
        actor=e.actor,
        role=e.role,
        action=e.action,
        target=e.target,
        outcome=e.outcome,
        reason=e.reason,
        request_id=e.request_id,
    )


def verify(session: Session, chunk: int = 5000) -> VerifyReport:
    """Recompute the chain from the first event; the head row must match the last one."""
    prev, expected, count = GENESIS, 1, 0
    while True:
        table = AuditEvent.__table__
        rows = session.execute(
            select(table)
            .where(table.c.position >= expected)
            .order_by(table.c.position)
            .limit(chunk)
        ).all()
        for e in rows:
            if e.position != expected:
                return VerifyReport(
                    ok=False,
                    events=count,
                    first_bad_position=expected,
                    problem=f"event {expected} is missing",
                )
            if e.prev_hash != prev or e.hash != _digest(prev, _fields(e)):
                return VerifyReport(
                    ok=False,
                    events=count,
                    first_bad_position=e.position,
                    problem=f"event {e.position} does not match its hash",
                )
            prev, expected, count = e.hash, expected + 1, count + 1
        if len(rows) < chunk:
            break
    head = session.execute(select(AuditHead.position, AuditHead.hash)).one()
    if head.position != count or head.hash != prev:
        return VerifyReport(
            ok=False,
            events=count,
            first_bad_position=count + 1,
            problem="the chain head does not match the last event",
        )
    return VerifyReport(ok=True, events=count)
